from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from interest_tools.data import load_dataset, load_events, load_items, split_categories
from interest_tools.data._validation import parse_timestamps
from interest_tools.errors import DataValidationError
from interest_tools.windows import compute_windows

HEADER = "user_id,item_id,timestamp,rating\n"


def write(tmp_path, name: str, text: str | bytes):
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def items_csv(tmp_path):
    return write(tmp_path, "items.csv", "item_id,title,categories\na,Alpha,Sci-Fi|Drama\nb,Beta,Comedy\n")


@pytest.mark.parametrize(
    ("body", "row", "column", "phrase"),
    [
        ("u1,a,1600000000,4\n,a,1600000001,3\n", 2, "user_id", "empty user_id"),
        ("u1,a,1600000000,4\nu1, ,1600000001,3\n", 2, "item_id", "empty item_id"),
        ("u1,a,yesterday,4\n", 1, "timestamp", "cannot parse timestamp"),
        ("u1,a,1600000000,4\nu1,b,,4\n", 2, "timestamp", "empty timestamp"),
        ("u1,a,1600000000,4\nu1,b,-5,4\n", 2, "timestamp", "out of range"),
        ("u1,a,2150-01-01,4\n", 1, "timestamp", "out of range"),
        ("u1,a,1600000000,4\nu1,b,1600000001,great\n", 2, "rating", "not a finite number"),
        ("u1,a,1600000000,NaN\n", 1, "rating", "not a finite number"),
    ],
)
def test_bad_event_rows_name_file_row_column_and_fix(tmp_path, body, row, column, phrase):
    path = write(tmp_path, "events.csv", HEADER + body)
    with pytest.raises(DataValidationError) as info:
        load_events(path)
    err = info.value
    message = str(err)
    assert str(path) in message
    assert f"row {row}" in message and f"column '{column}'" in message
    assert phrase in message
    assert "Fix:" in message
    assert (err.row, err.column) == (row, column)


def test_negative_weight_is_rejected(tmp_path):
    path = write(tmp_path, "e.csv", "user_id,item_id,timestamp,weight\nu,a,1600000000,1\nu,b,1600000001,-2\n")
    with pytest.raises(DataValidationError, match=r"row 2, column 'weight': negative weight"):
        load_events(path)


def test_missing_column_lists_what_the_file_has_and_how_to_map(tmp_path):
    path = write(tmp_path, "e.csv", "userId,movieId,when\nu,a,1600000000\n")
    with pytest.raises(DataValidationError) as info:
        load_events(path)
    message = str(info.value)
    assert "missing required events column(s) ['user_id', 'item_id', 'timestamp']" in message
    assert "'userId', 'movieId', 'when'" in message and "column_map" in message
    events, _ = load_events(path, {"userId": "user_id", "movieId": "item_id", "when": "timestamp"})
    assert events.loc[0, "user_id"] == "u"


def test_column_map_naming_absent_column_is_an_error(tmp_path):
    path = write(tmp_path, "e.csv", HEADER + "u,a,1600000000,4\n")
    with pytest.raises(DataValidationError, match="column_map names columns that are not in the events file"):
        load_events(path, {"nope": "user_id"})


def test_empty_and_non_utf8_files(tmp_path):
    with pytest.raises(DataValidationError, match="events file is empty"):
        load_events(write(tmp_path, "empty.csv", ""))
    raw = (HEADER + "u1,a,1600000000,4\n").encode() + b"u2,\xff\xfe,1600000000,4\n"
    with pytest.raises(DataValidationError, match=r"line 3\) are not valid UTF-8.*re-save the file as UTF-8"):
        load_events(write(tmp_path, "bad.csv", raw))
    with pytest.raises(DataValidationError, match="not found"):
        load_events(tmp_path / "absent.csv")
    with pytest.raises(DataValidationError, match="unsupported file type '.xlsx'"):
        load_events(write(tmp_path, "e.xlsx", "x"))


def test_timestamp_formats_all_become_the_same_utc_instant():
    expected = pd.Timestamp("2020-09-13T12:26:40Z")
    raw = pd.Series(
        [
            1600000000,
            1600000000000,
            "1600000000",
            "2020-09-13T12:26:40Z",
            "2020-09-13T14:26:40+02:00",
            "2020-09-13 12:26:40",
            pd.Timestamp("2020-09-13 12:26:40"),
        ],
        dtype=object,
    )
    parsed = parse_timestamps(raw, source="<t>", rows=np.arange(1, 8))
    assert str(parsed.dtype) == "datetime64[ns, UTC]"
    assert (parsed == expected).all()


def test_datetime_columns_naive_and_aware():
    naive = pd.Series(pd.to_datetime(["2020-01-01 10:00"]))
    aware = pd.Series(pd.to_datetime(["2020-01-01 11:00"]).tz_localize("Europe/Paris"))
    rows = np.arange(1, 2)
    assert parse_timestamps(naive, source="x", rows=rows).iloc[0] == pd.Timestamp("2020-01-01 10:00Z")
    assert parse_timestamps(aware, source="x", rows=rows).iloc[0] == pd.Timestamp("2020-01-01 10:00Z")


def test_duplicates_dropped_and_counted_and_input_order_never_matters(tmp_path):
    body = "u1,a,1600000000,4\nu2,b,1600000500,3\nu1,a,1600000000,4\nu1,b,1600000100,5\n"
    events, report = load_events(write(tmp_path, "e.csv", HEADER + body))
    assert report.duplicates_dropped == 1 and len(events) == 3
    assert any("1 duplicate" in w for w in report.warnings)
    shuffled = "u1,b,1600000100,5\nu1,a,1600000000,4\nu2,b,1600000500,3\n"
    again, _ = load_events(write(tmp_path, "e2.csv", HEADER + shuffled))
    pd.testing.assert_frame_equal(events, again)
    assert events["user_id"].tolist() == ["u1", "u1", "u2"]
    assert events["item_id"].tolist() == ["a", "b", "b"]


def test_csv_parquet_jsonl_and_dataframe_give_identical_events(tmp_path):
    frame = pd.DataFrame(
        {
            "user_id": ["u1", "u1", "u2"],
            "item_id": ["a", "b", "a"],
            "timestamp": [1600000000, 1600000100, 1600000200],
            "rating": [4.0, 5.0, 3.5],
            "text": ["fun", "", "dark; moody"],
        }
    )
    csv = tmp_path / "e.csv"
    frame.to_csv(csv, index=False)
    pq = tmp_path / "e.parquet"
    frame.to_parquet(pq)
    jl = tmp_path / "e.jsonl"
    jl.write_text("\n".join(json.dumps(r) for r in frame.to_dict("records")))
    loaded = [load_events(src)[0] for src in (csv, pq, jl, frame)]
    for other in loaded[1:]:
        pd.testing.assert_frame_equal(loaded[0], other, check_dtype=False)
    assert loaded[0]["text"].tolist() == ["fun", "", "dark; moody"]
    assert loaded[0]["weight"].tolist() == [1.0, 1.0, 1.0]


def test_missing_rating_cells_are_allowed_and_stay_nan(tmp_path):
    events, _ = load_events(write(tmp_path, "e.csv", HEADER + "u,a,1600000000,\nu,b,1600000001,4\n"))
    assert np.isnan(events["rating"].iloc[0]) and events["rating"].iloc[1] == 4.0


def test_items_validation_and_repairs(tmp_path):
    items = load_items(items_csv(tmp_path))
    assert items["categories"].tolist() == [["Sci-Fi", "Drama"], ["Comedy"]]
    dup = write(tmp_path, "dup.csv", "item_id,title,categories\na,A,X\na,B,Y\n")
    with pytest.raises(DataValidationError, match=r"row 2, column 'item_id': duplicate item_id 'a'"):
        load_items(dup)
    repaired = load_items(write(tmp_path, "r.csv", "item_id,title,categories\nz,,(no genres listed)\n"))
    assert repaired.loc[0, "title"] == "z" and repaired.loc[0, "categories"] == ["unknown"]
    with pytest.raises(DataValidationError, match=r"missing required items column\(s\) \['categories'\]"):
        load_items(write(tmp_path, "nc.csv", "item_id,title\na,A\n"))


def test_split_categories():
    assert split_categories("A| B |A|") == ["A", "B"]
    assert split_categories(["x", "y"]) == ["x", "y"]
    assert split_categories(None) == []


def test_unknown_items_are_kept_with_category_unknown_and_counted(tmp_path):
    events = write(tmp_path, "e.csv", HEADER + "u,a,1600000000,4\nu,zz,1600000001,4\nu,yy,1600000002,2\n")
    dataset = load_dataset(events, items_csv(tmp_path))
    assert len(dataset.events) == 3
    assert dataset.report.unknown_item_events == 2
    assert dataset.report.unknown_item_ids == ["yy", "zz"]
    assert any("missing from the catalog" in w for w in dataset.report.warnings)
    table = compute_windows(dataset.events, dataset.items)
    weights = table.for_user("u")[0].category_weights
    assert weights["unknown"] == pytest.approx(2 / 3)
    assert weights["Sci-Fi"] == pytest.approx(1 / 6, abs=1e-6)


def test_failed_load_returns_nothing_half_loaded(tmp_path):
    good = write(tmp_path, "good.csv", HEADER + "u,a,1600000000,4\n")
    first, _ = load_events(good)
    bad = write(tmp_path, "bad.csv", HEADER + "u,a,1600000000,4\nu,b,oops,4\n")
    with pytest.raises(DataValidationError):
        load_events(bad)
    again, _ = load_events(good)  # an earlier load is untouched by a later failure
    pd.testing.assert_frame_equal(first, again)
