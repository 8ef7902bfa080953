"""An in-memory copy of the ``items`` collection's vectors, for exact search on the recommend hot path.

A Chroma query with filters costs tens of milliseconds; a NumPy dot product over 10k x 384 vectors costs well
under one. The mirror is read from the store once (``InterestStore.all_item_vectors``) and answers the same
calls as the store (``query_items``, ``get_item_vectors``) with the same filter semantics, so recommending
uses the store's own vectors without paying a round trip per request. Catalogs beyond ``MAX_MIRROR_ITEMS``
should keep querying Chroma (its HNSW index scales where a dense matrix does not).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import numpy as np
import pandas as pd

from interest_tools.errors import StoreError
from interest_tools.store._models import ItemHit
from interest_tools.threads import one_thread

MAX_MIRROR_ITEMS = 500_000


class ItemVectorMirror:
    """Exact nearest-item search over a snapshot of the store's item vectors."""

    def __init__(self, item_ids: Sequence[str], vectors: np.ndarray, items: pd.DataFrame) -> None:
        self.item_ids = list(item_ids)
        self.vectors = np.asarray(vectors, dtype=np.float32)
        self._row = {item_id: i for i, item_id in enumerate(self.item_ids)}
        meta = items.set_index("item_id")
        self._titles = [str(meta["title"].get(i, i)) for i in self.item_ids]
        self._cats: list[list[str]] = [list(meta["categories"].get(i, [])) for i in self.item_ids]
        rows_of: dict[str, list[int]] = {}
        for row, cats in enumerate(self._cats):
            for cat in cats:
                rows_of.setdefault(cat, []).append(row)
        self._cat_rows = {c: np.asarray(r, dtype=np.int64) for c, r in rows_of.items()}

    @classmethod
    def from_store(cls, store: Any, items: pd.DataFrame) -> ItemVectorMirror:
        """Read every item vector from ``store`` once."""
        ids, vectors = store.all_item_vectors()
        if len(ids) > MAX_MIRROR_ITEMS:
            raise StoreError(f"{len(ids):,} items are too many to mirror in memory; query the store instead")
        return cls(ids, vectors, items)

    def _mask(self, rows: Collection[str] | None) -> np.ndarray | None:
        if not rows:
            return None
        mask = np.zeros(len(self.item_ids), dtype=bool)
        for cat in rows:
            hit = self._cat_rows.get(cat)
            if hit is not None:
                mask[hit] = True
        return mask

    def query_items(
        self,
        vector: Sequence[float] | None = None,
        text: str | None = None,
        k: int = 10,
        exclude_ids: Collection[str] = (),
        categories_any: Collection[str] | None = None,
        categories_none: Collection[str] | None = None,
    ) -> list[ItemHit]:
        """Nearest items to a (normalised) vector by cosine, best first, with the store's filters."""
        if vector is None:
            raise StoreError("the in-memory mirror searches by vector only; embed the text first")
        q = np.asarray(vector, dtype=np.float32)
        q = q / (float(np.linalg.norm(q)) or 1.0)
        with one_thread():  # a matvec this size is memory-bound: a second thread only adds barrier waits
            scores = self.vectors @ q
        allowed = np.ones(len(scores), dtype=bool)
        any_mask = self._mask(categories_any)
        if any_mask is not None:
            allowed &= any_mask
        none_mask = self._mask(categories_none)
        if none_mask is not None:
            allowed &= ~none_mask
        rows = [r for r in map(self._row.get, exclude_ids) if r is not None]
        allowed[rows] = False
        scores = np.where(allowed, scores, -np.inf)
        k = min(k, int(allowed.sum()))
        if k <= 0:
            return []
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [  # built from our own validated snapshot: no need to validate each hit again
            ItemHit.model_construct(
                item_id=self.item_ids[r], title=self._titles[r], categories=self._cats[r], score=float(scores[r])
            )
            for r in top.tolist()
        ]

    def get_item_vectors(self, item_ids: Sequence[str], missing: str = "nan") -> np.ndarray:
        """Vectors of the given items in order; unknown ids give NaN rows."""
        rows = np.fromiter((self._row.get(i, -1) for i in item_ids), dtype=np.int64, count=len(item_ids))
        if not len(self.vectors):
            return np.full((len(item_ids), self.vectors.shape[1]), np.nan, dtype=np.float32)
        out = self.vectors[np.maximum(rows, 0)]
        out[rows < 0] = np.nan
        return out
