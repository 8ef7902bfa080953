"""The embedding store: items and window summaries in two Chroma collections, embedded by us."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal, cast

import numpy as np
import pandas as pd
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection

import interest_tools.store._backend as backend
import interest_tools.store._health as health
import interest_tools.store._writer as writer
from interest_tools.errors import ConfigError, DataValidationError, NotBuiltError, StoreError, UnknownUserError
from interest_tools.settings import Settings
from interest_tools.store._embed import EmbeddingsLike, SentenceTransformerEmbeddings, embed_matrix, embeddings_name
from interest_tools.store._models import ItemHit, StoreConfig, UpsertReport, WindowDoc, WindowHit, item_id_to_store
from interest_tools.store._records import HASH_KEY, Records, item_hit, item_records, window_hit, window_records


class InterestStore:
    """Items and window summaries with our own embeddings in Chroma (cosine space, normalised vectors).

    Open with :meth:`open` (from settings) or :meth:`in_memory` (tests). Opening checks that both collections
    were built with this embedding model (and dimension) and raises :class:`StoreError` before any write if not.
    """

    def __init__(
        self,
        client: ClientAPI,
        embeddings: EmbeddingsLike,
        config: StoreConfig | None = None,
        *,
        location: str = "<client>",
        owns_client: bool = True,
    ) -> None:
        self.config = config or StoreConfig()
        self.embeddings = embeddings
        self.model_name = embeddings_name(embeddings)
        self.location = location
        self._client: ClientAPI | None = client
        self._owns_client = owns_client
        self._max_batch: int | None = None
        self._dim = backend.known_dimension(embeddings)
        self._dim_checked = False  # set once both collections have been checked against a real vector length
        self._items = health.guard(
            backend.open_collection(client, self.config.items_name, self.model_name, self._dim, location), location
        )  # guarded: Chroma's internal errors and panics become StoreError
        self._windows = health.guard(
            backend.open_collection(client, self.config.windows_name, self.model_name, self._dim, location), location
        )

    @classmethod
    def open(
        cls, embeddings: EmbeddingsLike, settings: Settings | None = None, config: StoreConfig | None = None
    ) -> InterestStore:
        """Open (creating when absent) the store that ``settings`` names: ``chroma_url`` or ``store_path``."""
        client, location = backend.connect(settings or Settings())
        try:
            return cls(client, embeddings, config, location=location)
        except Exception:
            backend.close_client(client)
            raise

    @classmethod
    def in_memory(cls, embeddings: EmbeddingsLike, config: StoreConfig | None = None) -> InterestStore:
        """An in-memory store (tests).

        Without ``config`` its collections get a unique prefix, isolating it from other in-memory stores;
        with the same ``config`` two in-memory stores of one process share their collections (Chroma keeps
        one in-memory database per process).
        """
        config = config or StoreConfig(collection_prefix=f"mem{uuid.uuid4().hex[:12]}_")
        client = backend.ephemeral_client()
        try:
            return cls(client, embeddings, config, location="<memory>")
        except Exception:
            backend.close_client(client)
            raise

    def close(self) -> None:
        """Release the client (idempotent); later calls raise :class:`StoreError`."""
        if self._client is not None and self._owns_client:
            backend.close_client(self._client)
        self._client = None

    def __enter__(self) -> InterestStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _col(self, which: Literal["items", "windows"]) -> Collection:
        if self._client is None:
            raise StoreError(f"the store at {self.location} is closed. Fix: open it again")
        return self._items if which == "items" else self._windows

    @property
    def dimension(self) -> int | None:
        """Vector length (None until known: nothing embedded yet and nothing recorded)."""
        if self._dim is not None:
            return self._dim
        stored = (self._col("items").metadata or {}).get(backend.DIM_KEY)
        return int(stored) if stored is not None else None

    def _batch(self) -> int:
        if self._max_batch is None:
            assert self._client is not None
            self._max_batch = max(1, min(self.config.max_batch_size, self._client.get_max_batch_size()))
        return self._max_batch

    def _use_dimension(self, dim: int) -> None:
        """Check ``dim`` against both collections (recording it where none is) before the first write."""
        if self._dim_checked and self._dim == dim:
            return
        if self._dim_checked:
            raise StoreError(f"embedding model '{self.model_name}' changed dimension from {self._dim} to {dim}")
        for collection in (self._col("items"), self._col("windows")):
            backend.check_dimension(collection, self.model_name, dim, self.location)
        self._dim, self._dim_checked = dim, True

    def _embed(self, texts: list[str], what: str) -> np.ndarray:
        if isinstance(self.embeddings, SentenceTransformerEmbeddings):
            matrix = self.embeddings.encode(texts, show_progress=False)
        else:
            matrix = embed_matrix(self.embeddings, texts)
        return self._accept(matrix, len(texts), what)

    def _accept(self, matrix: Any, n_rows: int, what: str) -> np.ndarray:
        """Normalise vectors (made here or given) and check their dimension against the store's."""
        matrix = backend.normalised(np.asarray(matrix, dtype=np.float32), n_rows, what)
        self._use_dimension(int(matrix.shape[1]))
        return matrix

    def _query_vector(self, vector: Any, text: str | None) -> np.ndarray:
        if (vector is None) == (text is None):
            raise ConfigError("give exactly one of vector= or text= to query the store")
        if text is not None:
            if not text.strip():
                raise ConfigError("the query text is empty. Fix: describe what to look for")
            return self._embed([text], "query")[0]
        q = np.asarray(vector, dtype=np.float32).reshape(-1)
        dim = self.dimension
        if dim is not None and q.shape[0] != dim:
            raise ConfigError(f"query vector has {q.shape[0]} values but the store holds {dim}-dim vectors")
        return backend.normalised(q[None, :], 1, "query")[0]

    def _write(
        self,
        which: Literal["items", "windows"],
        records: Records,
        show_progress: bool | None,
        vectors: Mapping[str, np.ndarray] | None = None,
    ) -> UpsertReport:
        show = self.config.show_progress if show_progress is None else show_progress
        return writer.write_records(
            self._col(which),
            records,
            lambda texts: self._embed(texts, which),
            batch=self._batch(),
            show_progress=show,
            what=which,
            location=self.location,
            given=(vectors, lambda matrix: self._accept(matrix, len(matrix), which)) if vectors else None,
        )

    def _window_where(self, user_id: str, freq: str | None) -> dict[str, Any]:
        where: dict[str, Any] = {"user_id": user_id}
        return where if freq is None else {"$and": [where, {"freq": freq}]}

    def _delete(self, collection: Collection, ids: Iterable[str]) -> int:
        return writer.delete_ids(collection, ids, batch=self._batch(), location=self.location)

    # ------------------------------------------------------------------------------------ writes

    def upsert_items(
        self,
        items: pd.DataFrame,
        show_progress: bool | None = None,
        vectors: Mapping[str, np.ndarray] | None = None,
    ) -> UpsertReport:
        """Embed and store items; items whose text is unchanged are not re-embedded.

        Args:
            items: Canonical items (``item_id``, ``title``, ``categories``, optional ``description``).
            show_progress: Progress bar; None uses the config (terminal only).
            vectors: Vectors already computed with this store's model, keyed by
                :func:`~interest_tools.store._embed.content_hash` of (text, model); texts not found are embedded here.

        Raises:
            DataValidationError: Missing column, empty id or title, duplicate id (nothing written).
            StoreError: Embedding dimension differs from the store's, or Chroma fails.
        """
        return self._write("items", item_records(items, self.model_name), show_progress, vectors)

    def upsert_windows(
        self,
        docs: Sequence[WindowDoc],
        show_progress: bool | None = None,
        vectors: Mapping[str, np.ndarray] | None = None,
    ) -> UpsertReport:
        """Embed and store window summaries (id ``window:<user>:<freq>:<index>``); unchanged text is skipped.

        ``vectors`` are precomputed vectors keyed by content hash, as for :meth:`upsert_items`.

        Raises:
            DataValidationError: Empty text or duplicate id (nothing written).
            StoreError: Embedding dimension differs from the store's, or Chroma fails.
        """
        return self._write("windows", window_records(docs, self.model_name), show_progress, vectors)

    def replace_user_windows(self, user_id: str, freq: str, docs: Sequence[WindowDoc]) -> UpsertReport:
        """Make ``docs`` the user's complete set of ``freq`` windows: upsert them, then delete the others.

        Raises:
            DataValidationError: A document of another user or freq, empty text, duplicate id (nothing written).
        """
        for row, doc in enumerate(docs, start=1):
            if isinstance(doc, WindowDoc) and (doc.user_id != user_id or doc.freq != freq):
                raise DataValidationError(
                    f"document {doc.doc_id!r} is not a '{freq}' window of user {user_id!r}; nothing was written",
                    source="windows",
                    row=row,
                    fix="pass only the documents of this user and freq",
                )
        records = window_records(docs, self.model_name)
        report = self._write("windows", records, None)
        keep = set(records.ids)
        stale = [rid for rid in self.user_window_ids(user_id, freq) if rid not in keep]
        return report.model_copy(update={"n_deleted": self._delete(self._col("windows"), stale)})

    def forget_user(self, user_id: str) -> int:
        """Delete every window of the user; returns how many were deleted (0 when none)."""
        return self._delete(self._col("windows"), self.user_window_ids(user_id))

    def delete_windows(self, ids: Iterable[str]) -> int:
        """Delete windows by store id (``window:<user>:<freq>:<index>``); returns how many existed."""
        return self._delete(self._col("windows"), ids)

    def delete_items(self, item_ids: Iterable[str]) -> int:
        """Delete items by item id; returns how many existed."""
        return self._delete(self._col("items"), (item_id_to_store(str(i)) for i in item_ids))

    # ------------------------------------------------------------------------------------ reads

    def query_items(
        self,
        vector: Any = None,
        text: str | None = None,
        k: int = 10,
        exclude_ids: Iterable[str] = (),
        categories_any: Iterable[str] | None = None,
        categories_none: Iterable[str] | None = None,
    ) -> list[ItemHit]:
        """Nearest items to a vector or a text, best first.

        Args:
            vector: Query vector (normalised here); give this or ``text``.
            text: Query text, embedded with the store's model.
            k: How many items at most.
            exclude_ids: Item ids never returned (e.g. already seen).
            categories_any: Keep items having at least one of these categories (exact names); None or empty:
                no filter.
            categories_none: Drop items having any of these categories.

        Raises:
            ConfigError: Neither or both of vector/text, k < 1, wrong vector length.
            NotBuiltError: The store holds no items.
        """
        if k < 1:
            raise ConfigError(f"k must be at least 1, got {k}")
        q = self._query_vector(vector, text)
        collection = self._col("items")
        count = collection.count()
        if count == 0:
            raise NotBuiltError(f"the store at {self.location} holds no items. Fix: run `interest-tools build`")
        where = backend.items_where(exclude_ids, categories_any, categories_none)
        result = collection.query(
            query_embeddings=q[None, :],
            n_results=min(k, count),
            where=cast(Any, where),
            include=cast(Any, ["metadatas", "distances"]),
        )
        metas = (result["metadatas"] or [[]])[0]
        distances = (result["distances"] or [[]])[0]
        return [item_hit(dict(m), 1.0 - float(d)) for m, d in zip(metas, distances, strict=True)]

    def get_item_vectors(self, item_ids: Sequence[str], missing: Literal["raise", "nan"] = "raise") -> np.ndarray:
        """Stored vectors of items, one row per id in the given order.

        Args:
            item_ids: Item ids (repeats allowed).
            missing: ``"raise"`` (default): :class:`StoreError` naming the absent ids; ``"nan"``: NaN rows.
        """
        ids = [str(i) for i in item_ids]
        unique = list(dict.fromkeys(item_id_to_store(i) for i in ids))
        rows = writer.vectors_by_id(self._col("items"), unique, batch=self._batch())
        absent = [i for i in ids if item_id_to_store(i) not in rows]
        if absent and missing == "raise":
            raise StoreError(
                f"{len(absent)} item id(s) are not in the store at {self.location}, e.g. {absent[:10]}. "
                "Fix: upsert these items (interest-tools build), or pass missing='nan'"
            )
        dim = self.dimension or 0
        out = np.full((len(ids), dim), np.nan, dtype=np.float32)
        for r, i in enumerate(ids):
            vec = rows.get(item_id_to_store(i))
            if vec is not None:
                out[r] = vec
        return out

    def all_item_vectors(self) -> tuple[list[str], np.ndarray]:
        """Every stored item id (sorted) and its vector (matrix rows in the same order)."""
        ids: list[str] = []
        vectors: list[np.ndarray] = []
        for got in writer.pages(self._col("items"), ["embeddings", "metadatas"], batch=self._batch()):
            ids += [str(dict(m or {})["item_id"]) for m in got["metadatas"] or []]
            vectors.append(np.asarray(got["embeddings"], dtype=np.float32))
        if not ids:
            return [], np.zeros((0, self.dimension or 0), dtype=np.float32)
        order = np.argsort(np.asarray(ids, dtype=object), kind="stable")
        return [ids[i] for i in order], np.concatenate(vectors)[order]

    def search_history(self, user_id: str, query: str, k: int = 5, freq: str | None = None) -> list[WindowHit]:
        """The user's window summaries closest to ``query``, best first; never another user's windows.

        Raises:
            ConfigError: Empty query or k < 1.
            NotBuiltError: The store holds no windows at all.
            UnknownUserError: The user has no windows (of this freq) in the store.
        """
        if k < 1:
            raise ConfigError(f"k must be at least 1, got {k}")
        n_user = len(self.user_window_ids(user_id, freq))
        if n_user == 0:
            if self._col("windows").count() == 0:
                raise NotBuiltError(f"the store at {self.location} holds no windows. Fix: run `interest-tools build`")
            raise UnknownUserError(user_id)
        q = self._query_vector(None, query)
        result = self._col("windows").query(
            query_embeddings=q[None, :],
            n_results=min(k, n_user),
            where=cast(Any, self._window_where(user_id, freq)),
            include=cast(Any, ["metadatas", "documents", "distances"]),
        )
        metas = (result["metadatas"] or [[]])[0]
        docs = (result["documents"] or [[]])[0]
        distances = (result["distances"] or [[]])[0]
        hits = [window_hit(dict(m), doc, 1.0 - float(d)) for m, doc, d in zip(metas, docs, distances, strict=True)]
        return [h for h in hits if h.user_id == user_id]

    def user_window_ids(self, user_id: str, freq: str | None = None) -> list[str]:
        """Store ids of the user's windows (optionally one freq), ordered by freq then index."""
        got = self._col("windows").get(
            where=cast(Any, self._window_where(user_id, freq)), include=cast(Any, ["metadatas"])
        )
        metas = [dict(m or {}) for m in got["metadatas"] or []]
        pairs = [
            (str(m.get("freq")), int(cast(int, m.get("index", 0))), rid)
            for rid, m in zip(got["ids"], metas, strict=True)
        ]
        return [rid for _, _, rid in sorted(pairs)]

    def window_ids(self, freq: str | None = None) -> list[str]:
        """Store ids of every window (optionally of one freq), sorted."""
        return writer.all_ids(self._col("windows"), {"freq": freq} if freq is not None else None, batch=self._batch())

    def content_hashes(self, which: Literal["items", "windows"]) -> set[str]:
        """Content hashes of every stored record of one collection (texts that need no embedding again)."""
        pages = writer.pages(self._col(which), ["metadatas"], batch=self._batch())
        return {str(m[HASH_KEY]) for got in pages for m in got["metadatas"] or [] if m and HASH_KEY in m}

    def item_ids(self) -> list[str]:
        """Item ids of every stored item, sorted."""
        ids = writer.all_ids(self._col("items"), None, batch=self._batch())
        return sorted(rid.removeprefix("item:") for rid in ids)

    def records(self, which: Literal["items", "windows"], ids: Sequence[str] | None = None) -> dict[str, list[Any]]:
        """Stored records of one collection (all, or those of ``ids``): ids, documents, metadatas, embeddings."""
        return writer.read_records(self._col(which), ids, batch=self._batch())

    def counts(self) -> dict[str, int]:
        """Record counts: ``{"items": n, "windows": n}``."""
        return {"items": self._col("items").count(), "windows": self._col("windows").count()}

    def info(self) -> dict[str, Any]:
        """Location, collections, model, dimension and counts (JSON-ready)."""
        return {
            "location": self.location,
            "items_collection": self.config.items_name,
            "windows_collection": self.config.windows_name,
            "embedding_model": self.model_name,
            "dimension": self.dimension,
            **self.counts(),
        }
