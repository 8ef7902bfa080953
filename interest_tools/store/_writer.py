"""Collection-level mechanics: incremental writes (embed only changed text), deletes and id paging."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, cast

import numpy as np
from chromadb.api.models.Collection import Collection
from chromadb.api.types import GetResult
from tqdm import tqdm

from interest_tools.errors import ConfigError, StoreError
from interest_tools.store._backend import chunks
from interest_tools.store._models import UpsertReport
from interest_tools.store._records import HASH_KEY, Records, same_metadata


def stored_metadata(collection: Collection, ids: Sequence[str], batch: int) -> dict[str, dict[str, Any]]:
    """Metadata of the given ids that exist in the collection."""
    found: dict[str, dict[str, Any]] = {}
    for chunk in chunks(ids, batch):
        got = collection.get(ids=list(chunk), include=cast(Any, ["metadatas"]))
        for rid, meta in zip(got["ids"], got["metadatas"] or [], strict=False):
            found[rid] = dict(meta or {})
    return found


def write_records(
    collection: Collection,
    records: Records,
    embed: Callable[[list[str]], np.ndarray],
    *,
    batch: int,
    show_progress: bool | None,
    what: str,
    location: str,
    given: tuple[Mapping[str, np.ndarray], Callable[[np.ndarray], np.ndarray]] | None = None,
) -> UpsertReport:
    """Embed and upsert new or changed records, rewrite metadata-only changes, skip identical ones.

    Records are written batch by batch, each complete (vector, text, metadata, hash), so a write that
    fails part-way leaves only whole records and re-running it finishes the job.

    ``given`` holds vectors computed elsewhere (e.g. by Ray workers) keyed by content hash, with the check they
    pass (normalise, dimension) before use; records whose hash it lacks are embedded with ``embed``.

    Raises:
        StoreError: Chroma fails, or ``embed`` refuses the vectors (before that batch is written).
    """
    started = time.perf_counter()
    stored = stored_metadata(collection, records.ids, batch)
    to_embed: list[int] = []
    to_update: list[int] = []
    for i, rid in enumerate(records.ids):
        old = stored.get(rid)
        if old is None or old.get(HASH_KEY) != records.metadatas[i][HASH_KEY]:
            to_embed.append(i)
        elif not same_metadata(old, records.metadatas[i]):
            to_update.append(i)
    show = show_progress if show_progress is not None else sys.stderr.isatty() and len(to_embed) > batch
    try:
        with tqdm(total=len(to_embed), desc=f"embedding {what}", unit=what.rstrip("s"), disable=not show) as bar:
            for chunk in chunks(to_embed, batch):
                texts = [records.texts[i] for i in chunk]
                vectors = _vectors(chunk, records, embed, given)
                collection.upsert(
                    ids=[records.ids[i] for i in chunk],
                    embeddings=vectors,
                    documents=texts,
                    metadatas=cast(Any, [records.metadatas[i] for i in chunk]),
                )
                bar.update(len(chunk))
        for chunk in chunks(to_update, batch):
            collection.update(
                ids=[records.ids[i] for i in chunk], metadatas=cast(Any, [records.metadatas[i] for i in chunk])
            )
    except (StoreError, ConfigError):
        raise
    except Exception as exc:
        raise StoreError(
            f"writing {what} to {location} failed: {exc}. Records written before the failure are complete; "
            "re-run the same write to finish (unchanged records are skipped)"
        ) from exc
    return UpsertReport(
        n_total=len(records),
        n_embedded=len(to_embed),
        n_updated=len(to_update),
        n_skipped=len(records) - len(to_embed) - len(to_update),
        seconds=round(time.perf_counter() - started, 4),
    )


def _vectors(
    chunk: Sequence[int],
    records: Records,
    embed: Callable[[list[str]], np.ndarray],
    given: tuple[Mapping[str, np.ndarray], Callable[[np.ndarray], np.ndarray]] | None,
) -> np.ndarray:
    """Vectors of one batch of records: the given ones (checked) where their hash has one, the rest embedded."""
    known, accept = given if given else ({}, None)
    hashes = [records.metadatas[i][HASH_KEY] for i in chunk]
    have = [j for j, h in enumerate(hashes) if h in known]
    if not have or accept is None:
        return embed([records.texts[i] for i in chunk])
    matrix = accept(np.stack([known[hashes[j]] for j in have]))
    if len(have) == len(chunk):
        return matrix
    rest = [j for j, h in enumerate(hashes) if h not in known]
    fresh = embed([records.texts[chunk[j]] for j in rest])
    out = np.empty((len(chunk), matrix.shape[1]), dtype=np.float32)
    out[have], out[rest] = matrix, fresh
    return out


def delete_ids(collection: Collection, ids: Iterable[str], *, batch: int, location: str) -> int:
    """Delete records by store id; returns how many existed."""
    present = 0
    try:
        for chunk in chunks(list(dict.fromkeys(ids)), batch):
            present += len(collection.get(ids=list(chunk), include=cast(Any, []))["ids"])
            collection.delete(ids=list(chunk))
    except Exception as exc:
        raise StoreError(f"deleting from {location} failed: {exc}. Fix: re-run the same delete") from exc
    return present


def vectors_by_id(collection: Collection, ids: Sequence[str], *, batch: int) -> dict[str, np.ndarray]:
    """Stored vectors of the given store ids that exist, fetched ``batch`` at a time."""
    found: dict[str, np.ndarray] = {}
    for chunk in chunks(ids, batch):
        got = collection.get(ids=list(chunk), include=cast(Any, ["embeddings"]))
        for rid, vec in zip(got["ids"], got["embeddings"] if got["embeddings"] is not None else [], strict=True):
            found[rid] = np.asarray(vec, dtype=np.float32)
    return found


def pages(collection: Collection, include: list[str], *, batch: int) -> Iterator[GetResult]:
    """Every record of a collection, ``batch`` at a time (``include`` as for ``Collection.get``)."""
    offset = 0
    while True:
        got = collection.get(limit=batch, offset=offset, include=cast(Any, include))
        if not got["ids"]:
            return
        yield got
        offset += len(got["ids"])


def all_ids(collection: Collection, where: dict[str, Any] | None, *, batch: int) -> list[str]:
    """Every store id matching ``where`` (all when None), sorted; read page by page."""
    ids: list[str] = []
    while True:
        got = collection.get(where=cast(Any, where), limit=batch, offset=len(ids), include=cast(Any, []))
        if not got["ids"]:
            return sorted(ids)
        ids += got["ids"]


def read_records(collection: Collection, ids: Sequence[str] | None, *, batch: int) -> dict[str, list[Any]]:
    """Records of a collection (all, page by page, or those of ``ids``) with documents, metadata and vectors."""
    include = ["documents", "metadatas", "embeddings"]
    got_pages: Iterable[Any] = (
        [collection.get(ids=list(ids), include=cast(Any, include))]
        if ids is not None
        else pages(collection, include, batch=batch)
    )
    out: dict[str, list[Any]] = {"ids": [], "documents": [], "metadatas": [], "embeddings": []}
    for got in got_pages:
        for key in out:
            out[key].extend(list(got[key]) if got[key] is not None else [])
    return out
