"""Promise 1: bad input never corrupts what is stored.

Hypothesis writes malformed event and item files (every error kind of interest_tools/data.py, in CSV, JSONL and
Parquet) and feeds them to ``ingest`` and to ``build`` (the Engine API: ``load_dataset`` then ``build``). Each
is refused with a DataValidationError naming the file, row and column (numbers of fewer than 9 digits and
digit-only day/month dates as timestamps too, issue 12), and the store (state-file bytes, counts,
ids, documents, metadata, vectors) is identical before and after. Inputs with a documented repair (mixed
timestamp units, duplicates, unknown items, odd ids, a BOM, one user with 100k events) are accepted and
repaired as documented. (The CLI run is in test_cli_ingest.py.)
"""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from interest_tools.data import Dataset, canonicalize_events, load_dataset
from interest_tools.engine import Engine
from interest_tools.errors import DataValidationError
from tests.harness.stores import NO_FORECAST, make_items, persistent_engine, snapshot

EVENT_COLUMNS = ["user_id", "item_id", "timestamp", "rating", "weight", "event", "text"]


def _rows(n: int) -> list[dict[str, Any]]:
    return [
        {"user_id": "u2", "item_id": f"i{(3 + k) % 12:02d}", "timestamp": f"2021-01-{1 + k % 28:02d}T10:00:00Z",
         "rating": "4.5", "weight": "1", "event": "rating", "text": "fine"}
        for k in range(n)
    ]  # fmt: skip


# kind -> (column, bad value or None to drop the column, expected message)
EVENT_ERRORS: dict[str, tuple[str, str | None, str]] = {
    "missing user_id": ("user_id", None, "missing required events column"),
    "missing item_id": ("item_id", None, "missing required events column"),
    "missing timestamp": ("timestamp", None, "missing required events column"),
    "empty user_id": ("user_id", "", "empty user_id"),
    "null item_id": ("item_id", "null", "empty item_id"),
    "blank user_id": ("user_id", "   ", "empty user_id"),
    "empty timestamp": ("timestamp", "", "empty timestamp"),
    "unparseable timestamp": ("timestamp", "next tuesday", "cannot parse timestamp"),
    "impossible date": ("timestamp", "2020-13-45", "cannot parse timestamp"),
    "timestamp before 1970": ("timestamp", "1850-06-01", "out of range"),
    "timestamp after 2100": ("timestamp", "2200-01-01T00:00:00Z", "out of range"),
    "huge number timestamp": ("timestamp", "1e15", "out of range"),
    "negative unix timestamp": ("timestamp", "-5", "out of range"),
    "packed date as a number": ("timestamp", "20230315", "fewer than 9 digits"),
    "year as a number": ("timestamp", "2023", "fewer than 9 digits"),
    "ambiguous day/month": ("timestamp", "03/12/2024", "ambiguous day/month order"),
    "day-first date": ("timestamp", "13/12/2024", "ambiguous day/month order"),
    "non-numeric rating": ("rating", "five stars", "not a finite number"),
    "NaN rating": ("rating", "NaN", "not a finite number"),
    "infinite rating": ("rating", "inf", "not a finite number"),
    "negative weight": ("weight", "-1", "negative weight"),
    "NaN weight": ("weight", "nan", "not a finite number"),
}
ITEM_ERRORS: dict[str, tuple[str, str | None, str]] = {
    "missing item_id": ("item_id", None, "missing required items column"),
    "missing title": ("title", None, "missing required items column"),
    "missing categories": ("categories", None, "missing required items column"),
    "empty item_id": ("item_id", "", "empty item_id"),
    "duplicate item_id": ("item_id", "i00", "duplicate item_id"),
}


def _write(frame: pd.DataFrame, path: Path, fmt: str) -> Path:
    path = path.with_suffix(f".{fmt}")
    if fmt == "csv":
        frame.to_csv(path, index=False)
    elif fmt == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in frame.to_dict("records")))
    else:
        frame.to_parquet(path, index=False)
    return path


def _items_frame() -> pd.DataFrame:
    items = make_items()
    return items.assign(categories=items["categories"].map("|".join))


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, tiny_template: Path) -> Engine:
    from tests.harness.stores import clone_store

    return persistent_engine(clone_store(tiny_template, tmp_path_factory.mktemp("bad_input") / "store"))


def _refused(
    engine: Engine, attempt: Callable[[], Any], source: Path, row: int | None, column: str | None, words: str
) -> None:
    before = snapshot(engine)
    with pytest.raises(DataValidationError) as info:
        attempt()
    err = info.value
    assert err.source == str(source) and words in str(err), str(err)
    assert err.row == row, str(err)
    assert column is None or err.column == column, str(err)
    assert "Fix:" in str(err)
    engine.reset_cache()
    assert snapshot(engine) == before


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(
    kind=st.sampled_from(sorted(EVENT_ERRORS)),
    n_rows=st.integers(1, 30),
    position=st.floats(0, 1, exclude_max=True),
    fmt=st.sampled_from(["csv", "jsonl", "parquet"]),
    via=st.sampled_from(["ingest", "build"]),
)
def test_malformed_event_files_are_refused_and_change_nothing(
    store: Engine, tmp_path_factory: pytest.TempPathFactory, kind: str, n_rows: int, position: float, fmt: str, via: str
) -> None:
    column, bad, words = EVENT_ERRORS[kind]
    frame = pd.DataFrame(_rows(n_rows), columns=EVENT_COLUMNS)
    bad_row = int(position * n_rows)
    if bad is None:
        frame = frame.drop(columns=[column])
        row = None
    else:
        frame.loc[bad_row, column] = bad
        row = bad_row + 1
    folder = tmp_path_factory.mktemp("events")
    path = _write(frame, folder / "events", fmt)
    if via == "ingest":
        _refused(store, lambda: store.ingest(path), path, row, column, words)
    else:
        items = _write(_items_frame(), folder / "items", "csv")
        _refused(store, lambda: store.build(load_dataset(path, items), NO_FORECAST), path, row, column, words)


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(
    kind=st.sampled_from(sorted(ITEM_ERRORS)),
    position=st.floats(0.1, 1, exclude_max=True),
    fmt=st.sampled_from(["csv", "jsonl"]),
)
def test_malformed_item_files_are_refused_and_change_nothing(
    store: Engine, tmp_path_factory: pytest.TempPathFactory, kind: str, position: float, fmt: str
) -> None:
    column, bad, words = ITEM_ERRORS[kind]
    frame = _items_frame()
    bad_row = max(1, int(position * len(frame)))
    if bad is None:
        frame = frame.drop(columns=[column])
        row = None
    else:
        frame.loc[bad_row, column] = bad
        row = bad_row + 1
    folder = tmp_path_factory.mktemp("items")
    path = _write(frame, folder / "items", fmt)
    events = _write(pd.DataFrame(_rows(3), columns=EVENT_COLUMNS), folder / "events", "csv")
    _refused(store, lambda: store.ingest(events, path), path, row, column, words)


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("empty.csv", b"", "events file is empty"),
        ("blank.csv", b"\n \n\t\n", "events file is empty"),
        (
            "latin1.csv",
            "user_id,item_id,timestamp\nu2,i01,2021-01-01\nu2,caf\xe9,2021-01-02\n".encode("latin-1"),
            "line 3) are not valid UTF-8",
        ),
        (
            "broken.jsonl",
            b'{"user_id": "u2", "item_id": "i01", "timestamp": "2021-01-01"}\n{"user_id": \n',
            "cannot parse JSON lines",
        ),
        ("events.xlsx", b"PK\x03\x04", "unsupported file type"),
        ("dup.csv", b"user_id,item_id,timestamp,item_id\nu2,i01,2021-01-01,i02\n", "names column 'item_id' twice"),
        ("broken.csv.gz", gzip.compress(b"user_id,item_id,timestamp\n")[:12], "gzip file that cannot be unpacked"),
        ("bad.parquet", b"PAR1 not really", "cannot read Parquet"),
    ],
)
def test_unreadable_files_are_refused_and_change_nothing(
    store: Engine, tmp_path: Path, name: str, content: bytes, words: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    _refused(store, lambda: store.ingest(path), path, None, None, words)


def test_huge_file_with_one_bad_row_near_the_end(store: Engine, tmp_path: Path) -> None:
    n = 200_000
    frame = pd.DataFrame(
        {
            "user_id": [f"big{k % 500}" for k in range(n)],
            "item_id": [f"i{k % 12:02d}" for k in range(n)],
            "timestamp": (1_609_459_200 + np.arange(n) * 60).astype(str),
            "rating": "3",
        }
    )
    frame.loc[n - 2, "rating"] = "three"
    path = _write(frame, tmp_path / "huge", "csv")
    started = time.perf_counter()
    _refused(store, lambda: store.ingest(path), path, n - 1, "rating", "not a finite number")
    print(f"200k-row file refused in {time.perf_counter() - started:.2f} s")


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda d: Dataset(events=d.events.iloc[:0], items=d.items), "no rows"),
        (lambda d: Dataset(events=d.events.drop(columns=["weight"]), items=d.items), "missing column"),
        (
            lambda d: Dataset(
                events=d.events.assign(timestamp=d.events["timestamp"].dt.tz_localize(None)), items=d.items
            ),
            "timezone-aware",
        ),
        (lambda d: Dataset(events=d.events.assign(weight=-1.0), items=d.items), "weight must be"),
        (lambda d: Dataset(events=d.events.assign(user_id=""), items=d.items), "empty user_id"),
        (lambda d: Dataset(events=d.events, items=pd.concat([d.items, d.items.iloc[:1]])), "duplicate item_id"),
    ],
    ids=["no-events", "missing-column", "naive-times", "negative-weight", "empty-user", "duplicate-item"],
)
def test_build_refuses_a_non_canonical_dataset_before_writing(
    store: Engine, dataset: Dataset, change: Callable[[Dataset], Dataset], words: str
) -> None:
    before = snapshot(store)
    with pytest.raises(DataValidationError, match=words):
        store.build(change(dataset), NO_FORECAST)
    assert snapshot(store) == before


# ---------------------------------------------------------------------------------------------- documented repairs


@pytest.fixture
def fresh(tiny_store: Path) -> Engine:
    return persistent_engine(tiny_store)


def test_mixed_timestamp_units_are_read_value_by_value(fresh: Engine, tmp_path: Path) -> None:
    when = pd.Timestamp("2021-03-04T05:06:07Z")
    seconds = int(when.timestamp())
    path = tmp_path / "mixed.csv"
    path.write_text(
        "user_id,item_id,timestamp\n"
        f"u2,i00,{seconds}\nu2,i01,{seconds * 1000}\nu2,i02,2021-03-04T05:06:07Z\nu2,i03,2021-03-04T06:06:07+01:00\n"
        "u2,i05,2021-03-04 05:06:07\n"
    )
    report = fresh.ingest(path)
    assert report.users_touched == 1
    stored = fresh.dataset.user_events("u2")
    assert (
        stored[stored["item_id"].isin(["i00", "i01", "i02", "i03", "i05"]) & (stored["timestamp"].dt.year == 2021)][
            "timestamp"
        ]
        == when
    ).sum() == 5


def test_duplicates_and_unknown_items_are_repaired_and_reported(fresh: Engine) -> None:
    raw = pd.DataFrame(
        {"user_id": ["u2", "u2", "u2"], "item_id": ["i11", "i11", "nope"],
         "timestamp": ["2021-01-05T00:00:00Z", "2021-01-05T00:00:00Z", "2021-01-06T00:00:00Z"]}
    )  # fmt: skip
    report = fresh.ingest(raw)
    assert report.duplicates_dropped == 1 and report.n_events == 108 + 2
    assert any("missing from the catalog" in w for w in report.warnings)
    last = fresh.user_windows("u2")[-1]
    assert "nope" in last.item_ids and "unknown" in last.category_weights


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_ids_with_quotes_commas_and_newlines_round_trip(fresh: Engine, tmp_path: Path, fmt: str) -> None:
    odd = 'we"ird, user\nwith a newline'
    frame = pd.DataFrame({"user_id": [odd, odd], "item_id": ["i04", "i05"], "timestamp": ["2021-01-05", "2021-02-05"]})
    path = _write(frame, tmp_path / "odd", fmt)
    fresh.ingest(path)
    assert odd in fresh.users()
    hits = fresh.search_history(odd, "comedy", 5)
    assert [h.user_id for h in hits] == [odd, odd]
    assert [s.user_id for s in fresh.user_summaries(odd)] == [odd, odd]


def test_byte_order_mark_is_ignored(fresh: Engine, tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffuser_id,item_id,timestamp\nu3,i09,2021-01-05\n".encode())
    assert fresh.ingest(path).users_touched == 1


def test_header_only_file_is_a_no_op(fresh: Engine, tmp_path: Path) -> None:
    before = snapshot(fresh)
    path = tmp_path / "header.csv"
    path.write_text("user_id,item_id,timestamp\n")
    assert fresh.ingest(path).users_touched == 0
    assert snapshot(fresh) == before


def test_one_user_with_100k_events(fresh: Engine) -> None:
    n = 100_000
    rng = np.random.default_rng(0)
    start = pd.Timestamp("2021-01-01", tz="UTC").value
    span = pd.Timestamp("2023-01-01", tz="UTC").value - start
    raw = pd.DataFrame(
        {
            "user_id": "heavy",
            "item_id": [f"i{k:02d}" for k in rng.integers(0, 12, n)],
            "timestamp": pd.to_datetime(start + rng.integers(0, span, n), utc=True),
            "rating": rng.integers(1, 6, n).astype(float),
        }
    )
    started = time.perf_counter()
    report = fresh.ingest(raw)
    seconds = time.perf_counter() - started
    print(f"100k events of one user ingested in {seconds:.2f} s")
    assert report.users_touched == 1 and report.n_events == 108 + n
    assert len(fresh.user_windows("heavy")) == 24
    assert [h.user_id for h in fresh.search_history("heavy", "horror", 3)] == ["heavy"] * 3
    assert len(canonicalize_events(fresh.dataset.events)) == 108 + n
