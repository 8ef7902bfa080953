"""The vector comparison of tests/harness/vectors.py accepts encoder rounding and catches real differences.

The Ray build test once saw 4.5e-4 per coordinate between two batchings of the same texts (OpenVINO); an
element-wise 1e-4 bound failed on that, while the cosine bound accepts it and still catches a vector of another
text, and the neighbour check does not fail on ties that rounding may break either way.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.harness.vectors import assert_same_vectors


def _unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=-1, keepdims=True)


@pytest.fixture
def vectors() -> np.ndarray:
    return _unit(np.random.default_rng(0).normal(size=(50, 384)))


def test_batching_noise_of_the_size_seen_passes(vectors: np.ndarray) -> None:
    noise = np.random.default_rng(1).uniform(-4.5e-4, 4.5e-4, size=vectors.shape)
    other = _unit(vectors + noise)
    assert float(np.abs(other - vectors).max()) > 1e-4  # the old element-wise bound would fail here
    assert_same_vectors(vectors, other, [f"t{i}" for i in range(50)])


def test_a_vector_of_another_text_fails(vectors: np.ndarray) -> None:
    other = vectors.copy()
    other[7] = vectors[8]
    with pytest.raises(AssertionError, match="t7: cosine"):
        assert_same_vectors(vectors, other, [f"t{i}" for i in range(50)])


def test_a_near_tie_may_swap_without_failing() -> None:
    e = np.eye(64)
    a = np.vstack([e[0], _unit(e[0] + e[1]), e[5], _unit(e[0] + 1.0001 * e[2]), e[3], e[4]])
    b = a.copy()
    b[3] = _unit(e[0] + 0.9999 * e[2])  # rows 1 and 3 are tied within rounding as neighbours of row 0
    assert int(np.argmax((a @ a[0])[1:])) != int(np.argmax((b @ b[0])[1:]))  # rounding breaks the tie both ways
    assert_same_vectors(a, b, [f"t{i}" for i in range(6)])  # a strict "identical neighbours" check would fail
