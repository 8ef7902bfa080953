"""`interest-tools windows 1 --freq month --json` checked against an independent pandas computation."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from interest_tools.datasets import MOVIELENS_DIR

pytestmark = pytest.mark.integration


def independent_monthly_profile(user: str) -> pd.DataFrame:
    ratings = pd.read_csv(MOVIELENS_DIR / "ratings.csv", dtype={"userId": str, "movieId": str})
    movies = pd.read_csv(MOVIELENS_DIR / "movies.csv", dtype={"movieId": str})
    mine = ratings[ratings["userId"] == user].merge(movies, on="movieId")
    mine["month"] = pd.to_datetime(mine["timestamp"], unit="s", utc=True).dt.strftime("%Y-%m")
    # documented mapping: MovieLens "(no genres listed)" becomes the category "unknown"
    mine["genre"] = mine["genres"].str.replace("(no genres listed)", "unknown", regex=False).str.split("|")
    mine["share"] = 1.0 / mine["genre"].str.len()
    exploded = mine.explode("genre")
    weights = exploded.groupby(["month", "genre"])["share"].sum()
    return weights / weights.groupby(level="month").transform("sum"), mine.groupby("month").size()


@pytest.mark.parametrize("user", ["1", "414"])
def test_cli_monthly_json_matches_pandas(user):
    proc = subprocess.run(
        [sys.executable, "-m", "interest_tools", "windows", user, "--freq", "month", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    windows = json.loads(proc.stdout)
    shares, counts = independent_monthly_profile(user)
    assert [w["start"][:7] for w in windows] == list(counts.index)
    assert [w["n_events"] for w in windows] == counts.tolist()
    for w in windows:
        month = w["start"][:7]
        expected = shares.loc[month].to_dict()
        assert set(w["category_weights"]) == set(expected)
        for genre, share in expected.items():
            assert w["category_weights"][genre] == pytest.approx(share, abs=1e-6)
        assert w["start"].endswith("T00:00:00Z") and w["end"] > w["start"]
    assert all(
        set(w)
        >= {
            "user_id",
            "index",
            "start",
            "end",
            "n_events",
            "item_ids",
            "category_weights",
            "top_items",
            "new_categories",
            "faded_categories",
            "mean_rating",
        }
        for w in windows
    )


def test_cli_bad_input_exits_2_with_message_on_stderr(tmp_path: Path):
    bad = tmp_path / "events.csv"
    bad.write_text("user_id,item_id,timestamp\nu,a,not-a-time\n")
    items = tmp_path / "items.csv"
    items.write_text("item_id,title,categories\na,A,X\n")
    proc = subprocess.run(
        [sys.executable, "-m", "interest_tools", "windows", "u", "--events", str(bad), "--items", str(items)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "row 1" in proc.stderr and "timestamp" in proc.stderr and "Traceback" not in proc.stderr
