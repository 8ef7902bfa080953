"""Chroma embedding store of items and window summaries, embedded by our own model.

Two collections (cosine space, normalised vectors): ``items`` (id ``item:<item_id>``; document
``embed.item_text(title, categories, description)``; metadata ``item_id``, ``title``, ``categories``
(``|``-joined), ``category_list`` (list, filtered with ``$contains``), ``content_hash``) and ``windows`` (id
``window:<user>:<freq>:<index>``; document = summary text; metadata ``user_id``, ``freq``, ``index``,
``start``/``end`` (ISO), ``start_unix``/``end_unix``, ``top_categories`` (``|``-joined),
``top_category_list``, ``content_hash``). Hits read the lists (exact, a category may contain ``|``); the
``|``-joined text is kept for records written before the lists. Each collection's metadata records the
embedding model and dimension; opening it with another model raises :class:`~interest_tools.errors.StoreError`
before any write.
Writes re-embed only records whose text hash changed.
"""

from __future__ import annotations

from interest_tools.store import _state as state
from interest_tools.store._backend import parse_chroma_url
from interest_tools.store._compact import compact_directory
from interest_tools.store._core import InterestStore
from interest_tools.store._embed import (
    EmbedConfig,
    EmbeddingsLike,
    SentenceTransformerEmbeddings,
    embed_matrix,
    embeddings_name,
    item_text,
    resolve_model_path,
)
from interest_tools.store._feedback_log import FeedbackLog
from interest_tools.store._mirror import ItemVectorMirror
from interest_tools.store._models import (
    ItemHit,
    StoreConfig,
    UpsertReport,
    WindowDoc,
    WindowHit,
    item_id_to_store,
    window_id,
)
from interest_tools.store._records import HASH_KEY, item_records, window_records

__all__ = [
    "HASH_KEY",
    "EmbedConfig",
    "EmbeddingsLike",
    "FeedbackLog",
    "InterestStore",
    "ItemHit",
    "ItemVectorMirror",
    "SentenceTransformerEmbeddings",
    "StoreConfig",
    "UpsertReport",
    "WindowDoc",
    "WindowHit",
    "compact_directory",
    "embed_matrix",
    "embeddings_name",
    "item_id_to_store",
    "item_records",
    "item_text",
    "parse_chroma_url",
    "resolve_model_path",
    "state",
    "window_id",
    "window_records",
]
