"""Issue 12, section 5: input that used to load as silently wrong data is refused with a clear error (file, row,
column, fix), or read by one documented rule.

* ids are text: a numeric id is written as its integer, whatever the other rows hold; a fraction, a boolean or
  a float too large to be exact (``1e19``) is an error (they used to merge into one user);
* numeric timestamps need at least 9 digits (``2023`` and ``20230315`` are not 1970); booleans are errors;
  digit-only day/month/year dates are ambiguous unless ``date_format`` (``--date-format``) says how to read them;
* gzip files are read, folders and odd separators are named as such, duplicate columns are refused, and the
  missing-column hint names the CLI's ``--column``;
* a category containing ``|`` given as a list item comes back whole from the store's searches.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import interest_tools.adapters.cli._common as cli_common
from interest_tools.adapters.cli import app
from interest_tools.adapters.cli._common import settings_from
from interest_tools.data import load_events, load_items
from interest_tools.engine import Engine
from interest_tools.errors import DataValidationError
from interest_tools.store import WindowDoc
from interest_tools.store._records import item_hit, item_records, window_hit, window_records
from tests.harness.stores import persistent_engine

EVENTS = "user_id,item_id,timestamp\n"


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _refused(path: Path, row: int | None, column: str | None, words: str, **kwargs) -> DataValidationError:
    with pytest.raises(DataValidationError) as info:
        load_events(path, **kwargs)
    err = info.value
    assert err.source == str(path) and words in str(err), str(err)
    assert (err.row, err.column) == (row, column), str(err)
    assert "Fix:" in str(err)
    return err


# ---------------------------------------------------------------------------------------------- ids


def test_float_ids_too_large_to_be_exact_are_refused_not_merged(tmp_path: Path) -> None:
    rows = [{"user_id": v, "item_id": "a", "timestamp": 1600000000 + k} for k, v in enumerate([1e19, 2e19, 3e19])]
    _refused(_jsonl(tmp_path / "e.jsonl", rows), 1, "user_id", "not an integer id")


@pytest.mark.parametrize("others", [[8], ["x"], [8, "x"], [9.0]], ids=["ints", "texts", "both", "floats"])
def test_a_numeric_id_reads_the_same_whatever_the_other_rows_hold(tmp_path: Path, others: list) -> None:
    rows = [{"user_id": v, "item_id": "a", "timestamp": 1600000000 + k} for k, v in enumerate([7.0, *others])]
    events, _ = load_events(_jsonl(tmp_path / "e.jsonl", rows))
    assert "7" in events["user_id"].tolist() and "7.0" not in events["user_id"].tolist()


def test_text_ids_stay_as_written(tmp_path: Path) -> None:
    rows = [{"user_id": "7.0", "item_id": "a", "timestamp": 1600000000}, {"user_id": 7, "item_id": "a",
            "timestamp": 1600000001}]  # fmt: skip
    events, _ = load_events(_jsonl(tmp_path / "e.jsonl", rows))
    assert sorted(events["user_id"]) == ["7", "7.0"]


@pytest.mark.parametrize("bad", [7.5, True, float(2**53)])
def test_fractional_boolean_and_inexact_ids_are_refused(tmp_path: Path, bad: object) -> None:
    rows = [{"user_id": "u", "item_id": "a", "timestamp": 1600000000}, {"user_id": "u", "item_id": bad,
            "timestamp": 1600000001}]  # fmt: skip
    _refused(_jsonl(tmp_path / "e.jsonl", rows), 2, "item_id", "not an integer id")


def test_parquet_float_id_column_with_a_fraction_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "e.parquet"
    pd.DataFrame({"user_id": [1.0, 2.5], "item_id": ["a", "b"], "timestamp": [1600000000, 1600000001]}).to_parquet(path)
    _refused(path, 2, "user_id", "not an integer id")
    pd.DataFrame({"user_id": [1.0, 2.0], "item_id": ["a", "b"], "timestamp": [1600000000, 1600000001]}).to_parquet(path)
    assert load_events(path)[0]["user_id"].tolist() == ["1", "2"]


# ---------------------------------------------------------------------------------------------- timestamps


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("20230315", "fewer than 9 digits"),
        ("2023", "fewer than 9 digits"),
        ("99999999", "fewer than 9 digits"),
        ("03/12/2024", "ambiguous day/month order"),
        ("13/12/2024", "ambiguous day/month order"),
        ("3.12.24", "ambiguous day/month order"),
    ],
)
def test_dates_that_would_be_misread_are_refused_with_the_row(tmp_path: Path, value: str, words: str) -> None:
    path = tmp_path / "e.csv"
    path.write_text(EVENTS + f"u,a,2020-01-01T00:00:00Z\nu,b,{value}\n")
    err = _refused(path, 2, "timestamp", words)
    assert "ISO 8601" in err.fix and "--date-format" in err.fix


def test_a_boolean_timestamp_is_refused(tmp_path: Path) -> None:
    rows = [{"user_id": "u", "item_id": "a", "timestamp": 1600000000}, {"user_id": "u", "item_id": "b",
            "timestamp": True}]  # fmt: skip
    _refused(_jsonl(tmp_path / "e.jsonl", rows), 2, "timestamp", "is a boolean")


def test_unix_seconds_need_nine_digits_and_milliseconds_are_told_apart(tmp_path: Path) -> None:
    path = tmp_path / "e.csv"  # 1e8 s is 1973-03-03T09:46:40Z: the first number read as seconds
    path.write_text(EVENTS + "u,a,100000000\nu,b,1600000000\nu,c,1600000000000\n")
    times = load_events(path)[0].set_index("item_id")["timestamp"]
    assert times["a"] == pd.Timestamp("1973-03-03T09:46:40Z")
    assert times["b"] == times["c"] == pd.Timestamp("2020-09-13T12:26:40Z")


def test_date_format_reads_day_first_dates(tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_text(EVENTS + "u,a,03/12/2024\nu,b,13/12/2024\n")
    events, _ = load_events(path, date_format="%d/%m/%Y")
    assert events.set_index("item_id")["timestamp"].to_dict() == {
        "a": pd.Timestamp("2024-12-03T00:00:00Z"),
        "b": pd.Timestamp("2024-12-13T00:00:00Z"),
    }
    path.write_text(EVENTS + "u,a,03/12/2024\nu,b,2024-12-13\n")
    _refused(path, 2, "timestamp", "does not match the date format '%d/%m/%Y'", date_format="%d/%m/%Y")


def test_date_format_reads_packed_dates(tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_text(EVENTS + "u,a,20230315\n")
    assert load_events(path, date_format="%Y%m%d")[0]["timestamp"].iloc[0] == pd.Timestamp("2023-03-15", tz="UTC")


# ---------------------------------------------------------------------------------------------- messages


def test_gzip_files_are_read(tmp_path: Path) -> None:
    body = (EVENTS + "u,a,2020-01-01T00:00:00Z\n").encode()
    for name in ("e.csv.gz", "e.csv"):
        path = tmp_path / name
        path.write_bytes(gzip.compress(body))
        assert load_events(path)[0]["user_id"].tolist() == ["u"]
    broken = tmp_path / "broken.csv.gz"
    broken.write_bytes(gzip.compress(body)[:20])
    _refused(broken, None, None, "gzip file that cannot be unpacked")


def test_a_folder_is_named_as_a_folder(tmp_path: Path) -> None:
    folder = tmp_path / "events.csv"
    folder.mkdir()
    err = _refused(folder, None, None, "is a folder")
    assert "not found" not in str(err)


@pytest.mark.parametrize(("name", "sep"), [("e.csv", ";"), ("e.csv", "\t"), ("e.txt", "\t"), ("e.tsv", "\t")])
def test_semicolon_and_tab_separated_files_are_read(tmp_path: Path, name: str, sep: str) -> None:
    path = tmp_path / name
    path.write_text(sep.join(["user_id", "item_id", "timestamp"]) + "\n" + sep.join(["u", "a", "2020-01-01"]) + "\n")
    events, _ = load_events(path)
    assert events[["user_id", "item_id"]].values.tolist() == [["u", "a"]]


def test_an_unknown_separator_is_named_instead_of_a_column_map(tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_text("user_id|item_id|timestamp\nu|a|2020-01-01\n")
    err = _refused(path, None, "user_id", "missing required events column")
    assert "read as one column" in err.fix and "column_map" not in err.fix


def test_missing_column_hint_names_the_cli_flag_and_the_likely_column(tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_text("userId,item_id,timestamp\nu,a,2020-01-01\n")
    err = _refused(path, None, "user_id", "missing required events column")
    assert "--column user_id=userId" in err.fix and "column_map={'userId': 'user_id'}" in err.fix
    items = tmp_path / "items.csv"
    items.write_text("movieId,title,categories\na,A,X\n")
    with pytest.raises(DataValidationError) as info:
        load_items(items)
    assert "--item-column item_id=" in info.value.fix


def test_duplicate_columns_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_text("user_id,item_id,timestamp,user_id\nu,a,2020-01-01,v\n")
    _refused(path, None, "user_id", "names column 'user_id' twice")
    rows = [{"user_id": "u", "item_id": "a", "timestamp": "2020-01-01"}]
    jsonl = tmp_path / "e.jsonl"
    jsonl.write_text(json.dumps(rows[0]) + "\n" + json.dumps(rows[0])[:-1] + ', "item_id": "b"}\n')
    _refused(jsonl, 2, "item_id", "names key 'item_id' twice")
    frame = pd.DataFrame([["u", "a", "2020-01-01", "b"]], columns=["user_id", "item_id", "timestamp", "item_id"])
    with pytest.raises(DataValidationError, match="names column 'item_id' twice"):
        load_events(frame)


# ---------------------------------------------------------------------------------------------- CLI flags


def test_cli_column_and_date_format_flags(tmp_path: Path) -> None:
    events = tmp_path / "e.csv"
    events.write_text("userId,movieId,when\nu,a,03/12/2024\nu,b,13/01/2025\n")
    items = tmp_path / "i.csv"
    items.write_text("movieId,title,genres\na,A,X\nb,B,Y\n")
    args = ["windows", "u", "--events", str(events), "--items", str(items), "--json"]
    maps = ["--column", "user_id=userId", "--column", "item_id=movieId", "--column", "timestamp=when",
            "--item-column", "item_id=movieId", "--item-column", "categories=genres"]  # fmt: skip
    runner = CliRunner()
    result = runner.invoke(app, [*args, *maps, "--date-format", "%d/%m/%Y"])
    assert result.exit_code == 0, result.output
    assert [w["start"][:7] for w in json.loads(result.stdout)] == ["2024-12", "2025-01"]
    missing = runner.invoke(app, [*args, *maps])
    assert missing.exit_code == 2 and "ambiguous day/month order" in missing.output
    bad = runner.invoke(app, [*args, "--column", "userId"])
    assert bad.exit_code == 2 and "CANONICAL=SOURCE" in bad.output


def test_cli_ingest_takes_column_and_date_format(
    tiny_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.harness.stores import fake_embeddings

    monkeypatch.setattr(
        cli_common, "engine_from", lambda store, url: Engine(settings_from(store, url), embeddings=fake_embeddings())
    )
    events = tmp_path / "e.csv"
    events.write_text("userId,item_id,timestamp\nu2,i11,05/01/2021\n")
    args = ["ingest", "--events", str(events), "--store", str(tiny_store), "--json"]
    result = CliRunner().invoke(app, [*args, "--column", "user_id=userId", "--date-format", "%d/%m/%Y"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["users_touched"] == 1
    stored = persistent_engine(tiny_store).dataset.user_events("u2")
    assert pd.Timestamp("2021-01-05", tz="UTC") in set(stored["timestamp"])


# ---------------------------------------------------------------------------------------------- categories with |


def test_category_lists_round_trip_through_store_records() -> None:
    items = pd.DataFrame({"item_id": ["a"], "title": ["A"], "categories": [["Rock|Pop", "Jazz"]]})
    meta = item_records(items, "m").metadatas[0]
    assert item_hit(meta, 1.0).categories == ["Rock|Pop", "Jazz"]
    start, end = pd.Timestamp("2021-01-01", tz="UTC"), pd.Timestamp("2021-02-01", tz="UTC")
    doc = WindowDoc(user_id="u", freq="month", index=1, start=start, end=end, text="t",
                    top_categories=["Rock|Pop", "Jazz"])  # fmt: skip
    wmeta = window_records([doc], "m").metadatas[0]
    assert window_hit(wmeta, "t", 1.0).top_categories == ["Rock|Pop", "Jazz"]
    old = {"item_id": "a", "title": "A", "categories": "X|Y"}  # a record written before the list key existed
    assert item_hit(old, 1.0).categories == ["X", "Y"]


def test_a_category_with_a_bar_comes_back_whole_from_search(tiny_store: Path) -> None:
    engine = persistent_engine(tiny_store)
    items = pd.DataFrame({"item_id": ["bar-item"], "title": ["Barred"], "categories": [["Rock|Pop"]]})
    events = pd.DataFrame({"user_id": ["u9"] * 3, "item_id": ["bar-item"] * 3,
                           "timestamp": ["2021-01-05", "2021-01-06", "2021-01-07"]})  # fmt: skip
    engine.ingest(events, items)
    hits = engine.search_history("u9", "Rock", 1)
    assert hits[0].top_categories == ["Rock|Pop"]
    found = engine.store.query_items(text="Barred", k=20)
    assert next(h for h in found if h.item_id == "bar-item").categories == ["Rock|Pop"]


# ---------------------------------------------------------------------------------------------- report --force


def test_cli_report_refuses_an_existing_file_without_force(
    tiny_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.harness.stores import fake_embeddings

    monkeypatch.setattr(
        cli_common, "engine_from", lambda store, url: Engine(settings_from(store, url), embeddings=fake_embeddings())
    )
    out = tmp_path / "report.html"
    out.write_text("keep me")
    args = ["report", "u1", "--out", str(out), "--store", str(tiny_store)]
    runner = CliRunner()
    refused = runner.invoke(app, args)
    assert refused.exit_code == 2 and "--force" in refused.output
    assert out.read_text() == "keep me"
    forced = runner.invoke(app, [*args, "--force"])
    assert forced.exit_code == 0, forced.output
    assert "<html" in out.read_text(encoding="utf-8")


# ---------------------------------------------------------------------------------------------- properties

_ID = st.one_of(
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.text(alphabet="0123456789.e-x ", min_size=1, max_size=8).filter(lambda s: s.strip() not in ("", "null")),
)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(ids=st.lists(_ID, min_size=1, max_size=6))
def test_each_id_is_read_alone_whatever_the_other_rows(tmp_path_factory: pytest.TempPathFactory, ids: list) -> None:
    folder = tmp_path_factory.mktemp("ids")
    rows = [{"user_id": v, "item_id": "a", "timestamp": 1600000000 + k} for k, v in enumerate(ids)]
    alone = []
    for k, row in enumerate(rows):
        try:
            alone.append(load_events(_jsonl(folder / f"one{k}.jsonl", [row]))[0]["user_id"].iloc[0])
        except DataValidationError:
            alone.append(None)
    path = _jsonl(folder / "all.jsonl", rows)
    if None in alone:
        first = alone.index(None) + 1
        _refused(path, first, "user_id", "not an integer id")
        return
    events, _ = load_events(path)
    assert events.sort_values("timestamp")["user_id"].tolist() == alone
    for value, text in zip(ids, alone, strict=True):
        if isinstance(value, str):
            assert text == value.strip()
        elif isinstance(value, int):  # JSON integers are exact at any size
            assert text == str(value)
        else:
            assert text == str(int(value)) and abs(value) < 2**53 and value.is_integer()


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(value=st.integers(0, 5_000_000_000_000))
def test_numeric_timestamps_follow_the_documented_rule(tmp_path_factory: pytest.TempPathFactory, value: int) -> None:
    path = tmp_path_factory.mktemp("ts") / "e.csv"
    path.write_text(EVENTS + f"u,a,{value}\n")
    if value < 10**8:
        _refused(path, 1, "timestamp", "fewer than 9 digits")
        return
    seconds = value / 1000 if value >= 10**11 else value
    if seconds >= pd.Timestamp("2100-01-01", tz="UTC").timestamp():  # 4.1e9 to 1e11 seconds: past 2100
        _refused(path, 1, "timestamp", "out of range")
        return
    expected = pd.Timestamp(round(seconds * 1e6) * 1000, unit="ns", tz="UTC")
    assert load_events(path)[0]["timestamp"].iloc[0] == expected


@pytest.mark.parametrize("value", ["9999999999", "20046744074", "99999999999"])
def test_seconds_past_2100_are_out_of_range_not_wrapped(tmp_path: Path, value: str) -> None:
    path = tmp_path / "e.csv"  # seconds * 1e9 overflowed int64: 20046744074 s wrapped to 2020-09-13
    path.write_text(EVENTS + f"u,a,2020-01-01T00:00:00Z\nu,b,{value}\n")
    _refused(path, 2, "timestamp", "out of range")
