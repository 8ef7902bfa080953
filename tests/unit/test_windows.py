from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from interest_tools.data import canonicalize_events
from interest_tools.errors import ConfigError, UnknownUserError
from interest_tools.windows import WindowConfig, compute_windows, user_windows


def ev(rows):
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp", "rating"])
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True, format="mixed").astype("datetime64[ns, UTC]")
    frame["weight"] = 1.0
    frame["event"] = ""
    frame["text"] = ""
    return frame


ITEMS = pd.DataFrame(
    {
        "item_id": ["a", "b", "c", "d"],
        "title": ["A", "B", "C", "D"],
        "categories": [["X"], ["X", "Y"], ["Z"], ["Y"]],
        "description": "",
    }
)


def test_config_needs_exactly_one_mode_and_round_trips():
    assert WindowConfig().freq == "month"
    assert WindowConfig(every_n_events=5).freq is None
    assert WindowConfig(session_gap="PT30M").session_gap == timedelta(minutes=30)
    with pytest.raises(ValueError, match="exactly one"):
        WindowConfig(freq="week", every_n_events=3)
    with pytest.raises(ValueError):
        WindowConfig(freq="fortnight")
    for config in (
        WindowConfig(),
        WindowConfig(every_n_events=7, weight_by="rating"),
        WindowConfig(session_gap="PT1H"),
    ):
        assert WindowConfig.model_validate(config.model_dump()) == config
        assert WindowConfig.model_validate_json(config.model_dump_json()) == config
    assert WindowConfig(session_gap="PT30M").label == "session-1800s"
    assert WindowConfig(every_n_events=20).label == "events-20"


def test_monthly_windows_by_hand():
    events = ev(
        [
            ("u", "a", "2020-01-05", 5.0),
            ("u", "b", "2020-01-20", 3.0),
            ("u", "c", "2020-03-01", 4.0),
            ("u", "d", "2020-03-31T23:59:59", 2.0),
        ]
    )
    wins = compute_windows(events, ITEMS).for_user("u")
    assert [w.index for w in wins] == [600, 602]  # months since 1970-01: the February gap stays visible
    jan, mar = wins
    assert jan.start == pd.Timestamp("2020-01-01", tz="UTC") and jan.end == pd.Timestamp("2020-02-01", tz="UTC")
    assert jan.n_events == 2 and jan.mean_rating == 4.0
    assert jan.category_weights == {"X": 0.75, "Y": 0.25}  # a: X 1.0; b: X 0.5 + Y 0.5
    assert jan.top_items == ["a", "b"]  # equal weight, then higher rating first
    assert jan.new_categories == ["X", "Y"] and jan.faded_categories == []
    assert mar.category_weights == {"Y": 0.5, "Z": 0.5}
    assert mar.new_categories == ["Z"] and mar.faded_categories == ["X"]


def test_weight_by_rating_and_event_weights():
    events = ev([("u", "a", "2020-01-05", 4.0), ("u", "c", "2020-01-06", 1.0)])
    by_rating = compute_windows(events, ITEMS, WindowConfig(weight_by="rating")).for_user("u")[0]
    assert by_rating.category_weights == {"X": 0.8, "Z": 0.2}
    assert by_rating.top_items == ["a", "c"]
    events["weight"] = [0.0, 3.0]
    by_weight = compute_windows(events, ITEMS).for_user("u")[0]
    assert by_weight.category_weights == {"Z": 1.0, "X": 0.0} or by_weight.category_weights == {"Z": 1.0}
    events["weight"] = [0.0, 0.0]  # all-zero window falls back to counting events
    zero = compute_windows(events, ITEMS).for_user("u")[0]
    assert zero.category_weights == {"X": 0.5, "Z": 0.5}
    unrated = ev([("u", "a", "2020-01-05", np.nan)])
    with pytest.raises(ConfigError, match="no event has a rating"):
        compute_windows(unrated, ITEMS, WindowConfig(weight_by="rating"))


@pytest.mark.parametrize(
    ("freq", "ts", "start", "end"),
    [
        ("week", "2020-01-08T10:00", "2020-01-06", "2020-01-13"),  # Wednesday -> week from Monday 6th
        ("week", "2020-01-06T00:00", "2020-01-06", "2020-01-13"),
        ("week", "2020-01-05T23:59", "2019-12-30", "2020-01-06"),
        ("quarter", "2020-05-31", "2020-04-01", "2020-07-01"),
        ("year", "2019-12-31T23:59:59", "2019-01-01", "2020-01-01"),
        ("month", "2020-02-29", "2020-02-01", "2020-03-01"),
    ],
)
def test_calendar_bounds_are_utc_and_half_open(freq, ts, start, end):
    win = compute_windows(ev([("u", "a", ts, 1.0)]), ITEMS, WindowConfig(freq=freq)).for_user("u")[0]
    assert win.start == pd.Timestamp(start, tz="UTC") and win.end == pd.Timestamp(end, tz="UTC")
    assert win.start <= pd.Timestamp(ts, tz="UTC") < win.end


def test_every_n_events_and_session_gap():
    rows = [("u", "a", f"2020-01-01T00:{m:02d}", 1.0) for m in (0, 5, 10, 50, 55)]
    rows += [("v", "c", "2020-01-01T00:00", 1.0)]
    events = ev(rows)
    by_count = compute_windows(events, ITEMS, WindowConfig(every_n_events=2))
    assert [w.n_events for w in by_count.for_user("u")] == [2, 2, 1]
    assert [w.index for w in by_count.for_user("u")] == [0, 1, 2]
    assert by_count.for_user("v")[0].n_events == 1
    sessions = compute_windows(events, ITEMS, WindowConfig(session_gap="PT20M")).for_user("u")
    assert [w.n_events for w in sessions] == [3, 2]
    assert sessions[0].start == pd.Timestamp("2020-01-01T00:00Z")
    assert sessions[0].end == pd.Timestamp("2020-01-01T00:10:01Z")


def test_unknown_user_names_no_other_user(events, items):
    with pytest.raises(UnknownUserError, match="Unknown user 'zz'") as raised:
        user_windows(events, items, "zz")
    assert not any(u in str(raised.value) for u in ("u1", "u2", "u3"))


def test_fixture_user_one_moves_from_scifi_to_documentary(events, items):
    wins = compute_windows(events, items, WindowConfig(freq="quarter")).for_user("u1")
    firsts = [max(w.category_weights, key=w.category_weights.get) for w in wins]
    assert firsts == ["Sci-Fi", "Sci-Fi", "Documentary", "Documentary"]
    assert "Documentary" in wins[2].new_categories and "Sci-Fi" in wins[2].faded_categories


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["u1", "u2", "u3"]),
            st.sampled_from(["a", "b", "c", "d", "zz"]),
            st.integers(1_500_000_000, 1_700_000_000),
            st.sampled_from([1.0, 2.5, 5.0]),
        ),
        min_size=1,
        max_size=60,
    ),
    st.sampled_from(
        [WindowConfig(freq="week"), WindowConfig(), WindowConfig(every_n_events=3), WindowConfig(session_gap="P7D")]
    ),
    st.randoms(use_true_random=False),
)
def test_properties_hold_for_any_log_and_any_order(rows, config, rnd):
    frame = ev([(u, i, pd.Timestamp(t, unit="s"), r) for u, i, t, r in rows])
    frame = canonicalize_events(frame)
    table = compute_windows(frame, ITEMS, config)
    assert int(table.frame["n_events"].sum()) == len(frame)
    for w in table:
        assert sum(w.category_weights.values()) == pytest.approx(1.0, abs=1e-5)
        assert w.start <= w.end
        assert set(w.top_items) <= set(w.item_ids) and len(w.top_items) <= 5
    shuffled = frame.sample(frac=1.0, random_state=rnd.randint(0, 10**6)).reset_index(drop=True)
    other = compute_windows(shuffled, ITEMS, config)
    assert [w.model_dump() for w in other] == [w.model_dump() for w in table]
