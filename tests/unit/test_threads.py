"""one_thread() limits torch and NumPy's BLAS inside, from any number of threads, and always restores both."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from threadpoolctl import threadpool_info

from interest_tools.threads import one_thread


def _blas_threads() -> set[int]:
    return {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}


def test_one_thread_limits_inside_and_restores_after() -> None:
    torch.set_num_threads(2)
    before_blas = _blas_threads()
    with one_thread():
        assert torch.get_num_threads() == 1
        assert _blas_threads() == {1}
        with one_thread():  # re-entrant
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == 2
    assert _blas_threads() == before_blas


def test_one_thread_from_many_threads_restores_the_count() -> None:
    torch.set_num_threads(2)

    def work(i: int) -> float:
        with one_thread():
            return float((np.ones((64, 64)) @ np.full(64, i)).sum())

    with ThreadPoolExecutor(8) as pool:
        sums = list(pool.map(work, range(40)))
    assert sums == [64.0 * 64 * i for i in range(40)]
    assert torch.get_num_threads() == 2
