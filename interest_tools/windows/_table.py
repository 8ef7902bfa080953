"""The result of windowing: :class:`Window` (one window of one user) and :class:`WindowTable` (all, column-wise).

:class:`WindowTable` holds every user's windows as arrays (CSR category and item weights); :class:`Window`
objects are materialised per user on demand.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from interest_tools.errors import UnknownUserError

if TYPE_CHECKING:
    from interest_tools.windows._compute import WindowConfig


class Window(BaseModel):
    """One window of one user's history."""

    user_id: str = Field(description="The user this window belongs to.")
    index: int = Field(description="Calendar period number (calendar cuts) or 0-based window number (others).")
    start: datetime = Field(description="Inclusive start (UTC).")
    end: datetime = Field(description="Exclusive end (UTC).")
    n_events: int = Field(description="Events in the window.")
    item_ids: list[str] = Field(description="Distinct items in the window, in top_items order.")
    category_weights: dict[str, float] = Field(description="Category share of the window's weight; sums to 1.")
    top_items: list[str] = Field(description="Up to top_k item ids by weight (ties: mean rating, then item id).")
    new_categories: list[str] = Field(description="Categories present here but not in the user's previous window.")
    faded_categories: list[str] = Field(description="Categories of the previous window that are absent here.")
    mean_rating: float | None = Field(description="Mean rating of the rated events, None when none is rated.")

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form used by the CLI and tools (ISO 8601 times)."""
        return self.model_dump(mode="json")


@dataclass
class WindowTable:
    """Every user's windows, column-wise. Rows are sorted by user, then index."""

    config: WindowConfig
    frame: pd.DataFrame  # user_id, index, start, end, n_events, mean_rating
    categories: np.ndarray  # category name per code
    item_ids: np.ndarray  # item id per code (sorted)
    cat_indptr: np.ndarray
    cat_codes: np.ndarray
    cat_weights: np.ndarray
    item_indptr: np.ndarray
    item_codes: np.ndarray
    item_weights: np.ndarray
    user_rows: dict[str, tuple[int, int]]

    def __len__(self) -> int:
        return len(self.frame)

    def users(self) -> list[str]:
        """Return the users that have windows, sorted."""
        return list(self.user_rows)

    def rows_for(self, user_id: str) -> range:
        """Return the table rows of one user.

        Raises:
            UnknownUserError: The user has no windows.
        """
        if user_id not in self.user_rows:
            raise UnknownUserError(user_id)
        lo, hi = self.user_rows[user_id]
        return range(lo, hi)

    def category_dict(self, row: int) -> dict[str, float]:
        """Return one window's category weights, largest first (ties by name)."""
        lo, hi = self.cat_indptr[row], self.cat_indptr[row + 1]
        pairs = zip(self.categories[self.cat_codes[lo:hi]].tolist(), self.cat_weights[lo:hi].tolist(), strict=True)
        return dict(sorted(pairs, key=lambda p: (-p[1], p[0])))

    @cached_property
    def _columns(self) -> dict[str, Any]:
        """The frame's columns as arrays (row access on a DataFrame costs far more than on an array)."""
        f = self.frame
        start, end = f["start"].dt.tz_convert("UTC"), f["end"].dt.tz_convert("UTC")
        return {
            "user_id": f["user_id"].to_numpy(dtype=object),
            "index": f["index"].to_numpy(),
            "start": start.array.asi8,
            "end": end.dt.as_unit(start.dt.unit).array.asi8,
            "unit": start.dt.unit,
            "n_events": f["n_events"].to_numpy(),
            "mean_rating": f["mean_rating"].to_numpy(dtype=float, na_value=np.nan),
        }

    def window(self, row: int) -> Window:
        """Materialise one row as a :class:`Window` (with new and faded categories)."""
        col = self._columns
        cats = self.category_dict(row)
        lo, hi = self.item_indptr[row], self.item_indptr[row + 1]
        items = self.item_ids[self.item_codes[lo:hi]].tolist()
        user = str(col["user_id"][row])
        prev: dict[str, float] = {}
        if row > 0 and self.user_rows[user][0] < row:
            prev = self.category_dict(row - 1)
        mean = col["mean_rating"][row]
        unit = col["unit"]
        return Window(
            user_id=user,
            index=int(col["index"][row]),
            start=pd.Timestamp(int(col["start"][row]), unit=unit, tz="UTC").to_pydatetime(),
            end=pd.Timestamp(int(col["end"][row]), unit=unit, tz="UTC").to_pydatetime(),
            n_events=int(col["n_events"][row]),
            item_ids=items,
            category_weights={k: round(v, 6) for k, v in cats.items()},
            top_items=items[: self.config.top_k],
            new_categories=sorted(set(cats) - set(prev)) if prev else sorted(cats),
            faded_categories=sorted(set(prev) - set(cats)),
            mean_rating=None if pd.isna(mean) else round(float(mean), 4),
        )

    def for_user(self, user_id: str) -> list[Window]:
        """Return one user's windows in time order."""
        return [self.window(r) for r in self.rows_for(user_id)]

    def __iter__(self) -> Iterator[Window]:
        for row in range(len(self.frame)):
            yield self.window(row)

    def category_matrix(self) -> np.ndarray:
        """Return a dense (windows x categories) float32 matrix of category weights."""
        out = np.zeros((len(self.frame), len(self.categories)), dtype=np.float32)
        rows = np.repeat(np.arange(len(self.frame)), np.diff(self.cat_indptr))
        out[rows, self.cat_codes] = self.cat_weights
        return out
