"""What makes a directory a store: a marker file, and the temporary names that the store's writers own.

A store is marked by ``store.json`` (format name, version and a random ``scratch_tag``), written before anything
else. Writers refuse a directory that is neither empty nor a store (:func:`inspect`), so ``--store .`` in a home
folder changes nothing there. Stores built before the marker existed are recognised by their own files (a
``state.json`` or ``pending.json`` of this package, ``data/events.parquet``, or Chroma collections tagged by this
package) and marked by their first write.

Every temporary name a writer creates carries the store's ``scratch_tag`` (:func:`scratch_name`,
:func:`scratch_prefix`), and only such names are deleted as a killed writer's leftovers (:func:`clean_scratch`):
a user's ``.draft.tmp`` or ``models/forecaster/tmp-notes.txt`` beside the store's files is never touched.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError

from interest_tools.errors import StoreError

MARKER = "store.json"
FORMAT: Literal["interest-tools-store"] = "interest-tools-store"
#: Version of the store's layout this package writes; a marker with a higher one is refused.
VERSION = 1
#: The writer lock file (created by :func:`interest_tools.store._state.writer_lock` before the marker).
LOCK = ".write.lock"
#: Folders (relative to the store root) where writers create temporary files or folders.
SCRATCH_DIRS = ("", "data", "models/forecaster")
_MARKER_SCRATCH = re.compile(r"\.store\.json\.[0-9a-f]{12}-\d+\.tmp")

Kind = Literal["absent", "empty", "marked", "legacy"]


class StoreMarker(BaseModel):
    """The content of ``store.json``."""

    format: Literal["interest-tools-store"] = Field(description="Always 'interest-tools-store'.")
    version: int = Field(ge=1, description="Layout version of the store.")
    scratch_tag: str = Field(pattern=r"^[0-9a-f]{12}$", description="Carried by every temporary name of this store.")
    created_at: datetime = Field(description="When the store was marked (UTC).")


def write_atomically(path: Path, data: bytes, tag: str | None = None) -> None:
    """Write ``data`` to ``path`` atomically: temporary file (named for ``tag``), fsync, rename, fsync of the folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(scratch_name(path.name, tag))
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def scratch_name(name: str, tag: str | None) -> str:
    """The temporary name under which ``name`` is written (``.NAME.TAG-PID.tmp``; untagged outside a store)."""
    return f".{name}.{tag}-{os.getpid()}.tmp" if tag else f".{name}.{os.getpid()}.tmp"


def scratch_prefix(tag: str) -> str:
    """Prefix of temporary folders of the store (e.g. a checkpoint being written)."""
    return f".scratch-{tag}-"


def read_marker(root: Path) -> StoreMarker | None:
    """The store's marker (None when there is none).

    Raises:
        StoreError: ``store.json`` exists but is not this package's marker, or a newer version wrote it.
    """
    path = root / MARKER
    if not path.exists():
        return None
    try:
        marker = StoreMarker.model_validate_json(path.read_bytes())
    except (OSError, ValidationError) as exc:
        raise StoreError(
            f"{path} is not an interest-tools store marker ({str(exc).splitlines()[0]}); nothing was changed. "
            f"Fix: if {root} is not a store, choose another --store; if it is one, restore {path} from a backup"
        ) from None
    if marker.version > VERSION:
        raise StoreError(
            f"the store at {root} has layout version {marker.version}, newer than this interest-tools "
            f"understands ({VERSION}); nothing was changed. Fix: upgrade interest-tools"
        )
    return marker


def _json_object(path: Path) -> dict[str, object]:
    with contextlib.suppress(OSError, ValueError):
        data = json.loads(path.read_text())
        if isinstance(data, dict):
            return data
    return {}


def _has_our_collections(sqlite_file: Path) -> bool:
    """Whether a Chroma database holds a collection made by this package (tagged with its schema key)."""
    if not sqlite_file.is_file():
        return False
    try:
        with contextlib.closing(sqlite3.connect(f"{sqlite_file.resolve().as_uri()}?mode=ro", uri=True)) as db:
            row = db.execute("SELECT 1 FROM collection_metadata WHERE key = 'interest_tools_schema' LIMIT 1")
            return row.fetchone() is not None
    except sqlite3.Error:
        return False


def is_legacy_store(root: Path) -> bool:
    """Whether ``root`` holds a store of this package built before stores were marked (its own files)."""
    built = _json_object(root / "state.json")
    if {"dataset", "window", "embedding_model", "n_events"} <= set(built):
        return True
    pending = _json_object(root / "pending.json")
    if pending.get("operation") in ("build", "ingest") and "started_at" in pending:
        return True
    return (root / "data" / "events.parquet").is_file() or _has_our_collections(root / "chroma" / "chroma.sqlite3")


def inspect(root: Path) -> Kind:
    """What ``root`` is: absent, an empty folder, a marked store, or a store built before marking.

    Raises:
        StoreError: ``root`` is a file, or a folder that holds other files and is no store (nothing is changed).
    """
    if not root.exists() and not root.is_symlink():
        return "absent"
    if not root.is_dir():
        raise StoreError(
            f"--store {root} is a file, not a directory; nothing was changed. Fix: give a new or empty directory "
            "for a new store, or the directory of an existing store"
        )
    if read_marker(root) is not None:
        return "marked"
    others = sorted(p.name for p in root.iterdir() if p.name != LOCK and not _MARKER_SCRATCH.fullmatch(p.name))
    if not others:
        return "empty"
    if is_legacy_store(root):
        return "legacy"
    shown = ", ".join(others[:5]) + (f" and {len(others) - 5} more" if len(others) > 5 else "")
    raise StoreError(
        f"{root} is not an interest-tools store: it holds {shown} and no {MARKER}; nothing was changed. "
        f"Fix: choose a new or empty directory for --store (e.g. {root / 'interest-store'}), or the directory "
        "of an existing store"
    )


def mark(root: Path) -> StoreMarker:
    """Mark ``root`` as a store (when it is not yet); call under the writer lock, after :func:`inspect`."""
    existing = read_marker(root)
    if existing is not None:
        return existing
    marker = StoreMarker(format=FORMAT, version=VERSION, scratch_tag=secrets.token_hex(6), created_at=datetime.now(UTC))
    write_atomically(root / MARKER, marker.model_dump_json(indent=2).encode(), marker.scratch_tag)
    for leftover in root.glob(".store.json.*.tmp"):  # a marking killed before its rename
        if _MARKER_SCRATCH.fullmatch(leftover.name):
            with contextlib.suppress(OSError):
                leftover.unlink()
    return marker


def clean_scratch(root: Path, tag: str) -> list[Path]:
    """Delete temporary files and folders of this store (their names carry ``tag``); call under the writer lock.

    Returns:
        The paths removed.
    """
    removed: list[Path] = []
    for sub in SCRATCH_DIRS:
        folder = root / sub
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            name = path.name
            ours = (name.startswith(".") and name.endswith(".tmp") and f".{tag}-" in name) or name.startswith(
                scratch_prefix(tag)
            )
            if not ours:
                continue
            with contextlib.suppress(OSError):
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink()
                removed.append(path)
    return removed
