"""Training is reproducible: epochs and patience, never wall time, decide when it stops (issue 14, item 4)."""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd

from interest_tools.data import Dataset
from interest_tools.evaluate import run_eval
from interest_tools.forecast import ForecastConfig, train_forecaster
from interest_tools.windows import WindowConfig, compute_windows
from tests.unit.test_forecast import TINY, alternating_events, fake_vectors

SMALL = TINY.model_copy(update={"epochs": 6, "patience": 6, "num_threads": 2})


def _slice() -> tuple[pd.DataFrame, pd.DataFrame]:
    from tests.conftest import make_items

    return make_items(), alternating_events(n_users=6, months=8)


def test_default_budget_is_epochs_and_patience_not_wall_time() -> None:
    assert ForecastConfig().max_train_minutes is None


def test_a_slow_machine_trains_the_same_epochs(monkeypatch) -> None:
    """A clock that runs 10 minutes per reading (a loaded machine) changes nothing without an explicit cap."""
    import interest_tools.forecast._train as train_mod

    items, events = _slice()
    table = compute_windows(events, items, WindowConfig(every_n_events=1))
    cfg = SMALL.model_copy(update={"max_seq_len": 10})
    quiet = train_forecaster(table, items, fake_vectors(items), cfg)

    clock = iter(range(0, 10**9, 600))
    monkeypatch.setattr(train_mod.time, "monotonic", lambda: float(next(clock)))
    loaded = train_forecaster(table, items, fake_vectors(items), cfg)
    assert len(loaded.training_log) == len(quiet.training_log) == 6
    assert loaded.stop_reason == quiet.stop_reason == "epochs"
    np.testing.assert_array_equal(loaded.score_users(["a0", "a3"]), quiet.score_users(["a0", "a3"]))


def test_an_explicit_time_cap_is_reported(monkeypatch) -> None:
    import interest_tools.forecast._train as train_mod

    items, events = _slice()
    table = compute_windows(events, items, WindowConfig(every_n_events=1))
    clock = iter(range(0, 10**9, 600))
    monkeypatch.setattr(train_mod.time, "monotonic", lambda: float(next(clock)))
    model = train_forecaster(table, items, fake_vectors(items), SMALL.model_copy(update={"max_train_minutes": 5}))
    assert model.stop_reason == "time_cap" and len(model.training_log) == 1


def _busy(stop: threading.Event) -> None:
    x = np.random.default_rng(0).standard_normal((200, 200))
    while not stop.is_set():
        x = np.tanh(x @ x.T / 200)


def test_same_seed_same_metrics_with_or_without_load() -> None:
    """Eval on a slice twice, the second time with a busy thread beside it: identical metrics, not just close."""
    items, events = _slice()
    dataset = Dataset(name="slice", events=events, items=items)
    vectors = fake_vectors(items)
    cfg = SMALL.model_copy(update={"max_seq_len": 10, "train_stride": 4, "layer_norm": True, "dropout": 0.2})
    first = run_eval(dataset, "loo", item_vectors=vectors, models=("lstm", "pop"), config=cfg, seed=3)
    stop = threading.Event()
    busy = threading.Thread(target=_busy, args=(stop,), daemon=True)
    busy.start()
    try:
        second = run_eval(dataset, "loo", item_vectors=vectors, models=("lstm", "pop"), config=cfg, seed=3)
    finally:
        stop.set()
        busy.join()
    assert first["metrics"] == second["metrics"]
    assert first["metrics_unmasked"] == second["metrics_unmasked"]
    assert first["lstm_training"]["best_epoch"] == second["lstm_training"]["best_epoch"]
    assert first["lstm_training"]["stop_reason"] == "epochs" and not first["lstm_training"]["max_train_minutes_hit"]


def test_large_catalogs_train_with_sampled_softmax(monkeypatch) -> None:
    import interest_tools.forecast._train as train_mod

    made: list[int] = []
    real = train_mod.NegativeSampler

    class Spy(real):  # type: ignore[misc, valid-type]
        def __init__(self, counts, k, **kwargs) -> None:
            made.append(k)
            super().__init__(counts, k, **kwargs)

    monkeypatch.setattr(train_mod, "NegativeSampler", Spy)
    items, events = _slice()
    table = compute_windows(events, items, WindowConfig(every_n_events=1))
    cfg = SMALL.model_copy(update={"epochs": 1, "max_seq_len": 10})
    train_forecaster(table, items, fake_vectors(items), cfg)  # 12 items: full softmax
    train_forecaster(table, items, fake_vectors(items), cfg.model_copy(update={"full_softmax_max_items": 5}))
    train_forecaster(table, items, fake_vectors(items), cfg.model_copy(update={"negatives": 7}))
    assert made == [train_mod.AUTO_NEGATIVES, 7]


def test_serving_does_not_import_training() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from interest_tools.forecast import LSTMForecaster, load_checkpoint, Forecast\n"
        "import interest_tools.forecast._lstm, interest_tools.forecast._checkpoint\n"
        "assert 'interest_tools.forecast._train' not in sys.modules, 'training imported'\n"
        "from interest_tools.forecast import train_forecaster\n"
        "assert callable(train_forecaster)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
