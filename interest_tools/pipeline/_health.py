"""The health report behind ``Engine.health_check()``: state files, checkpoint, Chroma files, counts.

Nothing here opens the embedded Chroma directory in this process: :mod:`interest_tools.store._health` reads its
files with plain Python and opens it in a child process, so that damage that crashes Chroma cannot crash the
caller.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from interest_tools.errors import CheckpointError, InterestToolsError, NotBuiltError, StoreError
from interest_tools.store import _backend as backend
from interest_tools.store import _health as health
from interest_tools.store import embeddings_name, state

if TYPE_CHECKING:
    from interest_tools.pipeline._workspace import Workspace


def _state_problems(ws: Workspace) -> tuple[state.BuildState | None, list[str]]:
    problems: list[str] = []
    built: state.BuildState | None = None
    try:
        built = state.read_state(ws.root)
    except (NotBuiltError, StoreError) as exc:
        problems.append(str(exc))
    pending = state.pending_write(ws.root)
    if pending:
        problems.append(
            f"a {pending.get('operation')} started at {pending.get('started_at')} (pid {pending.get('pid')}) did "
            "not finish. Fix: run the same command again; it resumes"
        )
    if built is None:
        return None, problems
    for name in (state.EVENTS, state.ITEMS, state.SUMMARIES):
        try:
            state.read_frame(ws.root, name)
        except (NotBuiltError, StoreError) as exc:
            problems.append(str(exc))
    if built.forecast_window is not None:
        from interest_tools.forecast import load_checkpoint

        try:
            load_checkpoint(ws.root / state.FORECASTER)
        except CheckpointError as exc:
            problems.append(f"{exc}. Fix: retrain with `interest-tools build` or `ingest --retrain`")
    return built, problems


def _chroma_problems(ws: Workspace, deep: bool, timeout_s: float) -> tuple[dict[str, int], list[str]]:
    if ws.settings.chroma_url is not None:
        try:
            return ws.store.counts(), []
        except InterestToolsError as exc:
            return {}, [str(exc)]
    chroma_dir = ws.root / "chroma"
    found = health.check_files(chroma_dir)
    problems = [f"{p}. {health.damaged_fix(chroma_dir)}" for p in found]
    counts: dict[str, int] = {}
    if not deep or found:
        return counts, problems
    checked = health.deep_check(chroma_dir, timeout_s)
    problems += [f"{p}. {health.damaged_fix(chroma_dir)}" for p in checked["problems"]]
    config = ws.open_store.config if ws.open_store is not None else None  # the names of its collections
    names = {"items": config.items_name if config else "items", "windows": config.windows_name if config else "windows"}
    ours = embeddings_name(ws.embeddings)
    for what, name in names.items():
        collection = checked["collections"].get(name)
        if collection is None:
            continue
        counts[what] = int(collection["count"])
        model = (collection.get("metadata") or {}).get(backend.MODEL_KEY)
        if model is not None and model != ours:
            problems.append(
                f"collection '{name}' was built with embedding model '{model}' but this store is opened with '{ours}'. "
                "Fix: use the same model, or rebuild into a new --store"
            )
    return counts, problems


def health_report(ws: Workspace, *, deep: bool = True, timeout_s: float = 120.0) -> dict[str, Any]:
    """Every problem of the store, each with its fix (see ``Engine.health_check``).

    Returns:
        ``{"store": path, "ok": bool, "problems": [...], "counts": {"items": n, "windows": n}, "pending": ...}``;
        counts are those Chroma holds (empty when not checked).
    """
    built, problems = _state_problems(ws)
    counts, chroma = _chroma_problems(ws, deep, timeout_s)
    problems += chroma
    pending = state.pending_write(ws.root)
    if built is not None and pending is None and counts:
        for what, recorded in (("items", built.n_items), ("windows", built.n_windows)):
            if counts.get(what, 0) != recorded:
                problems.append(
                    f"Chroma holds {counts.get(what, 0)} {what} but the last build recorded {recorded}. Fix: rebuild "
                    f"with `interest-tools build --store {ws.root}` (it re-embeds only what is missing)"
                )
    return {"store": str(ws.root), "ok": not problems, "problems": problems, "counts": counts, "pending": pending}
