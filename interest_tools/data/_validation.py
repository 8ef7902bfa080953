"""Column parsers of the loaders in :mod:`interest_tools.data._load`: ids, numbers, texts and timestamps.

Each parser checks a raw column and raises one :class:`~interest_tools.errors.DataValidationError` at the first
bad cell, naming the file, the 1-based data row, the column and the fix.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from interest_tools.errors import DataValidationError

#: Timestamps outside [MIN_TIME, MAX_TIME) are rejected as out of range.
MIN_TIME = pd.Timestamp("1970-01-01", tz="UTC")
MAX_TIME = pd.Timestamp("2100-01-01", tz="UTC")
#: Numeric timestamps at or above this are unix milliseconds, below it unix seconds (1e11 s is year 5138).
MILLIS_THRESHOLD = 1e11
#: Numeric timestamps below this (fewer than 9 integer digits, before 1973-03-03) are refused: such numbers are
#: years (``2023``) or packed dates (``20230315``) far more often than unix seconds.
MIN_UNIX_SECONDS = 1e8
#: Numeric ids (JSON numbers, numeric Parquet columns) must be integers below this: larger floats are not exact.
MAX_EXACT_ID = 2**53
#: Day/month/year written with digits only (``03/12/2024``, ``3.12.24``): which part is the day cannot be told.
_AMBIGUOUS_DATE = r"^\s*\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2,4}(?:\D|$)"
_DATE_FIX = "write ISO 8601 such as 2024-12-03T09:26:53Z, or give the format: --date-format %d/%m/%Y (date_format=)"
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


def _id_text(value: Any) -> str | None:
    """The id written as text, or None when a non-text value cannot be an id (bool, fraction, inexact float)."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool | np.bool_):
        return None
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        number = float(value)
        ok = math.isfinite(number) and number.is_integer() and abs(number) < MAX_EXACT_ID
        return str(int(number)) if ok else None
    return str(value).strip()


def parse_ids(frame: pd.DataFrame, column: str, source: str, rows: np.ndarray) -> pd.Series:
    """Return ``frame[column]`` as stripped text; raise on an empty id or a number that cannot be an id.

    Text stays as written (``"7.0"`` stays ``"7.0"``). A number is written as its integer (``7`` and ``7.0`` are
    both ``"7"``, whatever the other rows hold); a fraction, a boolean, or a float of magnitude ``2**53`` or more
    (not exact, so ``1e19`` and ``2e19`` could not be told apart) is an error.
    """
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
    if pd.api.types.is_integer_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        return values.astype(str)
    if pd.api.types.infer_dtype(values, skipna=False) == "string":
        return values.astype(str).str.strip()
    texts = [_id_text(v) for v in values.tolist()]
    bad = np.array([t is None for t in texts], dtype=bool)
    if bad.any():
        i = first_bad(bad)
        raise DataValidationError(
            f"{column} {values.iloc[i]!r} is not an integer id: a numeric id must be a whole number below 2**53 "
            "(larger floats are not exact, so distinct ids would merge)",
            source=source,
            row=int(rows[i]),
            column=column,
            fix=f'write ids as text, e.g. "{column}": "12345678901234567890" in JSON, or a string column in Parquet',
        )
    return pd.Series(texts, index=values.index, dtype=object)


def _refuse(
    values: pd.Series, mask: np.ndarray, rows: np.ndarray, source: str, column: str, why: str, fix: str
) -> None:
    """Raise for the first row where ``mask`` is True (``why`` may use ``{value!r}``)."""
    if mask.any():
        i = first_bad(mask)
        value = values.iloc[i]
        raise DataValidationError(why.format(value=value), source=source, row=int(rows[i]), column=column, fix=fix)


def parse_timestamps(
    values: pd.Series, *, source: str, rows: np.ndarray, column: str = "timestamp", date_format: str | None = None
) -> pd.Series:
    """Parse unix seconds, unix milliseconds, ISO 8601 (with or without zone) or datetimes into UTC.

    Numbers (and numeric text, as every CSV cell is text) are unix time, read value by value (so a column that
    mixes units is repaired): at or above ``1e11`` milliseconds, from ``1e8`` (9 integer digits) to ``1e11``
    seconds. A number below ``1e8`` (such as ``2023`` or ``20230315``) is refused rather than read as a time in
    1970. Day/month/year written with digits only (``03/12/2024``) is refused as ambiguous. With
    ``date_format`` (a :func:`~datetime.datetime.strptime` format), every text value is parsed with it instead.
    Naive times are taken as UTC.

    Raises:
        DataValidationError: A value is empty, a boolean, cannot be parsed, is ambiguous, has fewer than 9 digits,
            or lies outside 1970-01-01..2100-01-01.
    """
    missing = _is_missing(values)
    _refuse(values, missing, rows, source, column, "empty timestamp", "give every event a time")
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        parsed = pd.Series(pd.to_datetime(values, utc=True).astype("datetime64[ns, UTC]"), index=values.index)
        return _check_range(parsed, values, rows, source, column)
    cells = values.astype(object)
    is_bool = cells.map(lambda v: isinstance(v, bool | np.bool_)).to_numpy(dtype=bool)
    _refuse(values, is_bool, rows, source, column, "timestamp {value!r} is a boolean, not a time", _DATE_FIX)
    is_text = cells.map(lambda v: isinstance(v, str)).to_numpy(dtype=bool)
    nat = np.iinfo(np.int64).min
    ns = np.full(len(values), nat, dtype=np.int64)
    if date_format is not None and is_text.any():
        as_dt = pd.to_datetime(cells[is_text].str.strip(), format=date_format, utc=True, errors="coerce")
        ns[is_text] = utc_ns(as_dt)
        shown = repr(date_format).replace("{", "{{").replace("}", "}}")  # the message is a format string
        _refuse(values, is_text & (ns == nat), rows, source, column,
                "timestamp {value!r} does not match the date format " + shown,
                "fix the value, or give the format of every text timestamp (--date-format, date_format=)")  # fmt: skip
        todo = ~is_text
    else:
        todo = np.ones(len(values), dtype=bool)
    numeric = pd.to_numeric(cells.where(todo, None), errors="coerce").to_numpy(dtype="float64")
    is_num = todo & ~np.isnan(numeric)
    if is_num.any():
        num = np.where(is_num, numeric, 0.0)
        seconds = np.where(np.abs(num) >= MILLIS_THRESHOLD, num / 1000.0, num)
        # checked before the conversion to nanoseconds, which would overflow int64 past year 2262
        outside = ~np.isfinite(seconds) | (seconds < 0) | (seconds >= MAX_TIME.timestamp())
        _refuse(values, is_num & outside, rows, source, column, "timestamp {value!r} is out of range",
                "numbers are unix seconds (1e8 to 4.1e9) or milliseconds (1e11 to 4.1e12), 1970 to 2100")  # fmt: skip
        _refuse(values, is_num & (num >= 0) & (num < MIN_UNIX_SECONDS), rows, source, column,
                "timestamp {value!r} has fewer than 9 digits: numbers such as 2023 or 20230315 are years or dates, "
                "not unix time", _DATE_FIX)  # fmt: skip
        ns[is_num] = np.round(seconds[is_num] * 1e6).astype(np.int64) * 1000
    rest = todo & ~is_num
    if rest.any():
        text = cells[rest]
        strings = text.map(lambda v: v if isinstance(v, str) else "")
        ambiguous = np.zeros(len(values), dtype=bool)
        ambiguous[rest] = strings.str.match(_AMBIGUOUS_DATE).to_numpy(dtype=bool)
        _refuse(values, ambiguous, rows, source, column,
                "timestamp {value!r} has an ambiguous day/month order (03/12/2024 is 3 December or 12 March)",
                _DATE_FIX)  # fmt: skip
        as_dt = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")
        if as_dt.isna().any():  # format="ISO8601" rejects some valid values (datetime objects, odd forms)
            as_dt = as_dt.fillna(pd.to_datetime(text.map(_parse_one), utc=True, errors="coerce"))
        ns[rest] = utc_ns(as_dt)
    _refuse(values, ns == nat, rows, source, column, "cannot parse timestamp {value!r}",
            "use unix seconds or milliseconds, or ISO 8601 such as 2015-03-14T09:26:53Z, or --date-format")  # fmt: skip
    parsed = pd.Series(pd.to_datetime(ns, unit="ns", utc=True), index=values.index)
    return _check_range(parsed, values, rows, source, column)


def _check_range(parsed: pd.Series, values: pd.Series, rows: np.ndarray, source: str, column: str) -> pd.Series:
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


def _parse_one(value: Any) -> pd.Timestamp | None:
    """One text timestamp in UTC, or None when pandas cannot read it (the caller reports the row)."""
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError, OverflowError):
        return None
    if pd.isna(ts):
        return None
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
