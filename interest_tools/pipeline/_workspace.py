"""The narrow view of a store that the pipeline works on: its files, its models, its lock and its Chroma handle.

:class:`Workspace` is what build, ingest, forget, compact and the health report take instead of the
:class:`~interest_tools.engine.Engine`. It owns the open Chroma handle (opened on first use, closed and reopened
around a compaction) and reads the stored files fresh on every call: caching answers is the engine's business,
and the engine clears its caches after each pipeline call.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pandas as pd

from interest_tools.data import Dataset
from interest_tools.errors import NotBuiltError
from interest_tools.settings import Settings
from interest_tools.store import EmbeddingsLike, InterestStore, StoreConfig, state


class Workspace:
    """One store directory (and, in server mode, a Chroma server) with the models that write into it.

    Args:
        settings: Store location (path or Chroma URL) and model names.
        embeddings: The embedding model of the store's collections.
        chat_model: A LangChain chat model for LLM summaries, or None.
        store: An already-open :class:`InterestStore` (tests pass an in-memory one).
    """

    def __init__(
        self,
        settings: Settings,
        embeddings: EmbeddingsLike,
        chat_model: Any = None,
        store: InterestStore | None = None,
    ) -> None:
        self.settings = settings
        self.root = Path(settings.store_path)
        self.embeddings = embeddings
        self.chat_model = chat_model
        self.lock = threading.RLock()  # this process's threads; state.writer_lock guards against other processes
        self._store = store
        self._store_config: StoreConfig | None = None  # the collection names to reopen with
        self._stamp = state.stamp(self.root)  # the state.json generation the caller's loaded data belongs to

    # ------------------------------------------------------------------------------------ the Chroma handle

    @property
    def store(self) -> InterestStore:
        """The Chroma store, opened on first use."""
        with self.lock:
            if self._store is None:
                self._store = InterestStore.open(self.embeddings, self.settings, self._store_config)
            return self._store

    @property
    def open_store(self) -> InterestStore | None:
        """The Chroma store if it is open already, else None (never opens it)."""
        return self._store

    def release_embedded_store(self) -> None:
        """Close an embedded Chroma directory's handle (reopened with the same collections on next use).

        A reader does this after another process wrote: Chroma then reads the new files, and lets go of files a
        compaction deleted. A server or in-memory store is left open (nothing of it is stale on disk).
        """
        with self.lock:
            current = self._store
            if current is not None and not self.settings.chroma_url and current.location == str(self.root / "chroma"):
                self._store_config = current.config
                current.close()
                self._store = None

    # ------------------------------------------------------------------------------------ freshness

    def is_stale(self) -> bool:
        """Whether ``state.json`` moved (any process wrote) since :meth:`mark_fresh`: one ``stat`` call."""
        return state.stamp(self.root) != self._stamp

    def mark_fresh(self) -> None:
        """Record the current generation of ``state.json`` (call before reloading what depends on it)."""
        self._stamp = state.stamp(self.root)

    def write_pending(self) -> bool:
        """Whether a write (of any process) is running or was interrupted (``pending.json`` exists)."""
        return state.pending_write(self.root) is not None

    # ------------------------------------------------------------------------------------ stored files

    def _not_built(self, exc: NotBuiltError) -> NotBuiltError:
        """In server mode, say that the store directory is still needed (the server holds only the vectors)."""
        if not self.settings.chroma_url:
            return exc
        return NotBuiltError(
            f"{exc}. With a Chroma server ({self.settings.chroma_url}) the server holds only the vectors; the "
            "events, items, summaries, feedback, build state and forecaster stay in the store directory, so pass "
            "--store (env INTEREST_TOOLS_STORE_PATH) with the directory the build wrote (copy or share it on "
            "every host that serves from this Chroma server)"
        )

    def build_state(self) -> state.BuildState:
        """The last build's record (raises :class:`~interest_tools.errors.NotBuiltError` before any build)."""
        try:
            return state.read_state(self.root)
        except NotBuiltError as exc:
            raise self._not_built(exc) from None

    def _frame(self, name: str) -> pd.DataFrame:
        try:
            return state.read_frame(self.root, name)
        except NotBuiltError as exc:
            raise self._not_built(exc) from None

    def dataset(self) -> Dataset:
        """The stored canonical events and items."""
        events = self._frame(state.EVENTS)
        items = self._frame(state.ITEMS)
        items["categories"] = items["categories"].map(list)
        return Dataset(events=events, items=items, name=self.build_state().dataset)

    def summaries(self) -> pd.DataFrame:
        """All stored window summaries (one row per window)."""
        return self._frame(state.SUMMARIES)
