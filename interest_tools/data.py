"""Canonical events and items: load from CSV, Parquet, JSONL or a DataFrame, validate, normalise.

Canonical events (one row per interaction, sorted by ``user_id, timestamp, item_id``):
``user_id`` (str), ``item_id`` (str), ``timestamp`` (datetime64, UTC), ``rating`` (float, NaN when absent),
``weight`` (float, 1.0 when absent), ``event`` (str), ``text`` (str, free text such as tags or reviews).

Canonical items (sorted by ``item_id``): ``item_id`` (str), ``title`` (str), ``categories`` (list of str),
``description`` (str).

Validation stops at the first problem with one :class:`DataValidationError` that names the file, the 1-based
data row (header excluded), the column, and the fix. Nothing is half-loaded: a loader either returns a complete
frame or raises.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from interest_tools.errors import DataValidationError
from interest_tools.readers import Source, read_table

logger = logging.getLogger(__name__)

EVENT_REQUIRED = ("user_id", "item_id", "timestamp")
EVENT_OPTIONAL = ("rating", "weight", "event", "text")
ITEM_REQUIRED = ("item_id", "title", "categories")
ITEM_OPTIONAL = ("description",)
UNKNOWN_CATEGORY = "unknown"
#: Timestamps outside [MIN_TIME, MAX_TIME) are rejected as out of range.
MIN_TIME = pd.Timestamp("1970-01-01", tz="UTC")
MAX_TIME = pd.Timestamp("2100-01-01", tz="UTC")
#: Numeric timestamps at or above this are unix milliseconds, below it unix seconds (1e11 s is year 5138).
MILLIS_THRESHOLD = 1e11
_MISSING_TEXT = {"", "none", "null"}


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


def _apply_column_map(
    frame: pd.DataFrame, column_map: Mapping[str, str] | None, *, what: str, source: str
) -> pd.DataFrame:
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
        raise DataValidationError(
            f"missing required {what} column(s) {missing}",
            source=source,
            column=missing[0],
            fix=(
                f"the file has columns {list(frame.columns)}; rename them or pass a column mapping, e.g. "
                f"column_map={{'{frame.columns[0] if len(frame.columns) else 'userId'}': '{missing[0]}'}}"
            ),
        )
    return frame


def utc_ns(times: pd.Series) -> np.ndarray:
    """Nanoseconds since the epoch (UTC) of a datetime column, whatever its unit or zone."""
    return pd.DatetimeIndex(times).as_unit("ns").asi8


def _is_missing(values: pd.Series) -> np.ndarray:
    """True where a raw cell is absent: None/NA, or an empty or 'null' string."""
    missing = values.isna().to_numpy(dtype=bool).copy()
    if values.dtype == object or pd.api.types.is_string_dtype(values.dtype):
        text = values.astype("string").str.strip().str.lower()
        missing |= text.isin(_MISSING_TEXT).fillna(False).to_numpy(dtype=bool)
    return missing


def _first_bad(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def _ids(frame: pd.DataFrame, column: str, source: str, rows: np.ndarray) -> pd.Series:
    values = frame[column]
    missing = _is_missing(values)
    if missing.any():
        i = _first_bad(missing)
        raise DataValidationError(
            f"empty {column} ({int(missing.sum())} row(s) in all)",
            source=source,
            row=int(rows[i]),
            column=column,
            fix=f"give every row a non-empty {column}, or drop those rows",
        )
    if pd.api.types.is_float_dtype(values.dtype) and bool(np.all(np.mod(values.to_numpy(), 1) == 0)):
        values = values.astype("int64")  # 1.0 -> "1", as JSON and Parquet write integer ids
    return values.astype(str).str.strip()


def parse_timestamps(values: pd.Series, *, source: str, rows: np.ndarray, column: str = "timestamp") -> pd.Series:
    """Parse unix seconds, unix milliseconds, ISO 8601 (with or without zone) or datetimes into UTC.

    A numeric value at or above ``1e11`` is read as milliseconds, below it as seconds, value by value (so a
    column that mixes units is repaired). Naive times are taken as UTC.

    Raises:
        DataValidationError: A value is empty, cannot be parsed, or lies outside 1970-01-01..2100-01-01.
    """
    missing = _is_missing(values)
    if missing.any():
        i = _first_bad(missing)
        raise DataValidationError(
            "empty timestamp", source=source, row=int(rows[i]), column=column, fix="give every event a time"
        )
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        parsed = pd.Series(pd.to_datetime(values, utc=True).astype("datetime64[ns, UTC]"), index=values.index)
    else:
        numeric = pd.to_numeric(values, errors="coerce")
        is_num = numeric.notna().to_numpy()
        nat = np.iinfo(np.int64).min
        ns = np.full(len(values), nat, dtype=np.int64)
        if is_num.any():
            num = numeric[is_num].to_numpy(dtype="float64")
            bad = ~np.isfinite(num) | (np.abs(num) >= 1e14)
            if bad.any():
                i = int(np.flatnonzero(is_num)[_first_bad(bad)])
                raise DataValidationError(
                    f"timestamp {values.iloc[i]!r} is out of range",
                    source=source,
                    row=int(rows[i]),
                    column=column,
                    fix="use unix seconds, unix milliseconds or ISO 8601 between 1970 and 2100",
                )
            seconds = np.where(np.abs(num) >= MILLIS_THRESHOLD, num / 1000.0, num)
            ns[is_num] = np.round(seconds * 1e6).astype(np.int64) * 1000
        if (~is_num).any():
            text = values[~is_num].astype(object)
            as_dt = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")
            if as_dt.isna().any():  # format="ISO8601" rejects some valid values (datetime objects, odd forms)
                as_dt = as_dt.fillna(pd.to_datetime(text.map(_parse_one), utc=True, errors="coerce"))
            as_ns = utc_ns(as_dt)
            ns[~is_num] = as_ns
        if (ns == nat).any():
            i = _first_bad(ns == nat)
            raise DataValidationError(
                f"cannot parse timestamp {values.iloc[i]!r}",
                source=source,
                row=int(rows[i]),
                column=column,
                fix="use unix seconds, unix milliseconds or ISO 8601 such as 2015-03-14T09:26:53Z",
            )
        parsed = pd.Series(pd.to_datetime(ns, unit="ns", utc=True), index=values.index)
    out_of_range = ((parsed < MIN_TIME) | (parsed >= MAX_TIME)).to_numpy()
    if out_of_range.any():
        i = _first_bad(out_of_range)
        raise DataValidationError(
            f"timestamp {values.iloc[i]!r} ({parsed.iloc[i]}) is out of range",
            source=source,
            row=int(rows[i]),
            column=column,
            fix="timestamps must lie between 1970-01-01 and 2100-01-01; check the unit (seconds or milliseconds)",
        )
    return parsed.astype("datetime64[ns, UTC]")


def _parse_one(value: Any) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError, OverflowError):
        return pd.NaT
    if ts is pd.NaT:
        return pd.NaT
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _numbers(frame: pd.DataFrame, column: str, source: str, rows: np.ndarray, *, default: float) -> np.ndarray:
    values = frame[column]
    missing = _is_missing(values)
    numeric = pd.to_numeric(values.where(~missing, None), errors="coerce").to_numpy(dtype="float64")
    bad = ~missing & ~np.isfinite(numeric)
    if bad.any():
        i = _first_bad(bad)
        raise DataValidationError(
            f"{column} {values.iloc[i]!r} is not a finite number",
            source=source,
            row=int(rows[i]),
            column=column,
            fix=f"write a number, or leave the cell empty for no {column}",
        )
    return np.where(missing, default, numeric)


def _text(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame.columns:
        return pd.Series("", index=frame.index, dtype=object)
    values = frame[column]
    return values.where(~_is_missing(values), "").astype(str)


# ---------------------------------------------------------------------------------------------- events


def load_events(source: Source, column_map: Mapping[str, str] | None = None) -> tuple[pd.DataFrame, LoadReport]:
    """Load and validate an interaction log into canonical events.

    Args:
        source: File path (CSV, Parquet, JSONL) or DataFrame.
        column_map: Source column name to canonical name, e.g. ``{"userId": "user_id"}``.

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
            "user_id": _ids(raw, "user_id", name, rows),
            "item_id": _ids(raw, "item_id", name, rows),
            "timestamp": parse_timestamps(raw["timestamp"], source=name, rows=rows),
        }
    )
    events["rating"] = _numbers(raw, "rating", name, rows, default=np.nan) if "rating" in raw else np.nan
    if "weight" in raw:
        weight = _numbers(raw, "weight", name, rows, default=1.0)
        if (weight < 0).any():
            i = _first_bad(weight < 0)
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
    events["event"] = _text(raw, "event")
    events["text"] = _text(raw, "text")
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
    item_ids = _ids(raw, "item_id", name, rows)
    dup = item_ids.duplicated(keep="first").to_numpy()
    if dup.any():
        i = _first_bad(dup)
        raise DataValidationError(
            f"duplicate item_id {item_ids.iloc[i]!r}",
            source=name,
            row=int(rows[i]),
            column="item_id",
            fix="keep one catalog row per item",
        )
    titles = _text(raw, "title").str.strip()
    titles = titles.where(titles != "", item_ids)
    categories = raw["categories"].map(split_categories).map(lambda c: c or [UNKNOWN_CATEGORY])
    items = pd.DataFrame(
        {
            "item_id": item_ids,
            "title": titles,
            "categories": categories,
            "description": _text(raw, "description"),
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
) -> Dataset:
    """Load events and items together and check them against each other.

    Args:
        events: Interaction log (path or DataFrame).
        items: Item catalog (path or DataFrame).
        event_columns: Column mapping for the events.
        item_columns: Column mapping for the items.
        name: Dataset name, used in store ids and reports.

    Returns:
        The validated :class:`Dataset`.
    """
    item_frame = load_items(items, item_columns)
    event_frame, report = load_events(events, event_columns)
    attach_catalog(event_frame, item_frame, report)
    return Dataset(events=event_frame, items=item_frame, name=name, report=report)
