"""Read CSV, TSV, Parquet or JSONL files (or take a DataFrame) as raw columns, with clear errors."""

from __future__ import annotations

import io
from pathlib import Path
from typing import TypeAlias

import pandas as pd

from interest_tools.errors import DataValidationError

Source: TypeAlias = str | Path | pd.DataFrame
_REQUIRED = {"events": ("user_id", "item_id", "timestamp"), "items": ("item_id", "title", "categories")}


def read_table(source: Source, *, what: str) -> tuple[pd.DataFrame, str]:
    """Read a CSV, Parquet or JSONL file (or take a DataFrame) as raw columns.

    Args:
        source: Path to a ``.csv``/``.tsv``, ``.parquet``/``.pq`` or ``.jsonl``/``.ndjson``/``.json`` file, or a
            DataFrame.
        what: ``"events"`` or ``"items"``, for messages.

    Returns:
        The raw frame (CSV cells as strings, empty cells as ``""``) and the source name for messages.

    Raises:
        DataValidationError: The file is missing, empty, not UTF-8, or not a supported format.
    """
    if isinstance(source, pd.DataFrame):
        return source.copy(), "<DataFrame>"
    path = Path(source)
    name = str(path)
    if not path.is_file():
        raise DataValidationError(f"{what} file not found", source=name, fix="check the path")
    suffix = "".join(path.suffixes[-2:]).lower() if path.suffix == ".gz" else path.suffix.lower()
    if suffix in {".parquet", ".pq"}:
        try:
            frame = pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises several unrelated types
            raise DataValidationError(
                f"cannot read Parquet: {exc}", source=name, fix="write the file with pandas or pyarrow"
            ) from exc
        return frame, name
    raw = path.read_bytes()
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
    if suffix in {".jsonl", ".ndjson", ".json"}:
        try:
            frame = pd.read_json(io.StringIO(text), lines=True, dtype=False, convert_dates=False)
        except ValueError as exc:
            raise DataValidationError(
                f"cannot parse JSON lines: {exc}", source=name, fix="write one JSON object per line"
            ) from exc
        return frame, name
    if suffix in {".csv", ".tsv", ".txt", ""}:
        sep = "\t" if suffix == ".tsv" else ","
        try:
            frame = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False)
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise DataValidationError(
                f"cannot parse CSV: {exc}", source=name, fix="quote fields that contain commas or newlines"
            ) from exc
        return frame, name
    raise DataValidationError(
        f"unsupported file type '{path.suffix}'",
        source=name,
        fix="use .csv, .tsv, .parquet, .jsonl or .ndjson (or pass a DataFrame)",
    )
