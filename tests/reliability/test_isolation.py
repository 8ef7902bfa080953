"""Promise 6: every answer belongs to the caller only (engine and store level), whatever else happens.

A Hypothesis state machine interleaves searches, summaries, windows, forecasts, recommendations, explanations,
as-of questions and stated feedback across the fixture's three users, and checks after every step that the
answer carries the caller's id only, names only the caller's own history as evidence, and that another user's
feedback never changes the caller's answers.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from interest_tools.engine import Engine
from interest_tools.errors import UnknownUserError
from interest_tools.store import _state as state
from tests.harness.stores import persistent_engine

USERS = ["u1", "u2", "u3"]
CATEGORIES = ["Sci-Fi", "Comedy", "Horror", "Documentary", "Drama"]
QUERIES = ["documentary", "when did I like horror?", "comedy nights", "space films", "what changed in July"]
_ENGINE: dict[str, Engine] = {}


class Isolation(RuleBasedStateMachine):
    """Interleaved calls by several users against one engine."""

    @initialize()
    def setup(self) -> None:
        self.engine = _ENGINE["engine"]
        (self.engine.root / state.FEEDBACK).unlink(missing_ok=True)  # each run starts without feedback
        self.feedback: dict[str, dict[str, bool]] = {u: {} for u in USERS}  # category -> boost (True) / exclude
        self.recs: dict[tuple[Any, ...], Any] = {}
        self.own_items = {u: set(self.engine.dataset.user_events(u)["item_id"]) for u in USERS}
        titles = self.engine.titles
        self.own_titles = {u: {titles[i] for i in items} for u, items in self.own_items.items()}
        self.all_titles = set(titles.values())

    def _state(self, user: str) -> tuple[tuple[str, bool], ...]:
        return tuple(sorted(self.feedback[user].items()))

    @rule(user=st.sampled_from(USERS), query=st.sampled_from(QUERIES), k=st.integers(1, 14))
    def search(self, user: str, query: str, k: int) -> None:
        hits = self.engine.search_history(user, query, k)
        assert 1 <= len(hits) <= min(k, 12)
        assert {h.user_id for h in hits} == {user}

    @rule(user=st.sampled_from(USERS))
    def summaries_and_windows(self, user: str) -> None:
        summaries = self.engine.user_summaries(user)
        windows = self.engine.user_windows(user)
        assert {s.user_id for s in summaries} == {w.user_id for w in windows} == {user}
        assert set().union(*(w.item_ids for w in windows)) <= self.own_items[user]
        for s in summaries:
            assert set(s.mentioned_item_ids) <= self.own_items[user]
            assert not re.search(rf"\b(?!{user}\b)u\d\b", s.summary)

    @rule(user=st.sampled_from(USERS))
    def forecast(self, user: str) -> None:
        assert self.engine.forecast(user).user_id == user

    @rule(user=st.sampled_from(USERS), k=st.integers(1, 6), only=st.sampled_from([None, *CATEGORIES]))
    def recommend(self, user: str, k: int, only: str | None) -> None:
        result = self.engine.recommend(user, k, categories=[only] if only else None)
        assert result.user_id == user
        for item in result.items:
            assert item.item_id not in self.own_items[user]  # already seen items are never suggested
            named = {t for t in self.all_titles if f"like {t}," in item.reason}
            assert named <= self.own_titles[user], (user, item.reason)  # the evidence is the caller's own history
        key = (user, k, only, self._state(user))
        previous = self.recs.setdefault(key, result)
        assert previous == result  # other users' feedback in between changed nothing for this user

    @rule(user=st.sampled_from(USERS))
    def explain(self, user: str) -> None:
        result = self.engine.explain(user)
        assert result.user_id == user
        for shift in result.shifts:
            assert set(shift.evidence_item_ids) <= self.own_items[user]
        expected = [f"{'more' if boost else 'no more'} {c}" for c, boost in self.feedback[user].items()]
        assert sorted(result.stated_preferences) == sorted(expected)

    @rule(user=st.sampled_from(USERS), day=st.integers(0, 365))
    def history_as_of(self, user: str, day: int) -> None:
        import pandas as pd

        result = self.engine.history_as_of(user, pd.Timestamp("2020-01-01", tz="UTC") + pd.Timedelta(days=day))
        assert result.user_id == user
        seen = {ref.item_id for view in [result.window, *result.trend] for ref in view.top_items}
        assert seen <= self.own_items[user]

    @rule(user=st.sampled_from(USERS), category=st.sampled_from(CATEGORIES), boost=st.booleans())
    def feedback_rule(self, user: str, category: str, boost: bool) -> None:
        self.engine.add_feedback(user, "more_category" if boost else "no_more_category", category=category)
        self.feedback[user].pop(category, None)
        self.feedback[user][category] = boost

    @rule(name=st.text(min_size=1, max_size=8).filter(lambda s: s not in USERS))
    def unknown_user(self, name: str) -> None:
        for call in (
            lambda: self.engine.search_history(name, "anything"),
            lambda: self.engine.recommend(name, 3),
            lambda: self.engine.forecast(name),
            lambda: self.engine.add_feedback(name, "more_category", category="Comedy"),
        ):
            with pytest.raises(UnknownUserError):
                call()

    @invariant()
    def preferences_are_per_user(self) -> None:
        if not hasattr(self, "engine"):
            return
        for user in USERS:
            prefs = self.engine.preferences(user)
            assert sorted(prefs.boosted_categories) == sorted(c for c, b in self.feedback[user].items() if b)
            assert sorted(prefs.excluded_categories) == sorted(c for c, b in self.feedback[user].items() if not b)


def test_answers_belong_to_the_caller_only(tiny_store: Path) -> None:
    _ENGINE["engine"] = persistent_engine(tiny_store)
    try:
        run_state_machine_as_test(
            Isolation,
            settings=settings(
                max_examples=6,
                stateful_step_count=20,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                database=None,
            ),
        )
    finally:
        _ENGINE.clear()
