"""Column parsers of the loaders in :mod:`interest_tools.data._load`: ids, numbers, texts and timestamps.

Each parser checks a raw column and raises one :class:`~interest_tools.errors.DataValidationError` at the first
bad cell, naming the file, the 1-based data row, the column and the fix.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from interest_tools.errors import DataValidationError

#: Timestamps outside [MIN_TIME, MAX_TIME) are rejected as out of range.
MIN_TIME = pd.Timestamp("1970-01-01", tz="UTC")
MAX_TIME = pd.Timestamp("2100-01-01", tz="UTC")
#: Numeric timestamps at or above this are unix milliseconds, below it unix seconds (1e11 s is year 5138).
MILLIS_THRESHOLD = 1e11
_MISSING_TEXT = {"", "none", "null"}


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


def first_bad(mask: np.ndarray) -> int:
    """Return the position of the first True of ``mask``."""
    return int(np.flatnonzero(mask)[0])


def parse_ids(frame: pd.DataFrame, column: str, source: str, rows: np.ndarray) -> pd.Series:
    """Return ``frame[column]`` as stripped strings (integral floats without ``.0``); raise on an empty id."""
    values = frame[column]
    missing = _is_missing(values)
    if missing.any():
        i = first_bad(missing)
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
        i = first_bad(missing)
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
                i = int(np.flatnonzero(is_num)[first_bad(bad)])
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
            i = first_bad(ns == nat)
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
        i = first_bad(out_of_range)
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


def parse_numbers(frame: pd.DataFrame, column: str, source: str, rows: np.ndarray, *, default: float) -> np.ndarray:
    """Return ``frame[column]`` as floats, ``default`` where empty; raise on a value that is not a finite number."""
    values = frame[column]
    missing = _is_missing(values)
    numeric = pd.to_numeric(values.where(~missing, None), errors="coerce").to_numpy(dtype="float64")
    bad = ~missing & ~np.isfinite(numeric)
    if bad.any():
        i = first_bad(bad)
        raise DataValidationError(
            f"{column} {values.iloc[i]!r} is not a finite number",
            source=source,
            row=int(rows[i]),
            column=column,
            fix=f"write a number, or leave the cell empty for no {column}",
        )
    return np.where(missing, default, numeric)


def parse_text(frame: pd.DataFrame, column: str) -> pd.Series:
    """Return ``frame[column]`` as strings, ``""`` where empty (all ``""`` when the column is absent)."""
    if column not in frame.columns:
        return pd.Series("", index=frame.index, dtype=object)
    values = frame[column]
    return values.where(~_is_missing(values), "").astype(str)
