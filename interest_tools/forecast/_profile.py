"""Helpers shared by every forecaster: the item space, window tables seen through it, and Forecast assembly."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pandas as pd

from interest_tools.errors import ConfigError
from interest_tools.forecast._types import CategoryShift, Forecast, NextWindow
from interest_tools.windows import WindowTable


def item_vocab_hash(item_ids: list[str] | np.ndarray) -> str:
    """Stable hash of the item vocabulary (ids in catalog order); checkpoints record it."""
    digest = hashlib.sha256()
    for item in item_ids:
        digest.update(str(item).encode())
        digest.update(b"\x00")
    return digest.hexdigest()[:32]


@dataclass
class ItemSpace:
    """The catalog as forecasters see it: item ids in row order and the category vocabulary."""

    item_ids: np.ndarray  # object array, catalog order
    categories: list[str]  # sorted category vocabulary
    item_categories: list[list[int]]  # category codes per item

    @classmethod
    def from_items(cls, items: pd.DataFrame) -> ItemSpace:
        """Build from a canonical items frame (its row order is the scoring order)."""
        if "item_id" not in items or "categories" not in items:
            raise ConfigError("items must be a canonical items frame with 'item_id' and 'categories' columns")
        cats = [list(c) if isinstance(c, list | tuple | np.ndarray) else [] for c in items["categories"]]
        vocab = sorted({c for cs in cats for c in cs})
        code = {c: i for i, c in enumerate(vocab)}
        return cls(
            item_ids=np.asarray(items["item_id"].astype(str).to_numpy(), dtype=object),
            categories=vocab,
            item_categories=[[code[c] for c in cs] for cs in cats],
        )

    @property
    def n_items(self) -> int:
        """Number of catalog items."""
        return len(self.item_ids)

    @property
    def vocab_hash(self) -> str:
        """Hash of the item ids in order."""
        return item_vocab_hash(self.item_ids)

    def membership(self) -> np.ndarray:
        """Return a dense (items x categories) float32 matrix; each item's categories share 1 equally."""
        out = np.zeros((self.n_items, len(self.categories)), dtype=np.float32)
        for i, cs in enumerate(self.item_categories):
            if cs:
                out[i, cs] = 1.0 / len(cs)
        return out


@dataclass
class TableView:
    """A :class:`WindowTable` re-indexed to an item space and category vocabulary.

    Item lists hold catalog row indices (items outside the catalog dropped) with weights that sum to 1 per window
    (all zero when a window has no catalog item).
    """

    table: WindowTable
    item_indptr: np.ndarray
    item_idx: np.ndarray
    item_w: np.ndarray
    cats: np.ndarray  # (rows, categories) float32, vocabulary order
    user_start: np.ndarray  # (rows,) first row of each row's user
    context: np.ndarray | None = None  # (rows, dim) float32 step context (summary_input), or None

    @classmethod
    def build(cls, table: WindowTable, space: ItemSpace) -> TableView:
        """Map a table's item codes and category names onto ``space``."""
        lookup = pd.Index(space.item_ids).get_indexer(np.asarray(table.item_ids, dtype=object).astype(str))
        idx = lookup[table.item_codes]
        keep = idx >= 0
        row_of = np.repeat(np.arange(len(table)), np.diff(table.item_indptr))
        w = np.asarray(table.item_weights, dtype=np.float64)[keep]
        w = np.where(w > 0, w, 1e-6)
        rows = row_of[keep]
        totals = np.bincount(rows, weights=w, minlength=len(table))
        indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=len(table)))])
        cat_lookup = pd.Index(space.categories).get_indexer(pd.Index(np.asarray(table.categories, dtype=object)))
        dense = table.category_matrix()
        cats = np.zeros((len(table), len(space.categories)), dtype=np.float32)
        ok = cat_lookup >= 0
        cats[:, cat_lookup[ok]] = dense[:, ok]
        user_start = np.zeros(len(table), dtype=np.int64)
        for lo, hi in table.user_rows.values():
            user_start[lo:hi] = lo
        return cls(
            table=table,
            item_indptr=indptr.astype(np.int64),
            item_idx=idx[keep].astype(np.int64),
            item_w=(w / totals[rows]).astype(np.float32),
            cats=cats,
            user_start=user_start,
        )

    def rows(self, user_id: str) -> range:
        """Rows of one user (raises UnknownUserError)."""
        return self.table.rows_for(user_id)

    def items_of(self, row: int) -> tuple[np.ndarray, np.ndarray]:
        """Catalog indices and normalised weights of one window."""
        lo, hi = self.item_indptr[row], self.item_indptr[row + 1]
        return self.item_idx[lo:hi], self.item_w[lo:hi]

    def seen(self, user_id: str) -> np.ndarray:
        """Catalog indices of every item in the user's windows."""
        r = self.rows(user_id)
        return np.unique(self.item_idx[self.item_indptr[r.start] : self.item_indptr[r.stop]])

    def mean_vector(self, rows: range | list[int], item_vectors: np.ndarray) -> np.ndarray:
        """Weighted mean item vector of windows (each window counts equally), unit length."""
        out = np.zeros(item_vectors.shape[1], dtype=np.float64)
        for row in rows:
            idx, w = self.items_of(row)
            if len(idx):
                out += w @ item_vectors[idx]
        return unit(out)

    def recent_share(self, user_id: str, k: int) -> np.ndarray:
        """The user's recent category share: mean of the last ``k`` windows weighted by their events."""
        r = self.rows(user_id)
        rows = list(r)[-k:]
        n = self.table.frame["n_events"].to_numpy()[rows].astype(np.float64)
        share = (n[:, None] * self.cats[rows]).sum(0) / max(n.sum(), 1e-12)
        return share.astype(np.float64)


def unit(vector: np.ndarray) -> np.ndarray:
    """Scale to unit length (zero stays zero)."""
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


def view_for(cache: dict[int, TableView], table: WindowTable, space: ItemSpace) -> TableView:
    """Return the cached view of ``table`` (keyed by identity; at most a few are kept)."""
    view = cache.get(id(table))
    if view is None or view.table is not table:
        if len(cache) >= 4:
            cache.clear()
        view = TableView.build(table, space)
        cache[id(table)] = view
    return view


def next_window(table: WindowTable, user_id: str) -> NextWindow:
    """The period after the user's last window: the next calendar period, or the median window length."""
    r = table.rows_for(user_id)
    frame = table.frame
    start = pd.Timestamp(frame["end"].iloc[r.stop - 1])
    freq = table.config.freq
    if freq is not None:
        offsets = {
            "week": pd.DateOffset(weeks=1),
            "month": pd.DateOffset(months=1),
            "quarter": pd.DateOffset(months=3),
            "year": pd.DateOffset(years=1),
        }
        end = start + offsets[freq]
    else:
        spans = (frame["end"].iloc[r.start : r.stop] - frame["start"].iloc[r.start : r.stop]).dt.total_seconds()
        end = start + timedelta(seconds=max(float(spans.median()), 1.0))
    return NextWindow(start=start.to_pydatetime(), end=pd.Timestamp(end).to_pydatetime())


def make_forecast(
    user_id: str,
    probs: np.ndarray,
    recent: np.ndarray,
    categories: list[str],
    window: NextWindow,
    model: str,
    interest: np.ndarray,
    threshold: float = 0.02,
) -> Forecast:
    """Assemble a :class:`Forecast` from a category distribution and the user's recent share."""
    probs = np.asarray(probs, dtype=np.float64)
    total = probs.sum()
    if total > 0:
        probs = probs / total
    order = sorted(range(len(categories)), key=lambda i: (-probs[i], categories[i]))
    weights = {categories[i]: round(float(probs[i]), 4) for i in order if probs[i] >= 0.001}
    delta = probs - recent
    rising = [i for i in np.argsort(-delta, kind="stable") if delta[i] > threshold]
    falling = [i for i in np.argsort(delta, kind="stable") if delta[i] < -threshold]

    def shifts(idx: list[int]) -> list[CategoryShift]:
        return [
            CategoryShift(category=categories[i], before=round(float(recent[i]), 4), after=round(float(probs[i]), 4))
            for i in idx
        ]

    return Forecast(
        user_id=user_id,
        next_window=window,
        category_weights=weights,
        rising=shifts(rising),
        falling=shifts(falling),
        model=model,
        interest_vector=[float(x) for x in unit(np.asarray(interest, dtype=np.float64))],
    )


def check_item_vectors(item_vectors: np.ndarray, space: ItemSpace) -> np.ndarray:
    """Validate that item vectors are a 2-D matrix with one row per catalog item; return float32."""
    vectors = np.asarray(item_vectors, dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[0] != space.n_items:
        raise ConfigError(
            f"item_vectors has shape {vectors.shape} but the catalog has {space.n_items} items: pass one embedding "
            "row per item, in the items frame's order (see interest_tools.store._embed.embed_matrix)"
        )
    if not np.isfinite(vectors).all():
        raise ConfigError("item_vectors contains NaN or infinite values: re-embed the items")
    return vectors
