"""Read CSV, TSV, Parquet or JSONL files (optionally gzipped), or take a DataFrame, as raw columns, with clear errors.

CSV cells stay text; JSON values stay as JSON wrote them, one Python value per cell (a number is never widened
to float because another row holds a float), so the column parsers of :mod:`interest_tools.data._validation`
judge each value alone.
"""

from __future__ import annotations

import csv
import functools
import gzip
import io
import json
import zlib
from pathlib import Path
from typing import Any, TypeAlias

import pandas as pd

from interest_tools.errors import DataValidationError

Source: TypeAlias = str | Path | pd.DataFrame
_REQUIRED = {"events": ("user_id", "item_id", "timestamp"), "items": ("item_id", "title", "categories")}
_GZIP_MAGIC = b"\x1f\x8b"
_JSON_SUFFIXES = {".jsonl", ".ndjson", ".json"}
_CSV_SUFFIXES = {".csv", ".tsv", ".txt", ""}
_PARQUET_SUFFIXES = {".parquet", ".pq"}


def read_table(source: Source, *, what: str) -> tuple[pd.DataFrame, str]:
    """Read a CSV, TSV, Parquet or JSONL file (or take a DataFrame) as raw columns.

    Args:
        source: Path to a ``.csv``/``.tsv``, ``.parquet``/``.pq`` or ``.jsonl``/``.ndjson``/``.json`` file (each
            may be gzipped, with or without a ``.gz`` suffix), or a DataFrame. A CSV whose header has no comma
            but tabs or semicolons is read with that separator.
        what: ``"events"`` or ``"items"``, for messages.

    Returns:
        The raw frame (CSV cells as strings, empty cells as ``""``) and the source name for messages.

    Raises:
        DataValidationError: The file is missing or a folder, empty, not UTF-8, not a supported format, or
            names a column twice.
    """
    if isinstance(source, pd.DataFrame):
        _check_unique_columns(source.columns, "<DataFrame>")
        return source.copy(), "<DataFrame>"
    path = Path(source)
    name = str(path)
    if path.is_dir():
        raise DataValidationError(f"is a folder, not an {what} file", source=name, fix="give the path of the file")
    if not path.is_file():
        raise DataValidationError(f"{what} file not found", source=name, fix="check the path")
    suffix = path.suffix.lower()
    if suffix == ".gz":
        suffix = Path(path.stem).suffix.lower()
    raw = _decompress(path.read_bytes(), name)
    if suffix in _PARQUET_SUFFIXES:
        try:
            frame = pd.read_parquet(io.BytesIO(raw))
        except Exception as exc:  # pyarrow raises several unrelated types
            raise DataValidationError(
                f"cannot read Parquet: {exc}", source=name, fix="write the file with pandas or pyarrow"
            ) from exc
        _check_unique_columns(frame.columns, name)
        return frame, name
    if suffix not in _JSON_SUFFIXES | _CSV_SUFFIXES:
        raise DataValidationError(
            f"unsupported file type '{path.suffix}'",
            source=name,
            fix="use .csv, .tsv, .parquet, .jsonl or .ndjson, optionally gzipped as .gz (or pass a DataFrame)",
        )
    if not raw.strip():
        raise DataValidationError(
            f"{what} file is empty",
            source=name,
            fix=f"write a header row with the columns {', '.join(_REQUIRED[what])}, then one row per record",
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise DataValidationError(
            f"bytes at offset {exc.start} (line {line}) are not valid UTF-8",
            source=name,
            fix="re-save the file as UTF-8",
        ) from exc
    if suffix in _JSON_SUFFIXES:
        return _read_json_lines(text, name), name
    return _read_csv(text, name, suffix), name


def _decompress(raw: bytes, name: str) -> bytes:
    """The bytes of a gzipped file unpacked (any file starting with the gzip magic), others as they are."""
    if not raw.startswith(_GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataValidationError(
            f"is a gzip file that cannot be unpacked ({exc})", source=name, fix="re-compress it, or unpack it first"
        ) from exc


def _check_unique_columns(columns: Any, name: str) -> None:
    seen: dict[str, int] = {}
    for position, column in enumerate(columns, start=1):
        key = str(column)
        if key in seen:
            raise DataValidationError(
                f"the header names column {key!r} twice (columns {seen[key]} and {position})",
                source=name,
                column=key,
                fix="rename or drop one of them, so that it is clear which one holds the data",
            )
        seen[key] = position


def _separator(text: str, suffix: str) -> str:
    """Tab for ``.tsv``; else comma, unless the header line has no comma but tabs or semicolons."""
    if suffix == ".tsv":
        return "\t"
    header = text.lstrip("\n").split("\n", 1)[0]
    if "," not in header:
        for sep in ("\t", ";"):
            if sep in header:
                return sep
    return ","


def _read_csv(text: str, name: str, suffix: str) -> pd.DataFrame:
    sep = _separator(text, suffix)
    try:
        header = next(csv.reader(io.StringIO(text), delimiter=sep))
    except (csv.Error, StopIteration) as exc:
        raise DataValidationError(f"cannot parse CSV header: {exc}", source=name, fix="write one header row") from exc
    _check_unique_columns([h.strip() for h in header], name)
    try:
        return pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataValidationError(
            f"cannot parse CSV: {exc}", source=name, fix="quote fields that contain commas or newlines"
        ) from exc


def _read_json_lines(text: str, name: str) -> pd.DataFrame:
    """One JSON object per line; blank lines skipped; every value kept as JSON wrote it (object columns)."""
    records: list[dict[str, Any]] = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        row = len(records) + 1
        try:
            record = json.loads(line, object_pairs_hook=functools.partial(_unique_keys, name=name, row=row))
        except json.JSONDecodeError as exc:
            raise DataValidationError(
                f"cannot parse JSON lines: line {line_no}: {exc}", source=name,
                fix="write one JSON object per line",
            ) from exc  # fmt: skip
        if not isinstance(record, dict):
            raise DataValidationError(
                f"cannot parse JSON lines: line {line_no} is a {type(record).__name__}, not an object",
                source=name, fix="write one JSON object per line",
            )  # fmt: skip
        records.append(record)
    columns: dict[str, None] = {}
    for record in records:
        columns.update(dict.fromkeys(record))
    return pd.DataFrame(
        {c: pd.Series([r.get(c) for r in records], dtype=object) for c in columns}, columns=list(columns)
    )


def _unique_keys(pairs: list[tuple[str, Any]], *, name: str, row: int) -> dict[str, Any]:
    record: dict[str, Any] = {}
    for key, value in pairs:
        if key in record:
            raise DataValidationError(
                f"the object names key {key!r} twice", source=name, row=row, column=key,
                fix="keep one value per key",
            )  # fmt: skip
        record[key] = value
    return record
