from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from interest_tools.recommend import Preferences, RecommendConfig, UserContext, recommend

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
    recs = recommend(ctx(), index=FakeIndex(), items=ITEMS, popularity=POP, config=RecommendConfig(k=3))
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
