"""Thread control for small requests on the serving path: torch and the BLAS under NumPy."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_threads_lock = threading.Lock()
_threads_state: dict[str, Any] = {"holders": 0, "saved": 0, "blas": None}


def _blas_limit() -> Any:
    """Limit NumPy's BLAS to one thread; returns what restores it (threadpoolctl, found once)."""
    from threadpoolctl import ThreadpoolController

    controller = _threads_state.get("controller")
    if controller is None:
        controller = _threads_state["controller"] = ThreadpoolController()
    return controller.limit(limits=1, user_api="blas")


@contextmanager
def one_thread() -> Iterator[None]:
    """Run torch and NumPy's BLAS on one thread while inside (re-entrant across threads; counts come back after).

    A one-user LSTM pass or a one-query encode is too small to gain from intra-op threads, and when the cores
    are busy the threads' barriers make it many times slower (an LSTM pass: p95 233 ms on two threads against
    6 ms on one, here under load; a 9,742 x 384 item matvec: 6.0 ms against 2.3 ms). Batch work (training,
    bulk encoding) keeps every thread. The first thread in sets the limits and the last one out restores them.
    """
    import torch  # here, so that importing this module stays cheap

    with _threads_lock:
        if _threads_state["holders"] == 0:
            _threads_state["saved"] = torch.get_num_threads()
            _threads_state["blas"] = _blas_limit()  # before torch's: the BLAS may share torch's OpenMP setting
            torch.set_num_threads(1)
        _threads_state["holders"] += 1
    try:
        yield
    finally:
        with _threads_lock:
            _threads_state["holders"] -= 1
            if _threads_state["holders"] == 0:
                _threads_state["blas"].restore_original_limits()
                _threads_state["blas"] = None
                torch.set_num_threads(_threads_state["saved"])
