"""Files under the store directory besides Chroma: the canonical data, summaries, feedback and build state.

Every write goes to a temporary file in the same directory, is flushed to disk, then renamed over the old
file (``os.replace`` is atomic), so a process killed mid-write leaves the previous version intact. Temporary
names carry the store's tag (see ``store._marker``), so only the store's own leftovers are ever
deleted. Every completed write bumps ``state.json``'s ``generation``; readers compare :func:`stamp` per call.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel, Field

import interest_tools.store._marker as store_dir
from interest_tools.errors import NotBuiltError, StoreError

EVENTS = "data/events.parquet"
ITEMS = "data/items.parquet"
SUMMARIES = "data/summaries.parquet"
FEEDBACK = "data/feedback.jsonl"
STATE = "state.json"
LOCK = ".write.lock"
FORECASTER = "models/forecaster"
LLM_CACHE = "cache/llm"


class BuildState(BaseModel):
    """What the last completed build or ingest recorded (``state.json``)."""

    dataset: str = Field(description="Name of the dataset the store was built from.")
    window: dict[str, Any] = Field(description="WindowConfig of the summaries and the windows collection.")
    forecast_window: dict[str, Any] | None = Field(default=None, description="WindowConfig the forecaster reads.")
    embedding_model: str = Field(description="Embedding model of both collections.")
    summarizer: str = Field(description="'template' or the chat model that wrote the summaries.")
    summary: dict[str, Any] | None = Field(
        default=None,
        description=(
            "The SummaryConfig the summaries were written with (noun, limits; not the cache folder), reused by "
            "ingest so new summaries read like the old ones; None in stores built before it was recorded."
        ),
    )
    n_events: int = Field(description="Events stored.")
    n_users: int = Field(description="Users stored.")
    n_items: int = Field(description="Items stored.")
    n_windows: int = Field(description="Windows summarised.")
    updated_at: datetime = Field(description="When the state was written (UTC).")
    generation: int = Field(default=0, description="Completed writes so far; readers reload when it moves.")


def atomic_write_bytes(path: Path, data: bytes, tag: str | None = None) -> None:
    """Write ``data`` to ``path`` atomically (temp file named for the store's ``tag``, fsync, rename, fsync)."""
    store_dir.write_atomically(path, data, tag)


def scratch_tag(root: Path) -> str | None:
    """The tag of the store whose writer lock this process holds (None when it holds none)."""
    with _held_guard:
        return _tags.get(root.resolve())


def checkpoint_scratch(root: Path) -> str:
    """Prefix of the forecaster checkpoint's temporary folder in this store (see :func:`scratch_tag`)."""
    tag = scratch_tag(root)
    return store_dir.scratch_prefix(tag) if tag else "tmp"


def _write(root: Path, name: str, data: bytes) -> None:
    atomic_write_bytes(root / name, data, scratch_tag(root))


def write_frame(root: Path, name: str, frame: pd.DataFrame) -> None:
    """Write a DataFrame as Parquet atomically."""
    _write(root, name, frame.to_parquet(index=False))


def read_frame(root: Path, name: str) -> pd.DataFrame:
    """Read a Parquet file written by :func:`write_frame`.

    Raises:
        NotBuiltError: The file does not exist (nothing was built here yet).
        StoreError: The file is unreadable (truncated or corrupt).
    """
    path = root / name
    if not path.is_file():
        raise NotBuiltError(
            f"{path} does not exist: nothing is built at {root}. Fix: run `interest-tools build --store {root}`"
        )
    try:
        return pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise StoreError(
            f"{path} is unreadable ({exc}). Fix: rebuild with `interest-tools build --store {root}`"
        ) from exc


def write_state(root: Path, state: BuildState) -> None:
    """Write ``state.json`` last: its presence marks a completed build; its generation becomes the next one."""
    state = state.model_copy(update={"generation": next_generation(root)})
    _write(root, STATE, state.model_dump_json(indent=2).encode())


def next_generation(root: Path) -> int:
    """One more than the generation in ``state.json`` (1 when there is none or it is unreadable)."""
    with contextlib.suppress(OSError, ValueError):
        return int(json.loads((root / STATE).read_text()).get("generation", 0)) + 1
    return 1


Stamp = tuple[int, int, int]


def stamp(root: Path) -> Stamp | None:
    """Identity of the current ``state.json`` (inode, mtime, size), one ``stat``; None when there is none.

    Every write replaces the file by a new one (a new inode), so a reader that saw another stamp is stale.
    """
    try:
        st = os.stat(root / STATE)
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def read_state(root: Path) -> BuildState:
    """Read ``state.json``.

    Raises:
        NotBuiltError: No completed build at ``root``.
    """
    path = root / STATE
    if not path.is_file():
        raise NotBuiltError(f"no completed build at {root}. Fix: run `interest-tools build --store {root}` first")
    try:
        return BuildState.model_validate_json(path.read_text())
    except ValueError as exc:
        raise StoreError(f"{path} is corrupt ({exc}). Fix: rebuild with `interest-tools build`") from exc


def now() -> datetime:
    """The current UTC time."""
    return datetime.now(UTC)


def append_jsonl(root: Path, name: str, record: dict[str, Any]) -> None:
    """Append one JSON record, rewriting the file atomically (feedback files stay small)."""
    path = root / name
    old = path.read_bytes() if path.is_file() else b""
    _write(root, name, old + json.dumps(record, default=str).encode() + b"\n")


def read_jsonl(root: Path, name: str) -> list[dict[str, Any]]:
    """Read every JSON record of a file written by :func:`append_jsonl` (none when absent)."""
    path = root / name
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def rewrite_jsonl(root: Path, name: str, records: list[dict[str, Any]]) -> None:
    """Replace a JSON-lines file atomically."""
    _write(root, name, b"".join(json.dumps(r, default=str).encode() + b"\n" for r in records))


#: Seconds a writer waits for another process's write to finish before giving up (tests lower it).
LOCK_TIMEOUT_S = 5.0
#: Marker of a build or ingest in progress; left behind when one was killed (re-run it to finish).
PENDING = "pending.json"

_held: dict[Path, tuple[int, int]] = {}  # root -> (thread id, depth) of the locks this process holds
_tags: dict[Path, str] = {}  # root -> scratch tag of the stores whose lock this process holds
_held_guard = threading.Lock()


def _holder(root: Path) -> str:
    with contextlib.suppress(OSError, ValueError):
        pid = int((root / LOCK).read_text().strip() or "0")
        if pid:
            return f" (pid {pid})"
    return ""


@contextlib.contextmanager
def writer_lock(root: Path, timeout_s: float | None = None, *, create: bool = False) -> Iterator[None]:
    """Hold the store's single-writer lock; fail within ``timeout_s`` when another process holds it.

    Chroma's own behaviour with two writers on one persistent directory is to hang or to lose writes
    (chroma-core/chroma#7040); this lock turns that into a clear error. Readers do not take it. The lock is
    re-entrant within one thread (a write may call another write); other threads and processes wait.

    Only a store or an empty directory is written to (``store._marker.inspect``, checked before
    the lock file is made and again under the lock). A store is marked (``store.json``) if it is not yet, and
    its own leftovers of a killed writer are deleted (``store._marker.clean_scratch``).

    Args:
        root: The store directory.
        timeout_s: Seconds to wait; None uses :data:`LOCK_TIMEOUT_S` (5 s).
        create: Mark an empty or absent directory as a new store (``build``); other writers leave it unmarked.

    Raises:
        StoreError: ``root`` is a file or a directory that is neither empty nor a store, or another process
            (or thread) is writing to this store.
    """
    store_dir.inspect(root)
    root.mkdir(parents=True, exist_ok=True)
    key = root.resolve()
    me = threading.get_ident()
    with _held_guard:
        owner = _held.get(key)
        if owner is not None and owner[0] == me:
            _held[key] = (me, owner[1] + 1)
            reentered = True
        else:
            reentered = False
    if reentered:
        try:
            yield
        finally:
            with _held_guard:
                tid, depth = _held[key]
                _held[key] = (tid, depth - 1)
        return
    wait = LOCK_TIMEOUT_S if timeout_s is None else timeout_s
    fh = open(root / LOCK, "a+")  # noqa: SIM115 - held for the duration of the context
    deadline = time.monotonic() + wait
    try:
        while True:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise StoreError(
                        f"another process is writing to the store at {root}{_holder(root)}; waited {wait:g} s "
                        f"for its lock {root / LOCK}. Only one process may write to a store at a time (an embedded "
                        "Chroma directory would hang or lose writes). Fix: retry when that write is done; reading "
                        "needs no lock. To serve many processes, run one server that does every write "
                        "(`interest-tools serve-mcp --transport http`) and keep the vectors in a Chroma server "
                        "(`chroma run --path DIR`, then --chroma-url) that all processes can read"
                    ) from None
                time.sleep(0.05)
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        with _held_guard:
            _held[key] = (me, 1)
        try:
            if store_dir.inspect(root) in ("marked", "legacy") or create:
                tag = store_dir.mark(root).scratch_tag
                with _held_guard:
                    _tags[key] = tag
                store_dir.clean_scratch(root, tag)
            yield
        finally:
            with _held_guard:
                _held.pop(key, None)
                _tags.pop(key, None)
    finally:
        with contextlib.suppress(OSError):
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        fh.close()


def begin_write(root: Path, operation: str) -> None:
    """Mark a build or ingest as started (``pending.json``); :func:`end_write` clears the mark."""
    record = {"operation": operation, "pid": os.getpid(), "started_at": now().isoformat()}
    _write(root, PENDING, json.dumps(record).encode())


def end_write(root: Path) -> None:
    """Clear the mark of :func:`begin_write` (after ``state.json`` is written)."""
    with contextlib.suppress(FileNotFoundError):
        (root / PENDING).unlink()


def pending_write(root: Path) -> dict[str, Any] | None:
    """The mark of a build or ingest that started but did not finish (None when there is none)."""
    path = root / PENDING
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {"operation": "unknown", "pid": None, "started_at": None}
    return data if isinstance(data, dict) else {"operation": "unknown", "pid": None, "started_at": None}
