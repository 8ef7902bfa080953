"""Seeing other processes' writes: reload when ``state.json`` moved; never call a store damaged for that.

Every write gives ``state.json`` a new generation; the engine compares that file's identity (one ``stat``) per
user-level call (:meth:`FreshnessMixin.ensure_fresh`) and, when it moved, drops its caches and reopens an
embedded Chroma directory, so no reader answers from stale data or for a forgotten user, nor keeps deleted Chroma
files open.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from interest_tools.errors import ChromaFailedError, StoreChangedError
from interest_tools.pipeline import Workspace
from interest_tools.store import InterestStore

T = TypeVar("T")


class FreshnessMixin:
    """Reload-on-write for :class:`~interest_tools.engine.Engine` (it provides the attributes declared here)."""

    workspace: Workspace
    lock: threading.RLock
    root: object
    #: Reload in ``check_user`` when another process wrote (the tools turn this off and reload under their
    #: read-write lock instead, so that no thread's open store is closed under it).
    auto_refresh: bool = True

    @property
    def store(self) -> InterestStore:
        """The Chroma store (the engine's)."""
        raise NotImplementedError

    def reset_cache(self) -> None:
        """Forget loaded data and models (the engine's)."""
        raise NotImplementedError

    def is_stale(self) -> bool:
        """Whether the store was written (by any process) since this engine loaded it: one ``stat`` call."""
        return self.workspace.is_stale()

    def refresh(self) -> None:
        """Drop loaded data and models and reopen an embedded Chroma directory, to see another process's writes.

        Closing Chroma also lets go of files a compaction deleted. Call it while no other thread is inside a
        call on this engine (the tools call it under their read-write lock).
        """
        with self.lock:
            self.workspace.release_embedded_store()
            self.reset_cache()

    def ensure_fresh(self) -> bool:
        """:meth:`refresh` when the store was written since it was loaded; True when it did."""
        if not self.is_stale():
            return False
        with self.lock:
            if not self.is_stale():
                return False
            self.refresh()
            return True

    def _read_store(self, read: Callable[[InterestStore], T]) -> T:
        """Run a read on the store; a Chroma failure after another process wrote is retried once, never 'damaged'.

        Raises:
            ChromaFailedError: Chroma failed and the store did not change since it was opened (damaged files).
            StoreChangedError: Chroma failed because another process is writing, or wrote, to the store.
        """
        try:
            return read(self.store)
        except ChromaFailedError as exc:
            if not self.is_stale() and not self.workspace.write_pending():
                raise  # nothing changed since the store was opened: its files are damaged
            if not self.auto_refresh:
                raise self._changed(exc) from exc
            self.refresh()
        try:
            return read(self.store)
        except ChromaFailedError as exc:
            if not self.is_stale() and not self.workspace.write_pending():
                raise
            raise self._changed(exc) from exc

    def _changed(self, exc: Exception) -> StoreChangedError:
        return StoreChangedError(
            f"the store at {self.root} changed while it was being read: another process is writing to it, or a "
            f"write was interrupted ({type(exc).__name__}). This does not mean its files are damaged. Fix: retry; "
            "if it persists, let the running write finish, or re-run an interrupted `interest-tools build` or "
            "`ingest` (Engine.health_check() lists an unfinished write)"
        )
