"""Titles and categories of catalog items by id: the one place that reads them out of the items frame."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Catalog:
    """Item id to title and to categories, looked up once (pass it instead of the items frame on hot paths).

    Attributes:
        titles: Item id to title.
        categories: Item id to its categories (a list; empty when the row has none).
    """

    titles: dict[str, str]
    categories: dict[str, list[str]]

    @classmethod
    def of(cls, items: pd.DataFrame | Catalog, ids: Iterable[str] | None = None) -> Catalog:
        """Build from a canonical items frame (only the rows of ``ids`` when given); a Catalog is returned as is."""
        if isinstance(items, Catalog):
            return items
        frame = items if ids is None else items[items["item_id"].isin(list(set(ids)))]
        keys = frame["item_id"].astype(str).tolist()
        cats = [list(c) if isinstance(c, list | tuple | np.ndarray) else [] for c in frame["categories"].tolist()]
        titles = frame["title"].astype(str).tolist()
        return cls(dict(zip(keys, titles, strict=True)), dict(zip(keys, cats, strict=True)))

    def all_categories(self) -> list[str]:
        """Every category of the catalog, sorted."""
        return sorted({c for cs in self.categories.values() for c in cs})
