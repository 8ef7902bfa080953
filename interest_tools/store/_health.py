"""Damage checks of an embedded Chroma directory, and a guard that turns Chroma failures into StoreError.

Chroma reacts to damaged files in three ways: an exception, a Rust panic (``PanicException``, which derives
from ``BaseException``, not ``Exception``), or a segmentation fault that kills the process. Hence two levels:

- :func:`check_files` reads the files with plain Python, before Chroma opens them: the SQLite header against the
  file size, and each HNSW segment's header against its data files. It is cheap and catches truncation.
- :func:`deep_check` opens the directory with Chroma in a *child process*, reads every record and runs a query
  per collection; a crash there is reported as a problem instead of killing the caller.

:func:`chroma_errors` and :func:`guard` wrap Chroma calls so that the caller gets a
:class:`~interest_tools.errors.StoreError` with a fix instead of Chroma's internal errors.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from interest_tools.errors import ChromaFailedError, InterestToolsError, StoreError

SQLITE_FILE = "chroma.sqlite3"
_SQLITE_MAGIC = b"SQLite format 3\x00"
#: hnswlib header as Chroma persists it: version, offsetLevel0, max_elements, cur_element_count,
#: size_data_per_element, label_offset, offsetData, maxlevel, enterpoint_node, maxM, maxM0, M, mult, ef_construction.
HNSW_HEADER = struct.Struct("<iQQQQQQiIQQQdQ")
_HNSW_FILES = ("header.bin", "data_level0.bin", "length.bin", "link_lists.bin")


def damaged_fix(location: str | Path) -> str:
    """The fix for a damaged Chroma directory."""
    return (
        f"Fix: restore {location} from a backup, or move it aside and rebuild it with `interest-tools build "
        "--store DIR` (the events, items and summaries under DIR/data are kept); Engine.health_check() checks a "
        "store without risking the calling process"
    )


def _is_panic(exc: BaseException) -> bool:
    return type(exc).__name__ == "PanicException"


def _is_chroma_failure(exc: BaseException) -> bool:
    """Errors that mean 'Chroma could not do it' rather than 'the caller passed bad arguments'."""
    if isinstance(exc, InterestToolsError | KeyboardInterrupt | SystemExit | GeneratorExit):
        return False
    if _is_panic(exc) or isinstance(exc, OSError):
        return True
    try:
        from chromadb.errors import ChromaError, InvalidArgumentError
    except ImportError:  # pragma: no cover - chromadb is a dependency
        return False
    return isinstance(exc, ChromaError) and not isinstance(exc, InvalidArgumentError)


@contextlib.contextmanager
def chroma_errors(location: str | Path, what: str) -> Iterator[None]:
    """Re-raise Chroma's internal errors and panics inside the block as :class:`StoreError` with the fix."""
    try:
        yield
    except BaseException as exc:
        if not _is_chroma_failure(exc):
            raise
        raise ChromaFailedError(
            f"Chroma failed during {what} at {location} ({type(exc).__name__}: {exc}); its files may be damaged. "
            + damaged_fix(location)
        ) from exc


class _Guarded:
    """A Chroma collection whose method calls raise :class:`StoreError` instead of Chroma's internal errors."""

    def __init__(self, collection: Any, location: str) -> None:
        self._collection = collection
        self._location = location

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._collection, name)
        if name.startswith("_") or not callable(value):
            return value

        @functools.wraps(value)
        def call(*args: Any, **kwargs: Any) -> Any:
            with chroma_errors(self._location, f"{name}() on collection '{self._collection.name}'"):
                return value(*args, **kwargs)

        return call


def guard(collection: Any, location: str) -> Any:
    """Wrap a Chroma collection so that its calls raise :class:`StoreError` on Chroma failures."""
    return collection if isinstance(collection, _Guarded) else _Guarded(collection, location)


def _sqlite_problems(path: Path) -> list[str]:
    size = path.stat().st_size
    if size == 0:
        return [f"{path} is empty (0 bytes)"]
    with open(path, "rb") as fh:
        head = fh.read(100)
    if len(head) < 100 or not head.startswith(_SQLITE_MAGIC):
        return [f"{path} is not an SQLite database (bad header)"]
    page_size = int.from_bytes(head[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(head[28:32], "big")
    change_counter, valid_for = head[24:28], head[92:96]
    if page_size < 512 or size % page_size:
        return [f"{path} is truncated ({size} bytes is not a whole number of {page_size}-byte pages)"]
    if pages and change_counter == valid_for and size < pages * page_size:
        return [f"{path} is truncated ({size} bytes; its header records {pages} pages of {page_size} bytes)"]
    return []


def _segment_problems(folder: Path) -> list[str]:
    present = [name for name in _HNSW_FILES if (folder / name).is_file()]
    if not present:
        return []
    if len(present) < len(_HNSW_FILES):
        missing = sorted(set(_HNSW_FILES) - set(present))
        return [f"vector segment {folder} lacks {', '.join(missing)}"]
    header = (folder / "header.bin").read_bytes()
    if len(header) < HNSW_HEADER.size:
        return [f"{folder / 'header.bin'} is truncated ({len(header)} of {HNSW_HEADER.size} bytes)"]
    fields = HNSW_HEADER.unpack_from(header)
    version, _, max_elements, count, per_element = fields[:5]
    if version != 1:
        return []  # a newer on-disk format: leave it to Chroma and the deep check
    if per_element <= 0 or count > max_elements:
        return [f"{folder / 'header.bin'} is inconsistent ({count} vectors of {per_element} bytes, max {max_elements})"]
    problems = []
    data = (folder / "data_level0.bin").stat().st_size
    if data < count * per_element or data % per_element:
        problems.append(f"{folder / 'data_level0.bin'} is truncated ({data} bytes for {count} vectors)")
    lengths = (folder / "length.bin").stat().st_size
    if lengths < count * 4:
        problems.append(f"{folder / 'length.bin'} is truncated ({lengths} bytes for {count} vectors)")
    links = (folder / "link_lists.bin").read_bytes()
    offset = 0
    for _ in range(count):
        if offset + 4 > len(links):
            problems.append(f"{folder / 'link_lists.bin'} is truncated ({len(links)} bytes)")
            break
        offset += 4 + int.from_bytes(links[offset : offset + 4], "little")
    else:
        if offset > len(links):
            problems.append(f"{folder / 'link_lists.bin'} is truncated ({len(links)} bytes)")
    return problems


def check_files(chroma_dir: str | Path) -> list[str]:
    """Problems found by reading the Chroma files with plain Python (never opens them with Chroma).

    Detects a truncated or empty ``chroma.sqlite3`` and truncated or missing HNSW segment files. A directory
    that does not exist yet (nothing built) has no problems.
    """
    folder = Path(chroma_dir)
    if not folder.is_dir():
        return []
    problems: list[str] = []
    db = folder / SQLITE_FILE
    if db.is_file():
        problems += _sqlite_problems(db)
    elif any(p.is_dir() for p in folder.iterdir()):
        problems.append(f"{db} is missing but vector segments are present")
    for segment in sorted(p for p in folder.iterdir() if p.is_dir()):
        problems += _segment_problems(segment)
    return problems


def preflight(chroma_dir: str | Path, retry_s: float = 0.5) -> None:
    """Raise :class:`StoreError` when :func:`check_files` finds damage.

    A first finding is checked again after ``retry_s``, in case a writer in another process was half-way
    through flushing a segment.
    """
    problems = check_files(chroma_dir)
    if problems and retry_s > 0:
        time.sleep(retry_s)
        problems = check_files(chroma_dir)
    if problems:
        found = "; ".join(problems)
        raise StoreError(f"the Chroma store at {chroma_dir} is damaged: {found}. {damaged_fix(chroma_dir)}")


def deep_check(chroma_dir: str | Path, timeout_s: float = 120.0) -> dict[str, Any]:
    """Open the directory with Chroma in a child process: integrity check, read everything, query once.

    Returns:
        ``{"collections": {name: {"count", "metadata"}}, "problems": [...], "seconds": s}``; a crash, panic or
        timeout of the child is one of the problems (with the stage it reached), never the caller's.
    """
    started = time.perf_counter()
    folder = Path(chroma_dir)
    if not folder.is_dir():
        return {"collections": {}, "problems": [], "seconds": 0.0}
    package_parent = str(Path(__file__).resolve().parents[2])  # so the child imports this very package
    path = os.pathsep.join(p for p in (package_parent, os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False", "RUST_BACKTRACE": "0", "PYTHONPATH": path}
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "interest_tools.store._probe", str(folder)],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            env=env,
        )
        stdout, stderr, code = proc.stdout, proc.stderr, proc.returncode
    except subprocess.TimeoutExpired as exc:
        stdout = exc.stdout.decode() if isinstance(exc.stdout, bytes) else exc.stdout or ""
        stderr, code = f"timed out after {timeout_s:g} s", None
    lines = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    last: dict[str, Any] = lines[-1] if lines else {"stage": "start"}
    result: dict[str, Any] = {
        "collections": dict(last.get("collections", {})),
        "problems": list(last.get("problems", [])),
    }
    if last.get("stage") != "done" or code != 0:
        where = f" while reading collection '{last['name']}'" if last.get("stage") == "collection" else ""
        if code is not None and code < 0:
            how = f"was killed by signal {signal.Signals(-code).name}"
        elif code is None:
            how = stderr
        else:
            tail = [line for line in stderr.strip().splitlines() if line.strip()][-1:] or [""]
            how = f"failed (exit {code}: {tail[0][:300]})"
        result["problems"].append(f"opening the store with Chroma {how}{where}")
    result["seconds"] = round(time.perf_counter() - started, 3)
    return result
