from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest

from interest_tools.data import Catalog
from interest_tools.errors import DateRangeError, InterestToolsError
from interest_tools.explain import ExplainConfig, HistoryAsOf, history_as_of
from interest_tools.windows import WindowConfig, compute_windows
from tests.harness.synth import MIXED, A, B, SynthUser, shifted, steady, windows_of


@pytest.fixture(scope="module")
def planted():
    # u: A for Jan-Aug 2015, B from Sep 2015 to Apr 2016
    return windows_of([shifted("u", 8, 8, A, B), steady("s", 6, MIXED)], seed=11)


def test_covering_window_and_trend(planted):
    wins, items = planted
    h = history_as_of(wins["u"], date(2015, 9, 20), items)
    assert isinstance(h, HistoryAsOf)
    assert h.covered is True
    assert h.window.start == datetime(2015, 9, 1, tzinfo=UTC) and h.window.end == datetime(2015, 10, 1, tzinfo=UTC)
    assert [v.start.month for v in h.trend] == [7, 8, 9]  # the last 3 windows up to the date, oldest first
    assert h.trend[-1] == h.window
    assert h.window.n_events == wins["u"][8].n_events
    shares = {c.category: c.share for c in h.window.categories}
    assert shares == pytest.approx(wins["u"][8].category_weights, abs=1e-4)
    assert [c.share for c in h.window.categories] == sorted((c.share for c in h.window.categories), reverse=True)
    assert h.rising[0].category == "Documentary" and h.rising[0].before == 0
    assert h.falling[0].category == "Sci-Fi" and h.falling[0].after == 0
    titles = dict(zip(items["item_id"], items["title"], strict=True))
    assert [i.item_id for i in h.window.top_items] == wins["u"][8].top_items[:5]
    assert all(i.title == titles[i.item_id] for i in h.window.top_items)
    assert "2015-09-20" in h.text and "Documentary" in h.text and h.text == h.narrative


def test_steady_trend_has_no_big_movers(planted):
    wins, items = planted
    h = history_as_of(wins["u"], "2015-05-10", items)  # inside the A phase
    assert h.covered and h.window.start.month == 5
    assert all(c.category in A for c in h.rising + h.falling)
    assert all(abs(c.after - c.before) < 0.3 for c in h.rising + h.falling)


def test_first_window_has_no_trend(planted):
    wins, items = planted
    h = history_as_of(wins["u"], datetime(2015, 1, 1), items)  # naive: read as UTC
    assert h.covered and h.trend == [h.window] and h.rising == [] and h.falling == []
    assert h.as_of == datetime(2015, 1, 1, tzinfo=UTC)


def test_date_in_a_gap_uses_latest_window_before(planted):
    _, items = planted
    user = SynthUser("g", [(3, A)], (5, 5))
    wins, _ = windows_of([user, SynthUser("h", [(1, A)], (5, 5))], seed=1)
    gapped = wins["g"][:2] + [w.model_copy(update={"start": w.start.replace(month=6), "end": w.end.replace(month=7)})
                              for w in wins["g"][2:]]  # fmt: skip
    h = history_as_of(gapped, date(2015, 4, 15), items)
    assert h.covered is False
    assert h.window.start == datetime(2015, 2, 1, tzinfo=UTC)
    assert "no activity" in h.narrative


@pytest.mark.parametrize(
    ("as_of", "where"),
    [(date(2014, 12, 31), "before the start"), (date(2016, 5, 1), "after the end"), ("2030-01-01", "after the end")],
)
def test_out_of_range_dates_raise_with_valid_range(planted, as_of, where):
    wins, items = planted
    with pytest.raises(DateRangeError) as info:
        history_as_of(wins["u"], as_of, items)
    msg = str(info.value)
    assert where in msg and "2015-01-01 to 2016-04-30" in msg and "user u" in msg
    assert isinstance(info.value, InterestToolsError)


def test_last_day_is_valid(planted):
    wins, items = planted
    h = history_as_of(wins["u"], "2016-04-30T23:59:00+00:00", items)
    assert h.covered and h.window.start == datetime(2016, 4, 1, tzinfo=UTC)


def test_unreadable_date(planted):
    wins, items = planted
    with pytest.raises(InterestToolsError, match="ISO 8601"):
        history_as_of(wins["u"], "last spring", items)


def test_json_and_config(planted):
    wins, items = planted
    h = history_as_of(wins["u"], "2015-10-15", Catalog.of(items), ExplainConfig(trend_windows=5))
    data = h.model_dump(mode="json")
    json.dumps(data)
    assert set(data) == {
        "user_id", "as_of", "covered", "window", "trend", "rising", "falling", "narrative", "stated_preferences"
    }  # fmt: skip
    assert set(data["window"]) == {"start", "end", "n_events", "categories", "top_items"}
    assert data["as_of"] == "2015-10-15T00:00:00Z"
    assert len(data["trend"]) == 5


def test_conftest_events(events, items):
    table = compute_windows(events, items, WindowConfig(freq="quarter"))
    h = history_as_of(table.for_user("u1"), "2020-08-15", items)
    assert h.window.start == datetime(2020, 7, 1, tzinfo=UTC)
    assert h.rising[0].category == "Documentary"
