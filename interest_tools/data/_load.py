"""Canonical events and items: load from CSV, Parquet, JSONL or a DataFrame, validate, normalise.

Canonical events (one row per interaction, sorted by ``user_id, timestamp, item_id``):
``user_id`` (str), ``item_id`` (str), ``timestamp`` (datetime64, UTC), ``rating`` (float, NaN when absent),
``weight`` (float, 1.0 when absent), ``event`` (str), ``text`` (str, free text such as tags or reviews).

Canonical items (sorted by ``item_id``): ``item_id`` (str), ``title`` (str), ``categories`` (list of str),
``description`` (str).

Validation stops at the first problem with one :class:`DataValidationError` that names the file, the 1-based
data row (header excluded), the column, and the fix. Nothing is half-loaded: a loader either returns a complete
frame or raises.

The column parsers are in :mod:`interest_tools.data._validation`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from interest_tools.data._readers import Source, read_table
from interest_tools.data._validation import (
    first_bad,
    parse_ids,
    parse_numbers,
    parse_text,
    parse_timestamps,
    utc_ns,
)
from interest_tools.errors import DataValidationError

__all__ = [
    "EVENT_OPTIONAL",
    "EVENT_REQUIRED",
    "ITEM_OPTIONAL",
    "ITEM_REQUIRED",
    "UNKNOWN_CATEGORY",
    "Dataset",
    "LoadReport",
    "attach_catalog",
    "canonicalize_events",
    "load_dataset",
    "load_events",
    "load_items",
    "split_categories",
]


logger = logging.getLogger(__name__)

EVENT_REQUIRED = ("user_id", "item_id", "timestamp")
EVENT_OPTIONAL = ("rating", "weight", "event", "text")
ITEM_REQUIRED = ("item_id", "title", "categories")
ITEM_OPTIONAL = ("description",)
UNKNOWN_CATEGORY = "unknown"


@dataclass
class LoadReport:
    """What loading repaired on the way; every repair is counted, never silent."""

    source: str = "<DataFrame>"
    rows_read: int = 0
    duplicates_dropped: int = 0
    unknown_item_events: int = 0
    unknown_item_ids: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass
class Dataset:
    """Events and items in canonical form, plus what loading repaired."""

    events: pd.DataFrame
    items: pd.DataFrame
    name: str = "custom"
    report: LoadReport = field(default_factory=LoadReport)

    def user_ids(self) -> list[str]:
        """Return every user id, sorted."""
        return sorted(self.events["user_id"].unique().tolist())

    def user_events(self, user_id: str) -> pd.DataFrame:
        """Return one user's events (empty frame when the user is unknown)."""
        return self.events[self.events["user_id"] == user_id]


def user_row_ranges(events: pd.DataFrame) -> pd.DataFrame:
    """One row per user of user-sorted (canonical) events: ``user_id`` and its rows ``[start, stop)``."""
    users = events["user_id"].to_numpy()
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]]) if len(users) else np.zeros(0, dtype=np.int64)
    stops = np.r_[starts[1:], len(users)].astype(np.int64)
    return pd.DataFrame({"user_id": users[starts].astype(str), "start": starts, "stop": stops})


def _guess_source(frame: pd.DataFrame, wanted: str) -> str:
    """The file column that most likely holds ``wanted`` (``userId`` for ``user_id``), else a placeholder."""
    key = "".join(ch for ch in wanted.lower() if ch.isalnum())
    for col in frame.columns:
        if "".join(ch for ch in str(col).lower() if ch.isalnum()) == key:
            return str(col)
    return "YOUR_COLUMN"


def _apply_column_map(
    frame: pd.DataFrame, column_map: Mapping[str, str] | None, *, what: str, source: str
) -> pd.DataFrame:
    flag = "--column" if what == "events" else "--item-column"
    if column_map:
        absent = [src for src in column_map if src not in frame.columns]
        if absent:
            raise DataValidationError(
                f"column_map names columns that are not in the {what} file: {absent}",
                source=source,
                fix=f"the file has columns {list(frame.columns)}",
            )
        frame = frame.rename(columns=dict(column_map))
    required = EVENT_REQUIRED if what == "events" else ITEM_REQUIRED
    missing = [c for c in required if c not in frame.columns]
    if missing:
        if len(frame.columns) == 1 and any(sep in str(frame.columns[0]) for sep in ";|\t:"):
            fix = (
                f"the header was read as one column {str(frame.columns[0])!r}: separate the columns with commas "
                "(.csv), semicolons, or tabs (.tsv)"
            )
        else:
            guess = _guess_source(frame, missing[0])
            fix = (
                f"the file has columns {list(frame.columns)}; rename them, or map them: on the command line "
                f"{flag} {missing[0]}={guess}, in Python column_map={{'{guess}': '{missing[0]}'}}"
            )
        raise DataValidationError(
            f"missing required {what} column(s) {missing}", source=source, column=missing[0], fix=fix
        )
    return frame


# ---------------------------------------------------------------------------------------------- events


def load_events(
    source: Source, column_map: Mapping[str, str] | None = None, *, date_format: str | None = None
) -> tuple[pd.DataFrame, LoadReport]:
    """Load and validate an interaction log into canonical events.

    Args:
        source: File path (CSV, TSV, Parquet, JSONL, each optionally gzipped) or DataFrame.
        column_map: Source column name to canonical name, e.g. ``{"userId": "user_id"}``.
        date_format: A :func:`~datetime.datetime.strptime` format that every text timestamp has (e.g.
            ``"%d/%m/%Y"``); by default text timestamps must be ISO 8601 or unix time (see
            :func:`~interest_tools.data._validation.parse_timestamps`).

    Returns:
        The canonical events, sorted by ``user_id, timestamp, item_id``, and a report of repairs
        (exact duplicates dropped).

    Raises:
        DataValidationError: The first problem found, with file, row, column and fix.
    """
    raw, name = read_table(source, what="events")
    raw = _apply_column_map(raw, column_map, what="events", source=name)
    report = LoadReport(source=name, rows_read=len(raw))
    rows = np.arange(1, len(raw) + 1)
    raw = raw.reset_index(drop=True)
    events = pd.DataFrame(
        {
            "user_id": parse_ids(raw, "user_id", name, rows),
            "item_id": parse_ids(raw, "item_id", name, rows),
            "timestamp": parse_timestamps(raw["timestamp"], source=name, rows=rows, date_format=date_format),
        }
    )
    events["rating"] = parse_numbers(raw, "rating", name, rows, default=np.nan) if "rating" in raw else np.nan
    if "weight" in raw:
        weight = parse_numbers(raw, "weight", name, rows, default=1.0)
        if (weight < 0).any():
            i = first_bad(weight < 0)
            raise DataValidationError(
                f"negative weight {raw['weight'].iloc[i]!r}",
                source=name,
                row=int(rows[i]),
                column="weight",
                fix="weights must be >= 0 (use 0 to ignore an event)",
            )
        events["weight"] = weight
    else:
        events["weight"] = 1.0
    events["event"] = parse_text(raw, "event")
    events["text"] = parse_text(raw, "text")
    return canonicalize_events(events, report), report


def canonicalize_events(events: pd.DataFrame, report: LoadReport | None = None) -> pd.DataFrame:
    """Drop exact duplicates and sort, so that input order never matters."""
    key = ["user_id", "item_id", "timestamp", "event"]
    dup = events.duplicated(subset=key, keep="first")
    n_dup = int(dup.sum())
    if n_dup:
        events = events[~dup]
        if report is not None:
            report.duplicates_dropped += n_dup
            report.warnings.append(f"{n_dup} duplicate event(s) (same user, item, time and event) dropped")
    user_code = pd.factorize(events["user_id"], sort=True)[0]
    item_code = pd.factorize(events["item_id"], sort=True)[0]
    ts = utc_ns(events["timestamp"])
    order = np.lexsort((item_code, ts, user_code))
    return events.iloc[order].reset_index(drop=True)


# ---------------------------------------------------------------------------------------------- items


def split_categories(value: Any) -> list[str]:
    """Turn a ``|``-separated string or a list into a clean category list (order kept, duplicates dropped)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return []
    parts = list(value) if isinstance(value, list | tuple | np.ndarray) else str(value).split("|")
    seen: dict[str, None] = {}
    for part in parts:
        name = str(part).strip()
        if name and name.lower() != "(no genres listed)":
            seen.setdefault(name, None)
    return list(seen)


def load_items(source: Source, column_map: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Load and validate an item catalog.

    Args:
        source: File path (CSV, Parquet, JSONL) or DataFrame.
        column_map: Source column name to canonical name, e.g. ``{"movieId": "item_id", "genres": "categories"}``.

    Returns:
        Canonical items sorted by ``item_id``. An empty title is repaired to the item id; an item with no
        categories gets ``["unknown"]``.

    Raises:
        DataValidationError: Missing column, empty or duplicate item id.
    """
    raw, name = read_table(source, what="items")
    raw = _apply_column_map(raw, column_map, what="items", source=name).reset_index(drop=True)
    rows = np.arange(1, len(raw) + 1)
    item_ids = parse_ids(raw, "item_id", name, rows)
    dup = item_ids.duplicated(keep="first").to_numpy()
    if dup.any():
        i = first_bad(dup)
        raise DataValidationError(
            f"duplicate item_id {item_ids.iloc[i]!r}",
            source=name,
            row=int(rows[i]),
            column="item_id",
            fix="keep one catalog row per item",
        )
    titles = parse_text(raw, "title").str.strip()
    titles = titles.where(titles != "", item_ids)
    categories = raw["categories"].map(split_categories).map(lambda c: c or [UNKNOWN_CATEGORY])
    items = pd.DataFrame(
        {
            "item_id": item_ids,
            "title": titles,
            "categories": categories,
            "description": parse_text(raw, "description"),
        }
    )
    return items.sort_values("item_id", kind="stable").reset_index(drop=True)


# ---------------------------------------------------------------------------------------------- both


def attach_catalog(events: pd.DataFrame, items: pd.DataFrame, report: LoadReport) -> pd.DataFrame:
    """Check events against the catalog; unknown items are kept, counted and warned about.

    Events whose item is missing from the catalog keep category ``"unknown"`` (windowing gives any item
    outside the catalog that category).
    """
    known = pd.Index(items["item_id"])
    unknown = ~events["item_id"].isin(known)
    n_unknown = int(unknown.sum())
    if n_unknown:
        ids = sorted(events.loc[unknown, "item_id"].unique().tolist())
        report.unknown_item_events += n_unknown
        report.unknown_item_ids = ids[:20]
        message = (
            f"{n_unknown} event(s) name {len(ids)} item id(s) missing from the catalog (e.g. {ids[:5]}); "
            f"kept with category '{UNKNOWN_CATEGORY}'. Add them to the item file to fix this."
        )
        report.warnings.append(message)
        logger.warning(message)
    return events


def load_dataset(
    events: Source,
    items: Source,
    *,
    event_columns: Mapping[str, str] | None = None,
    item_columns: Mapping[str, str] | None = None,
    name: str = "custom",
    date_format: str | None = None,
) -> Dataset:
    """Load events and items together and check them against each other.

    Args:
        events: Interaction log (path or DataFrame).
        items: Item catalog (path or DataFrame).
        event_columns: Column mapping for the events.
        item_columns: Column mapping for the items.
        name: Dataset name, used in store ids and reports.
        date_format: strptime format of the text timestamps (see :func:`load_events`).

    Returns:
        The validated :class:`Dataset`.
    """
    item_frame = load_items(items, item_columns)
    event_frame, report = load_events(events, event_columns, date_format=date_format)
    attach_catalog(event_frame, item_frame, report)
    return Dataset(events=event_frame, items=item_frame, name=name, report=report)


def check_dataset(dataset: Dataset) -> None:
    """Check that a dataset is canonical (as :func:`interest_tools.data._load.load_dataset` returns it) before a build.

    Raises:
        DataValidationError: A column is missing, an id is empty, a time is missing or not UTC, a weight is
            negative or not finite, an item id repeats, or there are no events or no items.
    """
    fix = "load the data with interest_tools.data._load.load_dataset (or the CLI's --events/--items)"
    for frame, columns, where in (
        (dataset.events, EVENT_REQUIRED + EVENT_OPTIONAL, "<Dataset.events>"),
        (dataset.items, ITEM_REQUIRED + ITEM_OPTIONAL, "<Dataset.items>"),
    ):
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise DataValidationError(f"missing column(s) {missing}", source=where, column=missing[0], fix=fix)
        if frame.empty:
            raise DataValidationError("no rows: a build needs at least one event and one item", source=where, fix=fix)
        for column in ("user_id", "item_id") if where == "<Dataset.events>" else ("item_id",):
            bad = frame[column].isna().to_numpy() | (frame[column].astype(str).str.strip() == "").to_numpy()
            if bad.any():
                row = int(np.flatnonzero(bad)[0]) + 1
                raise DataValidationError(f"empty {column}", source=where, row=row, column=column, fix=fix)
    events = dataset.events
    ts = events["timestamp"]
    if not isinstance(ts.dtype, pd.DatetimeTZDtype) or ts.isna().any():
        raise DataValidationError(
            f"timestamps must be timezone-aware datetimes without gaps (dtype {ts.dtype})",
            source="<Dataset.events>", column="timestamp", fix=fix,
        )  # fmt: skip
    weight = pd.to_numeric(events["weight"], errors="coerce").to_numpy(dtype="float64")
    bad = ~np.isfinite(weight) | (weight < 0)
    if bad.any():
        row = int(np.flatnonzero(bad)[0]) + 1
        raise DataValidationError("weight must be a finite number >= 0", source="<Dataset.events>", row=row,
                                  column="weight", fix=fix)  # fmt: skip
    dup = dataset.items["item_id"].duplicated().to_numpy()
    if dup.any():
        row = int(np.flatnonzero(dup)[0]) + 1
        raise DataValidationError("duplicate item_id", source="<Dataset.items>", row=row, column="item_id", fix=fix)
