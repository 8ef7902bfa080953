"""Store maintenance behind :class:`~interest_tools.engine.Engine`: forgetting a user and compacting the files."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from interest_tools.store import InterestStore
from interest_tools.store import _state as state
from interest_tools.summaries import SummaryCache

if TYPE_CHECKING:
    from interest_tools.engine import Engine


def forget_user(engine: Engine, user_id: str) -> dict[str, int]:
    """Delete the user's events, windows, summaries, vectors, cached LLM outputs and feedback.

    Chroma keeps deleted vectors in its files until they are rewritten; :func:`compact` rebuilds the
    collections so nothing of the user remains on disk.

    Returns:
        How many events, windows and cached summaries were deleted.

    Raises:
        UnknownUserError: The user has no windows.
        StoreError: Another process is writing.
    """
    engine.check_user(user_id)
    with engine.lock, state.writer_lock(engine.root):
        n_windows = engine.store.forget_user(user_id)
        events = engine.dataset.events
        kept = events[events["user_id"] != user_id]
        summaries = engine.summaries[engine.summaries["user_id"] != user_id]
        state.write_frame(engine.root, state.EVENTS, kept)
        state.write_frame(engine.root, state.SUMMARIES, summaries)
        feedback = [r for r in state.read_jsonl(engine.root, state.FEEDBACK) if r.get("user_id") != user_id]
        state.rewrite_jsonl(engine.root, state.FEEDBACK, feedback)
        n_cached = SummaryCache(engine.root / state.LLM_CACHE).forget_user(user_id)
        prior = engine.build_state
        state.write_state(engine.root, prior.model_copy(update={
            "n_events": len(kept), "n_users": int(kept["user_id"].nunique()), "n_windows": len(summaries),
            "updated_at": state.now()}))  # fmt: skip
        engine.reset_cache()
    return {"events": len(events) - len(kept), "windows": n_windows, "cached_summaries": n_cached}


def compact(engine: Engine) -> dict[str, Any]:
    """Rewrite the embedded Chroma files so that deleted records (e.g. a forgotten user) leave no trace.

    Copies the live records of every collection into a fresh directory, swaps it in atomically and deletes
    the old files (see :mod:`interest_tools.store._compact`). Nothing is embedded again. Other processes
    reading the store should reopen it afterwards. A Chroma server (``chroma_url``) or an in-memory store is
    not compacted (``{"compacted": False, "reason": ...}``): a server rewrites its own files.

    Raises:
        StoreError: Another process is writing, or the copy failed (the old files are then kept).
    """
    from interest_tools.store import compact_directory

    with engine.lock, state.writer_lock(engine.root):
        if engine.settings.chroma_url:
            return {"compacted": False, "reason": f"the Chroma server at {engine.settings.chroma_url} owns its files"}
        current = engine._store
        if current is not None and not current.location.endswith("chroma"):
            return {"compacted": False, "reason": f"the store at {current.location} is not an embedded directory"}
        config = current.config if current is not None else None

        def release() -> None:
            if engine._store is not None:
                engine._store.close()
                engine._store = None

        report = compact_directory(engine.root / "chroma", release)
        if config is not None:
            engine._store = InterestStore.open(engine.embeddings, engine.settings, config)
        return report
