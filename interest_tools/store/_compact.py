"""Compaction of an embedded Chroma directory: copy the live records into a fresh directory, swap it in.

Chroma keeps deleted records in its files (the SQLite log and free pages, and the HNSW segment files) until
they are rewritten (chroma-core/chroma#7662, #7659). Compaction copies every collection's live records (ids,
vectors, documents, metadata; nothing is embedded again) into ``chroma.compact-<tag>-<id>`` beside the store, closes
every client of the old directory, exchanges the two directories in one atomic ``renameat2(RENAME_EXCHANGE)``
on Linux (two renames elsewhere, recovered by :func:`recover`), and deletes the old files. A process killed at
any point leaves either the old or the new directory in place, both complete. The names of both copies carry
the store's scratch tag (``store._marker``): recovery renames or deletes only those, never a
``chroma.old-backup`` the user keeps beside the store.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import chromadb
from chromadb.api import ClientAPI

import interest_tools.store._health as health
import interest_tools.store._marker as store_dir
from interest_tools.errors import StoreError
from interest_tools.store._backend import chroma_settings, close_client

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Atomically exchange two paths (Linux ``renameat2``); False when the platform cannot."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    # non-zero (ENOSYS, EINVAL): a kernel or filesystem without RENAME_EXCHANGE
    return bool(renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0)


def copy_name(chroma_dir: Path, kind: str, tag: str) -> Path:
    """Where compaction puts its copy (``kind`` "compact") or parks the old files ("old")."""
    return chroma_dir.with_name(f"{chroma_dir.name}.{kind}-{tag}-{uuid.uuid4().hex[:12]}")


def _copies(chroma_dir: Path, kind: str, tag: str) -> list[Path]:
    return [p for p in chroma_dir.parent.glob(f"{chroma_dir.name}.{kind}-{tag}-*") if p.is_dir()]


def restore_interrupted(chroma_dir: Path) -> None:
    """Put the old directory back when a compaction was killed between its two fallback renames.

    Safe without the writer lock: it only renames, only when ``chroma_dir`` is missing, and only a directory
    whose name carries the tag of the store's marker.
    """
    if chroma_dir.exists():
        return
    try:
        marker = store_dir.read_marker(chroma_dir.parent)
    except StoreError:
        return
    if marker is None:
        return
    old = sorted(_copies(chroma_dir, "old", marker.scratch_tag), key=lambda p: p.stat().st_mtime)
    if old:
        with contextlib.suppress(OSError):
            os.replace(old[-1], chroma_dir)


def recover(chroma_dir: Path, tag: str) -> None:
    """Finish or undo a compaction that was killed; delete its leftovers (names with ``tag``). Under the lock."""
    restore_interrupted(chroma_dir)
    for leftover in [*_copies(chroma_dir, "old", tag), *_copies(chroma_dir, "compact", tag)]:
        shutil.rmtree(leftover, ignore_errors=True)


def _configuration(collection: Any) -> dict[str, Any] | None:
    hnsw = dict((collection.configuration or {}).get("hnsw") or {})
    return {"hnsw": {k: v for k, v in hnsw.items() if v is not None}} if hnsw else None


def copy_collections(source: ClientAPI, target: ClientAPI, batch: int = 500) -> dict[str, int]:
    """Copy every collection (metadata, HNSW settings, live records with their vectors) from one client to another.

    Returns:
        Records copied per collection.

    Raises:
        StoreError: A collection's copy does not hold as many records as the original.
    """
    copied: dict[str, int] = {}
    for old in source.list_collections():
        new = target.create_collection(
            old.name,
            metadata=old.metadata or None,
            configuration=cast(Any, _configuration(old)),
            embedding_function=None,
        )
        offset = 0
        while True:
            got = old.get(limit=batch, offset=offset, include=cast(Any, ["embeddings", "documents", "metadatas"]))
            ids = list(got["ids"])
            if not ids:
                break
            vectors = cast(Any, got["embeddings"])
            docs: list[Any] = list(cast(Any, got["documents"]) or [None] * len(ids))
            metas: list[Any] = list(cast(Any, got["metadatas"]) or [None] * len(ids))
            for keep_docs in (True, False):  # Chroma wants all or none of a call's documents
                rows = [i for i in range(len(ids)) if (docs[i] is not None) == keep_docs]
                if not rows:
                    continue
                new.add(
                    ids=[ids[i] for i in rows],
                    embeddings=cast(Any, [vectors[i] for i in rows]),
                    documents=[cast(str, docs[i]) for i in rows] if keep_docs else None,
                    metadatas=cast(Any, [metas[i] or None for i in rows]),
                )
            offset += len(ids)
        if new.count() != old.count():
            raise StoreError(
                f"compaction copied {new.count()} of {old.count()} records of '{old.name}'; nothing swapped"
            )
        copied[old.name] = new.count()
    return copied


def _still_open(chroma_dir: Path) -> bool:
    try:
        from chromadb.api.shared_system_client import SharedSystemClient

        systems = SharedSystemClient._identifier_to_system  # noqa: SLF001  (Chroma keeps no public registry)
    except (ImportError, AttributeError):  # pragma: no cover - another chromadb layout
        return False
    target = chroma_dir.resolve()
    return any(Path(key).resolve() == target for key in list(systems) if key and key != "ephemeral")


def scrub_unused_capacity(folder: Path) -> int:
    """Zero the unused capacity of every HNSW segment's ``data_level0.bin`` under ``folder``; returns bytes zeroed.

    hnswlib allocates room for ``max_elements`` vectors without clearing it and Chroma writes the whole buffer
    to disk, so the slots past ``cur_element_count`` hold whatever the writing process had in that memory
    before: with a forgotten user's ids and metadata, read just before, among it. No reader looks there.
    """
    zeroed = 0
    for data in folder.glob("*/data_level0.bin"):
        header = (data.parent / "header.bin").read_bytes() if (data.parent / "header.bin").is_file() else b""
        if len(header) < health.HNSW_HEADER.size:
            continue
        version, _, max_elements, count, per_element = health.HNSW_HEADER.unpack_from(header)[:5]
        if version != 1 or per_element <= 0 or count > max_elements:
            continue  # another layout or a damaged header: leave it to Chroma and the health check
        size = data.stat().st_size
        used = min(count * per_element, size)
        if used < size:
            with open(data, "r+b") as fh:
                fh.seek(used)
                fh.write(bytes(size - used))
                fh.flush()
                os.fsync(fh.fileno())
            zeroed += size - used
    return zeroed


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def compact_directory(chroma_dir: str | Path, release: Callable[[], None], tag: str) -> dict[str, Any]:
    """Rewrite a persistent Chroma directory so that deleted records leave no trace in its files.

    Args:
        chroma_dir: The directory (``<store>/chroma``).
        release: Closes the caller's clients of this directory (called after the copy, before the swap).
        tag: The store's scratch tag (names of the copies; see ``store._marker``).

    Returns:
        ``{"compacted": bool, "collections": {name: records}, "bytes_before": n, "bytes_after": n}``.

    Raises:
        StoreError: The copy failed or another client of this process still has the directory open; the old
            directory is then left untouched.
    """
    folder = Path(chroma_dir)
    recover(folder, tag)
    if not folder.is_dir():
        release()
        return {"compacted": False, "collections": {}, "bytes_before": 0, "bytes_after": 0}
    before = _size(folder)
    fresh = copy_name(folder, "compact", tag)
    try:
        with health.chroma_errors(folder, "compaction"):
            source = chromadb.PersistentClient(path=str(folder), settings=chroma_settings())
            try:
                target = chromadb.PersistentClient(path=str(fresh), settings=chroma_settings())
                try:
                    copied = copy_collections(source, target)
                finally:
                    close_client(target)
            finally:
                close_client(source)
        scrub_unused_capacity(fresh)
        release()
        if _still_open(folder):
            raise StoreError(
                f"cannot compact {folder}: another client in this process still has it open. Fix: close other "
                "engines or stores on this directory first (nothing was changed)"
            )
    except BaseException:
        shutil.rmtree(fresh, ignore_errors=True)
        raise
    if not _exchange(folder, fresh):
        parked = copy_name(folder, "old", tag)
        os.replace(folder, parked)
        os.replace(fresh, folder)
        fresh = parked
    with contextlib.suppress(OSError):
        dir_fd = os.open(folder.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    shutil.rmtree(fresh, ignore_errors=True)
    return {"compacted": True, "collections": copied, "bytes_before": before, "bytes_after": _size(folder)}
