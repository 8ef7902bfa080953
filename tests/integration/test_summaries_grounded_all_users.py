"""Every template summary of the bundled dataset (610 users, monthly windows) passes the grounding check."""

from __future__ import annotations

import time

import pytest

from interest_tools.summaries import SummaryConfig, find_ungrounded, summarize_windows
from interest_tools.windows import compute_windows

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def test_all_monthly_template_summaries_are_grounded(movielens) -> None:
    started = time.perf_counter()
    items, events = movielens.items, movielens.events
    windows = list(compute_windows(events, items))
    summaries = summarize_windows(windows, items, events, config=SummaryConfig(noun="movies"))

    assert len(summaries) == len(windows) > 2000
    assert len({s.user_id for s in summaries}) == 610
    all_categories = sorted({c for cs in items["categories"] for c in cs})
    all_titles = items["title"].tolist()
    title_of = dict(zip(items["item_id"], all_titles, strict=True))
    failures = []
    for w, s in zip(windows, summaries, strict=True):
        assert (s.user_id, s.index) == (w.user_id, w.index)
        allowed = [title_of[i] for i in w.item_ids if i in title_of]
        bad = find_ungrounded(s.summary, w.category_weights, allowed, all_categories, all_titles)
        if (
            bad
            or not set(s.mentioned_categories) <= set(w.category_weights)
            or not set(s.mentioned_item_ids) <= set(w.item_ids)
        ):
            failures.append((w.user_id, w.index, s.summary, bad))
    assert failures == []
    # The template says "rated" (MovieLens has ratings), names a highest-rated movie, and "New this month" only
    # after a user's first window.
    assert all(" you rated " in s.summary and "Highest rated: " in s.summary for s in summaries)
    firsts = {}
    for s in summaries:
        firsts.setdefault(s.user_id, s)
    assert not any("New this month" in s.summary for s in firsts.values())
    assert sum("New this month" in s.summary for s in summaries) > 500
    assert time.perf_counter() - started < 45
