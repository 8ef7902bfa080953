"""Collection-level mechanics: incremental writes (embed only changed text), deletes and id paging."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, cast

import numpy as np
from chromadb.api.models.Collection import Collection
from tqdm import tqdm

from interest_tools.errors import ConfigError, StoreError
from interest_tools.store.backend import chunks
from interest_tools.store.models import UpsertReport
from interest_tools.store.records import HASH_KEY, Records, same_metadata


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
) -> UpsertReport:
    """Embed and upsert new or changed records, rewrite metadata-only changes, skip identical ones.

    Records are written batch by batch, each complete (vector, text, metadata, hash), so a write that
    fails part-way leaves only whole records and re-running it finishes the job.

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
                vectors = embed(texts)
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


def all_ids(collection: Collection, where: dict[str, Any] | None, *, batch: int) -> list[str]:
    """Every store id matching ``where`` (all when None), sorted; read page by page."""
    ids: list[str] = []
    while True:
        got = collection.get(where=cast(Any, where), limit=batch, offset=len(ids), include=cast(Any, []))
        if not got["ids"]:
            return sorted(ids)
        ids += got["ids"]
