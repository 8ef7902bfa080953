"""The shared test harness: small data, fakes and store builders used across the unit, integration and
reliability suites (``from tests.harness.data import build_engine``).

- :mod:`tests.harness.data`: the three-user fixture log and catalog, and ``build_engine`` (fake embeddings,
  in-memory Chroma, tiny LSTM);
- :mod:`tests.harness.synth`: seeded synthetic users with planted or absent interest shifts;
- :mod:`tests.harness.stores`: persistent stores with fake embeddings, snapshots, a recording chat model and the
  forking zygote the crash tests kill.
"""
