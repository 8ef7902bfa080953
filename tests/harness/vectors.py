"""Comparing embedding vectors of two runs of the same encoder by bounds that follow from the encoder.

A float32 transformer gives the same text slightly different vectors when the batch around it changes (other
padding lengths and matrix shapes pick other kernels and summation orders; OpenVINO and oneDNN choose kernels
per shape). Observed per-coordinate differences reach ~5e-4 (MiniLM, OpenVINO), so an element-wise bound is a
guess that a new machine can break. What does follow from the encoder:

* the same model on the same text is the same direction: cosine >= 0.9999 per vector, the bar every backend of
  this model meets against torch fp32 (tests/integration/test_embed_backends.py);
* nearest neighbours are then the same wherever the gap between the best and the second-best neighbour is wider
  than what the noise can close. With unit vectors moved by at most ``d`` (``d = max ||a_i - b_i||``), every
  similarity moves by at most ``2 d`` (``a_i.a_j - b_i.b_j = (a_i - b_i).a_j + b_i.(a_j - b_j)``), so a gap
  wider than ``4 d`` cannot swap; narrower gaps are ties within rounding and may. (So this check follows from
  the measured ``d`` and adds no flakiness; it states the promise search relies on, where a strict "identical
  neighbours" check would fail on ties.)
"""

from __future__ import annotations

import numpy as np

#: Cosine every vector of one run keeps with the same text's vector of another run (see the module doc).
MIN_COSINE = 0.9999


def assert_same_vectors(a: np.ndarray, b: np.ndarray, ids: list[str], what: str = "") -> None:
    """Assert two runs' unit vectors (rows in the same order, named by ``ids``) agree as the encoder allows."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, (what, a.shape, b.shape)
    cosine = (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    worst = int(np.argmin(cosine))
    assert cosine[worst] >= MIN_COSINE, f"{what} {ids[worst]}: cosine {cosine[worst]:.6f} < {MIN_COSINE}"
    if len(a) < 3:
        return
    d = float(np.linalg.norm(a - b, axis=1).max())
    sim_a, sim_b = a @ a.T, b @ b.T
    np.fill_diagonal(sim_a, -np.inf)
    np.fill_diagonal(sim_b, -np.inf)
    top2 = np.sort(sim_a, axis=1)[:, -2:]
    clear = top2[:, 1] - top2[:, 0] > 4 * d  # the best neighbour is ahead by more than the noise can close
    same = sim_a.argmax(axis=1) == sim_b.argmax(axis=1)
    bad = np.flatnonzero(clear & ~same)
    assert not len(bad), f"{what}: nearest neighbour differs for {[ids[i] for i in bad[:5]]} (noise bound {4 * d:.2e})"
