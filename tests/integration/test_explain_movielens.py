"""Explain every user of the bundled MovieLens data: time it, and check what every explanation must satisfy."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import numpy as np
import pytest

from interest_tools.data import Catalog
from interest_tools.errors import DateRangeError
from interest_tools.explain import explain_user, history_as_of
from interest_tools.explain._change_points import profile_of, tv_distance
from interest_tools.explain._narrative import narrative_dates, ungrounded_dates
from interest_tools.summaries import display_title, find_ungrounded
from interest_tools.windows import WindowConfig, compute_windows

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def explained(movielens):
    table = compute_windows(movielens.events, movielens.items, WindowConfig(freq="month"))
    catalog = Catalog.of(movielens.items)
    t0 = time.perf_counter()
    results = {u: explain_user(table.for_user(u), catalog) for u in table.users()}
    seconds = time.perf_counter() - t0
    print(f"\nexplained {len(results)} users in {seconds:.1f} s; "
          f"{sum(bool(r.shifts) for r in results.values())} with shifts")  # fmt: skip
    return table, results, seconds


def test_all_users_in_reasonable_time(explained):
    table, results, seconds = explained
    assert len(results) == 610 == len(table.users())
    assert seconds < 60


def test_structural_invariants(explained, movielens):
    table, results, _ = explained
    history = movielens.events.groupby("user_id")["item_id"].agg(set).to_dict()
    n_shifts = 0
    for user, ex in results.items():
        data = ex.to_json()
        json.dumps(data)
        assert data["user_id"] == user
        mags = [s.magnitude for s in ex.shifts]
        assert mags == sorted(mags, reverse=True)
        wins = table.for_user(user)
        prof = profile_of(wins)
        for s in ex.shifts:
            n_shifts += 1
            assert 0 < s.magnitude <= 1
            assert s.before.start < s.before.end <= s.after.start < s.after.end
            assert wins[0].start <= s.before.start and s.after.end <= wins[-1].end
            lo, k = s.before_windows
            _, hi = s.after_windows
            assert s.magnitude == pytest.approx(tv_distance(prof.pooled(lo, k), prof.pooled(k, hi)), abs=1e-3)
            for key in ("rising", "falling", "new", "faded"):
                for c in getattr(s, key):
                    assert 0 <= c.before <= 1 and 0 <= c.after <= 1
            assert all(c.after > c.before for c in s.rising) and all(c.after < c.before for c in s.falling)
            assert all(c.before < 0.005 for c in s.new) and all(c.after < 0.005 for c in s.faded)
            assert set(s.evidence_item_ids) <= history[user]
            assert len(set(s.evidence_item_ids)) == len(s.evidence_item_ids) <= 8
        for st in ex.stable:
            assert 0 < st.share <= 1 and 0 < st.coverage <= 1
        shares = [st.share for st in ex.stable]
        assert shares == sorted(shares, reverse=True)
    assert n_shifts >= 3  # a handful of long histories change for real


def test_narratives_are_grounded(explained, movielens):
    _, results, _ = explained
    all_titles = movielens.items["title"].tolist()
    all_cats = sorted({c for cs in movielens.items["categories"] for c in cs})
    for ex in results.values():
        text = ex.narrative
        assert text.startswith(f"User {ex.user_id} has ")
        facts = {s.category for s in ex.stable} | {
            c.category for s in ex.shifts for cs in (s.rising, s.falling, s.new, s.faded) for c in cs
        }
        assert find_ungrounded(text, facts, ex.titles.values(), all_cats, all_titles) == [], ex.user_id
        shown = {display_title(t) for t in ex.titles.values()}
        assert ungrounded_dates(text, narrative_dates(ex), ignore=shown) == [], ex.user_id
        assert ("No lasting shift" in text) == (not ex.shifts)


def test_history_as_of_across_users(explained, movielens):
    table, _, _ = explained
    catalog = Catalog.of(movielens.items)
    rng = np.random.default_rng(0)
    users = [u for u in table.users() if len(table.rows_for(u)) >= 3][:60]
    for user in users:
        wins = table.for_user(user)
        first, last = wins[0].start, wins[-1].end
        for _ in range(3):
            at = first + (last - first) * float(rng.random())
            h = history_as_of(wins, at, catalog)
            assert h.window.start <= at
            assert h.covered == (at < h.window.end)
            assert 1 <= len(h.trend) <= 3 and h.trend[-1] == h.window
            assert abs(sum(c.share for c in h.window.categories) - 1) < 1e-3
        with pytest.raises(DateRangeError):
            history_as_of(wins, first - timedelta(days=1), catalog)
        with pytest.raises(DateRangeError):
            history_as_of(wins, last, catalog)
