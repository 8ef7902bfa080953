"""Bundled datasets.

``movielens-small`` is MovieLens ml-latest-small (GroupLens), shipped under its own licence
(``movielens_small/README.txt``): research use, no endorsement, cite Harper and Konstan (2015),
no commercial use without permission.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pandas as pd

from interest_tools.data._load import (
    Dataset,
    LoadReport,
    attach_catalog,
    canonicalize_events,
    load_events,
    load_items,
)

__all__ = ["DATASETS", "MOVIELENS_DIR", "load_movielens_small", "load_named"]

MOVIELENS_DIR = Path(__file__).parent / "movielens_small"
DATASETS = ("movielens-small",)


def load_movielens_small() -> Dataset:
    """Load the bundled MovieLens ml-latest-small in canonical form.

    Genres become categories; each (user, movie) pair's tags (tags.csv, in time order, ``"; "``-joined)
    become the free text of that pair's rating event. Events are ratings (``event="rating"``), weight 1.0.

    Returns:
        100,836 events of 610 users over 9,742 movies.
    """
    return _load_movielens_small().copy_frames()


@lru_cache(maxsize=1)
def _load_movielens_small() -> _Cached:
    items = load_items(MOVIELENS_DIR / "movies.csv", {"movieId": "item_id", "genres": "categories"})
    events, report = load_events(MOVIELENS_DIR / "ratings.csv", {"userId": "user_id", "movieId": "item_id"})
    tags = pd.read_csv(MOVIELENS_DIR / "tags.csv", dtype={"userId": str, "movieId": str, "tag": str})
    tags = tags.dropna(subset=["tag"]).sort_values(["userId", "movieId", "timestamp", "tag"])
    joined = tags.groupby(["userId", "movieId"], sort=False)["tag"].agg(lambda t: "; ".join(dict.fromkeys(t)))
    key = pd.MultiIndex.from_arrays([events["user_id"], events["item_id"]])
    events["text"] = joined.reindex(key).fillna("").to_numpy(dtype=object)
    events["event"] = "rating"
    events = canonicalize_events(events, report)
    attach_catalog(events, items, report)
    return _Cached(Dataset(events=events, items=items, name="movielens-small", report=report))


class _Cached:
    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def copy_frames(self) -> Dataset:
        d = self.dataset
        report = LoadReport(**vars(d.report))
        return Dataset(events=d.events.copy(), items=d.items.copy(), name=d.name, report=report)


def load_named(name: str) -> Dataset:
    """Load a bundled dataset by name.

    Raises:
        ConfigError: The name is not a bundled dataset.
    """
    from interest_tools.errors import ConfigError

    if name == "movielens-small":
        return load_movielens_small()
    raise ConfigError(f"unknown dataset '{name}'; bundled datasets: {', '.join(DATASETS)}")
