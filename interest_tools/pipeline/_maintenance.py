"""Store maintenance: forgetting a user and compacting the Chroma files."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from interest_tools.errors import UnknownUserError
from interest_tools.store import StoreConfig, state
from interest_tools.summaries import SummaryCache

if TYPE_CHECKING:
    from interest_tools.pipeline._workspace import Workspace


def forget_user(ws: Workspace, user_id: str) -> dict[str, int]:
    """Delete the user's events, windows, summaries, vectors, cached LLM outputs and feedback.

    Chroma keeps deleted vectors in its files until they are rewritten; :func:`compact` rebuilds the
    collections so nothing of the user remains on disk.

    Returns:
        How many events, windows and cached summaries were deleted.

    Raises:
        UnknownUserError: The user has no windows.
        StoreError: Another process is writing.
    """
    with ws.lock, state.writer_lock(ws.root):
        events = ws.dataset().events
        stored = ws.summaries()
        if not (events["user_id"] == user_id).any() and not (stored["user_id"] == user_id).any():
            raise UnknownUserError(user_id)
        n_windows = ws.store.forget_user(user_id)
        kept = events[events["user_id"] != user_id]
        summaries = stored[stored["user_id"] != user_id]
        state.write_frame(ws.root, state.EVENTS, kept)
        state.write_frame(ws.root, state.SUMMARIES, summaries)
        feedback = [r for r in state.read_jsonl(ws.root, state.FEEDBACK) if r.get("user_id") != user_id]
        state.rewrite_jsonl(ws.root, state.FEEDBACK, feedback)
        n_cached = SummaryCache(ws.root / state.LLM_CACHE).forget_user(user_id)
        prior = ws.build_state()
        state.write_state(ws.root, prior.model_copy(update={
            "n_events": len(kept), "n_users": int(kept["user_id"].nunique()), "n_windows": len(summaries),
            "updated_at": state.now()}))  # fmt: skip
    return {"events": len(events) - len(kept), "windows": n_windows, "cached_summaries": n_cached}


def compact(ws: Workspace) -> dict[str, Any]:
    """Rewrite the embedded Chroma files so that deleted records (e.g. a forgotten user) leave no trace.

    Copies the live records of every collection into a fresh directory, swaps it in atomically and deletes
    the old files (see :mod:`interest_tools.store._compact`). Nothing is embedded again. Other processes
    reading the store should reopen it afterwards. A Chroma server (``chroma_url``) or an in-memory store is
    not compacted (``{"compacted": False, "reason": ...}``): a server rewrites its own files.

    Raises:
        StoreError: Another process is writing, or the copy failed (the old files are then kept).
    """
    from interest_tools.store import compact_directory

    with ws.lock, state.writer_lock(ws.root):
        if ws.settings.chroma_url:
            return {"compacted": False, "reason": f"the Chroma server at {ws.settings.chroma_url} owns its files"}
        current = ws.open_store
        if current is not None and not current.location.endswith("chroma"):
            return {"compacted": False, "reason": f"the store at {current.location} is not an embedded directory"}
        config: list[StoreConfig | None] = []
        report = compact_directory(ws.root / "chroma", lambda: config.append(ws.close_store()))
        if config and config[0] is not None:
            ws.reopen_store(config[0])
        return report
