"""Store maintenance behind :class:`~interest_tools.engine.Engine`: forgetting a user and compacting the files."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from interest_tools import state
from interest_tools.report_files import REPORTS, forget_reports
from interest_tools.store import InterestStore
from interest_tools.summarize import SummaryCache

if TYPE_CHECKING:
    from interest_tools.engine import Engine


def forget_user(engine: Engine, user_id: str) -> dict[str, int]:
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
    engine.check_user(user_id)
    with engine.lock, state.writer_lock(engine.root):
        engine.ensure_fresh()  # another process may have written since this engine loaded the store
        mark = state.pending_write(engine.root) is None  # keep an interrupted build's or ingest's mark
        if mark:
            state.begin_write(engine.root, "forget")  # readers that fail mid-way are told a write is running
        n_windows = engine.store.forget_user(user_id)
        events = engine.dataset.events
        kept = events[events["user_id"] != user_id]
        summaries = engine.summaries[engine.summaries["user_id"] != user_id]
        state.write_frame(engine.root, state.EVENTS, kept)
        state.write_frame(engine.root, state.SUMMARIES, summaries)
        feedback = [r for r in state.read_jsonl(engine.root, state.FEEDBACK) if r.get("user_id") != user_id]
        state.rewrite_jsonl(engine.root, state.FEEDBACK, feedback)
        n_cached = SummaryCache(engine.root / state.LLM_CACHE).forget_user(user_id)
        n_reports = forget_reports(engine.root / REPORTS, user_id)
        prior = engine.build_state
        state.write_state(engine.root, prior.model_copy(update={
            "n_events": len(kept), "n_users": int(kept["user_id"].nunique()), "n_windows": len(summaries),
            "updated_at": state.now()}))  # fmt: skip
        if mark:
            state.end_write(engine.root)
        engine.reset_cache()
    return {"events": len(events) - len(kept), "windows": n_windows, "cached_summaries": n_cached, "reports": n_reports}


def compact(engine: Engine) -> dict[str, Any]:
    """Rewrite the embedded Chroma files so that deleted records (e.g. a forgotten user) leave no trace.

    Copies the live records of every collection into a fresh directory, swaps it in atomically and deletes
    the old files (see :mod:`interest_tools.store.compact`). Nothing is embedded again. Other processes
    reading the store should reopen it afterwards. A Chroma server (``chroma_url``) or an in-memory store is
    not compacted (``{"compacted": False, "reason": ...}``): a server rewrites its own files.

    Raises:
        StoreError: Another process is writing, or the copy failed (the old files are then kept).
    """
    from interest_tools.store.compact import compact_directory

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

        tag = state.scratch_tag(engine.root)
        if tag is None:  # an empty directory: nothing to compact
            return {"compacted": False, "reason": f"nothing is stored at {engine.root}"}
        mark = state.pending_write(engine.root) is None  # keep an interrupted build's or ingest's mark
        if mark:
            state.begin_write(engine.root, "compact")  # readers that fail mid-way are told a write is running
        try:  # a failed copy leaves the old files in place: nothing is left unfinished
            report = compact_directory(engine.root / "chroma", release, tag)
            if config is not None:
                engine._store = InterestStore.open(engine.embeddings, engine.settings, config)
            if report["compacted"] and (engine.root / state.STATE).is_file():
                # a new generation: readers in other processes reopen Chroma and let go of the old files
                built = state.read_state(engine.root)
                state.write_state(engine.root, built.model_copy(update={"updated_at": state.now()}))
                engine.reset_cache()
        finally:
            if mark:
                state.end_write(engine.root)
        return report
