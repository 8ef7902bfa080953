from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from interest_tools.recommend import Preferences, RecommendConfig, UserContext, recommend
from interest_tools.recommend._reasons import Standing

JULY = datetime(2020, 7, 1, tzinfo=UTC)

ITEMS = pd.DataFrame(
    {
        "item_id": ["seen", "a", "b", "h", "cold"],
        "title": ["Seen Doc", "Doc A", "Doc B", "Horror H", "Brand New Doc"],
        "categories": [["Documentary"], ["Documentary"], ["Documentary", "Drama"], ["Horror"], ["Documentary"]],
        "description": "",
    }
)
VECS = {
    "seen": [1.0, 0.0, 0.0],
    "a": [0.9, 0.1, 0.0],
    "b": [0.7, 0.3, 0.0],
    "h": [0.0, 0.0, 1.0],
    "cold": [0.99, 0.0, 0.05],
}


class FakeIndex:
    """An item index over VECS with the store's filtering semantics."""

    def query_items(self, vector=None, text=None, k=10, exclude_ids=(), categories_any=None, categories_none=None):
        q = np.asarray(vector)
        cats = dict(zip(ITEMS["item_id"], ITEMS["categories"], strict=True))
        hits = []
        for item_id, v in VECS.items():
            if item_id in set(exclude_ids):
                continue
            if categories_none and set(categories_none) & set(cats[item_id]):
                continue
            if categories_any and not set(categories_any) & set(cats[item_id]):
                continue
            v = np.asarray(v) / np.linalg.norm(v)
            hits.append(SimpleNamespace(item_id=item_id, score=float(v @ q)))
        return sorted(hits, key=lambda h: -h.score)[:k]

    def get_item_vectors(self, item_ids):
        return np.asarray([VECS.get(i, [np.nan] * 3) for i in item_ids], dtype=np.float32)


def ctx(**kw) -> UserContext:
    base = dict(
        user_id="u",
        seen={"seen"},
        history=[("seen", 5.0)],
        category_weights={"Documentary": 0.8, "Horror": 0.2},
        rising=["Documentary"],
        interest_vector=np.array([1.0, 0.0, 0.0], dtype=np.float32),
        # the forecaster knows only the items it was trained on: "cold" has no model score at all
        model_scores=pd.Series({"seen": 3.0, "a": 2.0, "b": 1.0, "h": 0.5}),
    )
    base.update(kw)
    return UserContext(**base)


POP = pd.Series({"seen": 10, "a": 5, "b": 3, "h": 1})


def test_cold_start_item_is_recommended_from_its_text_and_seen_items_are_not():
    recs = recommend(ctx(), index=FakeIndex(), items=ITEMS, popularity=POP, config=RecommendConfig(k=4))
    ids = [r.item_id for r in recs.items]
    assert "seen" not in ids
    assert "cold" in ids  # no interactions, no model score: found through its embedding
    assert ids.index("cold") < ids.index("h")


def test_every_item_has_a_reason_built_from_evidence():
    # the user moved to Documentary at their latest shift and the forecast expects more: both agree
    standing = Standing(moved_to={"Documentary": (0.1, 0.6)}, shift_start=JULY, forecast_rising={"Documentary"})
    recs = recommend(ctx(standing=standing), index=FakeIndex(), items=ITEMS, popularity=POP, config=RecommendConfig(k=3))
    for r in recs.items:
        assert r.reason.endswith(".")
        if "Documentary" in r.categories:
            assert "Documentary is rising" in r.reason
        assert "like Seen Doc, which you rated 5" in r.reason


def test_category_filters_and_stated_preferences():
    only_horror = recommend(ctx(), index=FakeIndex(), items=ITEMS, popularity=POP, categories_any=["Horror"])
    assert [r.item_id for r in only_horror.items] == ["h"]
    no_docs = recommend(
        ctx(), index=FakeIndex(), items=ITEMS, popularity=POP, preferences=Preferences(excluded_categories=["Documentary"])
    )
    assert [r.item_id for r in no_docs.items] == ["h"]
    rejected = recommend(
        ctx(), index=FakeIndex(), items=ITEMS, popularity=POP, preferences=Preferences(rejected_items=["a", "cold"])
    )
    assert {"a", "cold"}.isdisjoint(r.item_id for r in rejected.items)


def test_mmr_diversifies_and_config_round_trips():
    config = RecommendConfig(k=2, mmr_lambda=0.3)
    assert RecommendConfig.model_validate(config.model_dump()) == config
    plain = recommend(ctx(), index=FakeIndex(), items=ITEMS, popularity=POP, config=RecommendConfig(k=2))
    diverse = recommend(ctx(), index=FakeIndex(), items=ITEMS, popularity=POP, config=config)
    assert len(diverse.items) == 2
    assert plain.items[0].item_id == diverse.items[0].item_id
    assert "h" in [r.item_id for r in diverse.items]  # the far-away item beats a near-duplicate


def test_bad_k_is_rejected():
    with pytest.raises(ValueError):
        RecommendConfig(k=0)


# ------------------------------------------------------------------------------------------- reasons tell the truth


def reasons(standing: Standing, **kw) -> dict[str, str]:
    recs = recommend(ctx(standing=standing), index=FakeIndex(), items=ITEMS, popularity=POP, **kw)
    return {r.item_id: r.reason for r in recs.items}


def test_reason_never_calls_rising_what_the_user_left_or_only_the_forecast_says():
    # the forecast lists Documentary rising, but the user's own windows moved away from it: no "rising"
    left = Standing(moved_from={"Documentary": (0.9, 0.04)}, shift_start=JULY, forecast_rising={"Documentary"})
    for reason in reasons(left).values():
        assert "rising" not in reason and "moved toward" not in reason
    # ranking holds Documentary to its 4% after the shift, but the reason quotes the forecast's own share
    assert reasons(left)["a"].startswith("Documentary is 80% of your forecast interests;")
    # asked for it (maya's --category Running): the reason says so, not that it is rising
    asked = reasons(left, categories_any=["Documentary"])
    assert asked and all(r.startswith("You asked for Documentary;") for r in asked.values())
    # the forecast alone (no shift toward it in the user's windows) is not enough to call it rising
    alone = reasons(Standing(forecast_rising={"Documentary"}))
    assert all("rising" not in r for r in alone.values())
    assert reasons(Standing())["a"].startswith("Documentary is 80% of your forecast interests;")


def test_reason_names_the_shift_and_the_steady_core_as_explain_does():
    moved = reasons(Standing(moved_to={"Documentary": (0.01, 0.12)}, shift_start=JULY))
    assert moved["a"].startswith("You moved toward Documentary in July 2020 (1% → 12%);")
    # the forecast expects Documentary to fall: the shift is not quoted as a move toward it
    falling = reasons(Standing(moved_to={"Documentary": (0.01, 0.12)}, shift_start=JULY, forecast_falling={"Documentary"}))
    assert "moved toward" not in falling["a"] and "rising" not in falling["a"]
    steady = reasons(Standing(steady={"Documentary": 0.41}))
    assert steady["a"].startswith("Documentary is one of your steady interests (41% of your history);")
    # a stable-core category the user left at the latest shift is not called steady
    left = reasons(Standing(steady={"Documentary": 0.41}, moved_from={"Documentary": (0.6, 0.2)}, shift_start=JULY))
    assert "steady" not in left["a"]


def test_like_evidence_is_the_most_similar_past_item_of_each_pick():
    history = [("seen", 5.0), ("h0", 3.0)]  # a documentary and a horror film the user rated
    items = pd.concat(
        [ITEMS, pd.DataFrame({"item_id": ["h0"], "title": ["Old Horror"], "categories": [["Horror"]], "description": ""})],
        ignore_index=True,
    )
    VECS["h0"] = [0.0, 0.1, 1.0]
    try:
        recs = recommend(
            ctx(history=history, seen={"seen", "h0"}), index=FakeIndex(), items=items, popularity=POP,
            config=RecommendConfig(k=5),
        )  # fmt: skip
    finally:
        del VECS["h0"]
    like = {r.item_id: r.reason.split("; like ")[1] for r in recs.items}
    assert like["h"] == "Old Horror, which you rated 3."
    assert like["a"] == like["cold"] == "Seen Doc, which you rated 5."
    assert len(set(like.values())) == 2  # varies across picks


def test_steady_needs_the_forecast_too_and_unrelated_past_items_are_not_evidence():
    from interest_tools.recommend._reasons import most_similar_past

    falling = reasons(Standing(steady={"Documentary": 0.41}, forecast_falling={"Documentary"}))
    assert "steady" not in falling["a"]
    # no shared category and a distant text: no "like" at all; a shared category is evidence
    assert most_similar_past(["Horror"], np.array([1.0, 0.0]), [["Comedy"]], np.array([[0.0, 1.0]])) is None
    assert most_similar_past(["Horror"], np.array([1.0, 0.0]), [["Comedy"]], np.array([[0.9, 0.1]])) == 0
    assert most_similar_past(["Horror"], np.array([1.0, 0.0]), [["Comedy"], ["Horror"]], np.array([[1, 0], [0.2, 1.0]])) == 1
