"""Store maintenance: forgetting a user and compacting the Chroma files."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from interest_tools.errors import UnknownUserError
from interest_tools.report import REPORTS, forget_reports
from interest_tools.store import state
from interest_tools.summaries import SummaryCache

if TYPE_CHECKING:
    from interest_tools.pipeline._workspace import Workspace


def forget_user(ws: Workspace, user_id: str) -> dict[str, int]:
    """Delete the user's events, windows, summaries, vectors, cached LLM outputs, feedback and reports.

    Chroma keeps deleted vectors in its files until they are rewritten; :func:`compact` rebuilds the
    collections so nothing of the user remains on disk. Reports are those ``interest_report`` wrote under
    ``<store>/reports`` (a ``report_dir`` elsewhere is cleared by the tool's own forget). The new generation of
    ``state.json`` makes every reader of the store drop the user at its next call.

    Returns:
        How many events, windows, cached summaries and report files were deleted.

    Raises:
        UnknownUserError: The user has no windows.
        StoreError: Another process is writing.
    """
    with ws.lock, state.writer_lock(ws.root):
        events = ws.dataset().events
        stored = ws.summaries()
        if not (events["user_id"] == user_id).any() and not (stored["user_id"] == user_id).any():
            raise UnknownUserError(user_id)
        mark = state.pending_write(ws.root) is None  # keep an interrupted build's or ingest's mark
        if mark:
            state.begin_write(ws.root, "forget")  # readers that fail mid-way are told a write is running
        n_windows = ws.store.forget_user(user_id)
        kept = events[events["user_id"] != user_id]
        summaries = stored[stored["user_id"] != user_id]
        state.write_frame(ws.root, state.EVENTS, kept)
        state.write_frame(ws.root, state.SUMMARIES, summaries)
        feedback = [r for r in state.read_jsonl(ws.root, state.FEEDBACK) if r.get("user_id") != user_id]
        state.rewrite_jsonl(ws.root, state.FEEDBACK, feedback)
        n_cached = SummaryCache(ws.root / state.LLM_CACHE).forget_user(user_id)
        n_reports = forget_reports(ws.root / REPORTS, user_id)
        prior = ws.build_state()
        state.write_state(ws.root, prior.model_copy(update={
            "n_events": len(kept), "n_users": int(kept["user_id"].nunique()), "n_windows": len(summaries),
            "updated_at": state.now()}))  # fmt: skip
        if mark:
            state.end_write(ws.root)
    return {"events": len(events) - len(kept), "windows": n_windows, "cached_summaries": n_cached, "reports": n_reports}


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
        tag = state.scratch_tag(ws.root)
        if tag is None:  # an empty directory: nothing to compact
            return {"compacted": False, "reason": f"nothing is stored at {ws.root}"}
        mark = state.pending_write(ws.root) is None  # keep an interrupted build's or ingest's mark
        if mark:
            state.begin_write(ws.root, "compact")  # readers that fail mid-way are told a write is running
        try:  # a failed copy leaves the old files in place: nothing is left unfinished
            # the handle closes before the swap and reopens, with the same collections, on next use
            report = compact_directory(ws.root / "chroma", ws.release_embedded_store, tag)
            if report["compacted"] and (ws.root / state.STATE).is_file():
                # a new generation: readers in other processes reopen Chroma and let go of the old files
                built = state.read_state(ws.root)
                state.write_state(ws.root, built.model_copy(update={"updated_at": state.now()}))
        finally:
            if mark:
                state.end_write(ws.root)
        return report
