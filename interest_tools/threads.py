"""Torch thread control for small requests on the serving path."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

_threads_lock = threading.Lock()
_threads_state = {"holders": 0, "saved": 0}


@contextmanager
def one_thread() -> Iterator[None]:
    """Run torch on one thread while inside (re-entrant across threads; the first entrant's count comes back).

    A one-user LSTM pass or a one-query encode is too small to gain from intra-op threads, and when the cores
    are busy the threads' barriers make it many times slower (an LSTM pass: p95 233 ms on two threads against
    6 ms on one, here under load). Batch work (training, bulk encoding) keeps every thread.
    """
    import torch  # here, so that importing this module stays cheap

    with _threads_lock:
        if _threads_state["holders"] == 0:
            _threads_state["saved"] = torch.get_num_threads()
            torch.set_num_threads(1)
        _threads_state["holders"] += 1
    try:
        yield
    finally:
        with _threads_lock:
            _threads_state["holders"] -= 1
            if _threads_state["holders"] == 0:
                torch.set_num_threads(_threads_state["saved"])
