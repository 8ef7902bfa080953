from __future__ import annotations

import pandas as pd
import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding

from interest_tools.data import Dataset, canonicalize_events
from interest_tools.engine import Engine
from interest_tools.errors import ConfigError, UnknownUserError
from interest_tools.forecast import ForecastConfig
from interest_tools.pipeline import BuildConfig
from interest_tools.settings import Settings
from interest_tools.store import InterestStore
from tests.harness.data import make_events, make_items

TINY = BuildConfig(forecast=ForecastConfig(epochs=2, hidden_size=8, item_dim=8))


def dataset() -> Dataset:
    return Dataset(events=canonicalize_events(make_events()), items=make_items(), name="synthetic")


@pytest.fixture()
def engine(tmp_path) -> Engine:
    emb = DeterministicFakeEmbedding(size=16)
    eng = Engine(Settings(store_path=tmp_path / "store"), embeddings=emb, store=InterestStore.in_memory(emb))
    eng.build(dataset(), TINY)
    return eng


def test_build_then_rebuild_embeds_nothing_new(engine):
    assert engine.store.counts() == {"items": 12, "windows": 36}
    again = engine.build(dataset(), BuildConfig(train_forecaster=False))
    assert (again.items_embedded, again.windows_embedded) == (0, 0)
    assert engine.users() == ["u1", "u2", "u3"]


def test_forecast_is_framed_in_the_stored_monthly_cut(engine):
    fc = engine.forecast("u1").to_json()
    assert set(fc) == {"user_id", "next_window", "category_weights", "rising", "falling", "model"}
    assert fc["next_window"] == {"start": "2021-01-01T00:00:00Z", "end": "2021-02-01T00:00:00Z"}
    assert sum(fc["category_weights"].values()) == pytest.approx(1.0, abs=0.01)
    for change in fc["rising"]:
        assert change["after"] - change["before"] >= 0.02
    for change in fc["falling"]:
        assert change["before"] - change["after"] >= 0.02
    # u1's last three months were all Documentary (+Drama): nothing can rise above a share it never had
    recent = {c["category"]: c["before"] for c in fc["rising"] + fc["falling"]}
    assert recent.get("Sci-Fi", 0.0) == 0.0


def test_feedback_applies_to_the_next_recommendation_and_shows_in_explanations(engine):
    first = engine.recommend("u1", 5)
    assert first.items and all(r.reason for r in first.items)
    seen = set(engine.dataset.user_events("u1")["item_id"])
    assert seen.isdisjoint(r.item_id for r in first.items)
    top_category = first.items[0].categories[0]
    engine.add_feedback("u1", "no_more_category", category=top_category)
    after = engine.recommend("u1", 5)
    assert all(top_category not in r.categories for r in after.items)
    assert f"no more {top_category}" in engine.explain("u1").stated_preferences
    assert engine.preferences("u2").excluded_categories == []  # feedback is per user
    with pytest.raises(ConfigError, match="valid categories: Comedy, Documentary"):
        engine.add_feedback("u1", "no_more_category", category="Jazz")


def test_ingest_touches_only_the_affected_user(engine):
    before = engine.user_summaries("u3")
    new = pd.DataFrame({"user_id": ["u2"], "item_id": ["i11"], "timestamp": ["2021-01-05T00:00:00Z"], "rating": [5.0]})
    report = engine.ingest(new)
    assert report.users_touched == 1 and report.windows_embedded == 1
    assert engine.user_summaries("u2")[-1].start.isoformat().startswith("2021-01-01")
    assert engine.user_summaries("u3") == before
    assert engine.ingest(new).windows_embedded == 0  # the same events again change nothing


def test_forget_user_and_unknown_user(engine):
    counts = engine.forget_user("u3")
    assert counts["events"] == 36 and counts["windows"] == 12
    assert engine.users() == ["u1", "u2"]
    with pytest.raises(UnknownUserError, match="Unknown user 'u3'"):
        engine.forecast("u3")
    assert engine.store.user_window_ids("u3") == []


def test_unchanged_rebuild_keeps_the_forecaster(engine, monkeypatch):
    """Same events, cut, catalog, embeddings and ForecastConfig: the second build does not train (issue 14)."""
    import interest_tools.forecast._train as train_mod  # the build imports it when it trains

    calls: list[str] = []
    real = train_mod.train_forecaster

    def counting(*args, **kwargs):
        calls.append("train")
        return real(*args, **kwargs)

    monkeypatch.setattr(train_mod, "train_forecaster", counting)
    before = engine.forecaster.score_items("u1")
    again = engine.build(dataset(), TINY)
    assert again.forecaster_trained is False and calls == []
    assert (engine.forecaster.score_items("u1") == before).all()
    changed = engine.build(dataset(), TINY.model_copy(update={"forecast": TINY.forecast.model_copy(update={"seed": 7})}))
    assert changed.forecaster_trained is True and calls == ["train"]
    fewer = Dataset(events=dataset().events.iloc[:-1], items=make_items(), name="synthetic")
    assert engine.build(fewer, TINY).forecaster_trained is True and len(calls) == 2
