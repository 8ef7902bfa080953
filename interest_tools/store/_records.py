"""Turn items and window documents into validated store records (ids, texts, metadata), and back.

Everything here runs before Chroma is touched: a bad record raises :class:`DataValidationError` naming the
row, and nothing is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from interest_tools.data import UNKNOWN_CATEGORY, split_categories
from interest_tools.errors import DataValidationError
from interest_tools.store._embed import content_hash, item_text
from interest_tools.store._models import ItemHit, WindowDoc, WindowHit, item_id_to_store

#: Metadata key of the text hash that decides whether a record must be re-embedded.
HASH_KEY = "content_hash"
#: Metadata key of the item's categories as a list (Chroma >= 1.5 filters lists with ``$contains``).
CATEGORY_LIST_KEY = "category_list"
#: Metadata key of a window's top categories as a list (absent when the window has none).
TOP_CATEGORY_LIST_KEY = "top_category_list"


@dataclass
class Records:
    """Parallel lists ready for ``collection.upsert`` (without embeddings)."""

    ids: list[str]
    texts: list[str]
    metadatas: list[dict[str, Any]]

    def __len__(self) -> int:
        return len(self.ids)


def _scalar_text(value: Any) -> str:
    if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)):
        return ""
    return str(value).strip()


def _check_unique(ids: list[str], source: str, column: str) -> None:
    seen: dict[str, int] = {}
    for row, record_id in enumerate(ids, start=1):
        if record_id in seen:
            raise DataValidationError(
                f"duplicate store id {record_id!r} (also row {seen[record_id]}); nothing was written",
                source=source,
                row=row,
                column=column,
                fix="give each record a distinct id (one row per item; one document per user, freq and index)",
            )
        seen[record_id] = row


def item_records(items: pd.DataFrame, model_name: str) -> Records:
    """Validate canonical items and build their records.

    Args:
        items: Frame with ``item_id``, ``title``, ``categories`` (list or ``|``-joined) and optional
            ``description``.
        model_name: Embedding model name, part of each record's content hash.

    Raises:
        DataValidationError: Missing column, empty item id or title, or a duplicate item id.
    """
    missing = [c for c in ("item_id", "title", "categories") if c not in items.columns]
    if missing:
        raise DataValidationError(
            f"items frame lacks column(s) {missing}; it has {list(items.columns)}",
            column=missing[0],
            fix="load items with interest_tools.data._load.load_items (canonical columns)",
        )
    descriptions = items["description"] if "description" in items.columns else [""] * len(items)
    ids: list[str] = []
    texts: list[str] = []
    metas: list[dict[str, Any]] = []
    rows = zip(items["item_id"], items["title"], items["categories"], descriptions, strict=True)
    for row, (raw_id, raw_title, raw_cats, raw_desc) in enumerate(rows, start=1):
        item_id = _scalar_text(raw_id)
        if not item_id:
            raise DataValidationError("empty item_id", row=row, column="item_id", fix="give every item an id")
        title = _scalar_text(raw_title)
        if not title:
            raise DataValidationError(
                f"empty title for item {item_id!r}", row=row, column="title", fix="give every item a title"
            )
        categories = split_categories(raw_cats) or [UNKNOWN_CATEGORY]
        description = _scalar_text(raw_desc)
        text = item_text(title, categories, description)
        ids.append(item_id_to_store(item_id))
        texts.append(text)
        metas.append(
            {
                "item_id": item_id,
                "title": title,
                "categories": "|".join(categories),
                CATEGORY_LIST_KEY: categories,
                HASH_KEY: content_hash(text, model_name),
            }
        )
    _check_unique(ids, "items", "item_id")
    return Records(ids, texts, metas)


def window_records(docs: Sequence[WindowDoc], model_name: str) -> Records:
    """Validate window documents and build their records.

    Raises:
        DataValidationError: A document is not a WindowDoc, has empty text, or repeats an id.
    """
    ids: list[str] = []
    texts: list[str] = []
    metas: list[dict[str, Any]] = []
    for row, doc in enumerate(docs, start=1):
        if not isinstance(doc, WindowDoc):
            raise DataValidationError(
                f"expected a WindowDoc, got {type(doc).__name__}",
                source="windows",
                row=row,
                fix="build documents with WindowDoc(...) or WindowDoc.from_window(...)",
            )
        text = doc.text.strip()
        if not text:
            raise DataValidationError(
                f"empty summary text for {doc.doc_id!r}; nothing was written",
                source="windows",
                row=row,
                column="text",
                fix="summarise the window before storing it",
            )
        meta: dict[str, Any] = {
            "user_id": doc.user_id,
            "freq": doc.freq,
            "index": doc.index,
            "start": doc.start.isoformat(),
            "end": doc.end.isoformat(),
            "start_unix": int(doc.start.timestamp()),
            "end_unix": int(doc.end.timestamp()),
            "top_categories": "|".join(doc.top_categories),
            HASH_KEY: content_hash(text, model_name),
        }
        if doc.top_categories:
            meta[TOP_CATEGORY_LIST_KEY] = list(doc.top_categories)
        ids.append(doc.doc_id)
        texts.append(text)
        metas.append(meta)
    _check_unique(ids, "windows", "user_id/freq/index")
    return Records(ids, texts, metas)


def _categories(meta: dict[str, Any], list_key: str, joined_key: str) -> list[str]:
    """The stored category list (exact, so a name may contain ``|``); the ``|``-joined text of older records."""
    listed = meta.get(list_key)
    if isinstance(listed, list | tuple):
        return [str(part) for part in listed]
    return [part for part in str(meta.get(joined_key) or "").split("|") if part]


def item_hit(meta: dict[str, Any], score: float) -> ItemHit:
    """Build an :class:`ItemHit` from stored metadata."""
    return ItemHit(
        item_id=str(meta["item_id"]),
        title=str(meta.get("title", "")),
        categories=_categories(meta, CATEGORY_LIST_KEY, "categories"),
        score=score,
    )


def window_hit(meta: dict[str, Any], document: str | None, score: float) -> WindowHit:
    """Build a :class:`WindowHit` from stored metadata and document."""
    return WindowHit(
        user_id=str(meta["user_id"]),
        freq=str(meta.get("freq", "")),
        index=int(meta["index"]),
        start=datetime.fromisoformat(str(meta["start"])).astimezone(UTC),
        end=datetime.fromisoformat(str(meta["end"])).astimezone(UTC),
        summary=document or "",
        top_categories=_categories(meta, TOP_CATEGORY_LIST_KEY, "top_categories"),
        score=score,
    )


def same_metadata(old: dict[str, Any] | None, new: dict[str, Any]) -> bool:
    """Whether stored metadata equals the new metadata (lists compared element-wise)."""
    if old is None or set(old) != set(new):
        return False
    return all(list(old[k]) == list(v) if isinstance(v, list) else old[k] == v for k, v in new.items())
