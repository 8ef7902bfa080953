"""Ingest writes new summaries the way the build did and re-embeds only the windows whose text changed (issue 15,
item 3): the build records its SummaryConfig in ``state.json``; stores built before that get the noun read back
from their own summaries (see ``interest_tools.pipeline._wording``)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from interest_tools.engine import Engine
from interest_tools.pipeline import BuildConfig, noun_for_dataset
from interest_tools.pipeline._wording import stored_summary_config
from interest_tools.store import state
from tests.harness.stores import fixture_dataset, memory_engine, new_events

MOVIES = BuildConfig.model_validate({"summary": {"noun": "movies"}, "train_forecaster": False})


def _texts(engine: Engine, user: str) -> dict[int, str]:
    return {s.index: s.summary for s in engine.user_summaries(user)}


def _changed(before: dict[int, str], after: dict[int, str]) -> int:
    return sum(before.get(index) != text for index, text in after.items())


@pytest.fixture
def movies_store(tmp_path: Path) -> Engine:
    engine = memory_engine(tmp_path / "store")
    engine.build(fixture_dataset(), MOVIES)
    return engine


def test_the_build_records_its_wording(movies_store: Engine) -> None:
    recorded = state.read_state(movies_store.root).summary
    assert recorded is not None and recorded["noun"] == "movies"
    assert "cache_dir" not in recorded


@pytest.mark.parametrize("when", ["2020-12-20T00:00:00Z", "2021-01-05T00:00:00Z"])  # an old window, a new one
def test_ingest_keeps_the_noun_and_embeds_only_changed_windows(movies_store: Engine, when: str) -> None:
    before = _texts(movies_store, "u2")
    report = movies_store.ingest(new_events("u2", "i11", when))
    after = _texts(movies_store, "u2")
    assert report.windows_embedded == _changed(before, after) == 1
    assert all(" movies" in text or " movie" in text for text in after.values()), after
    assert not any(" items" in text for text in after.values())
    recorded = state.read_state(movies_store.root).summary
    assert recorded is not None and recorded["noun"] == "movies"


def test_a_store_without_recorded_wording_reads_it_from_its_summaries(movies_store: Engine) -> None:
    path = movies_store.root / state.STATE
    old = json.loads(path.read_text())
    del old["summary"]  # as written before the wording was recorded
    path.write_text(json.dumps(old))
    before = _texts(movies_store, "u2")
    report = movies_store.ingest(new_events("u2", "i11", "2021-01-05T00:00:00Z"))
    assert report.windows_embedded == _changed(before, _texts(movies_store, "u2")) == 1
    recorded = state.read_state(movies_store.root).summary
    assert recorded is not None and recorded["noun"] == "movies"  # recorded from now on


def test_the_noun_rule_for_old_stores() -> None:
    prior = state.BuildState(
        dataset="shop", window={}, embedding_model="m", summarizer="template", n_events=0, n_users=0, n_items=0,
        n_windows=0, updated_at=state.now(),
    )  # fmt: skip
    summaries = pd.DataFrame(
        {
            "summary": [
                "In March 2020 you interacted with 3 pairs of shoes, mostly Running (67%). Top pair of shoes: X.",
                "In April 2020 you interacted with 1 pair of shoes, all Running. Top pair of shoes: X.",
                "This week you rated 2 pairs of shoes. Highest rated: Y, 5.",
            ],
            "source": ["template", "template", "template"],
        }
    )
    config = stored_summary_config(prior, summaries)
    assert (config.noun, config.singular) == ("pairs of shoes", "pair of shoes")
    assert stored_summary_config(prior, summaries.assign(source="llm")).noun == "items"  # no template to read
    movielens = prior.model_copy(update={"dataset": "movielens-small"})
    assert stored_summary_config(movielens, summaries.iloc[:0]).noun == "movies" == noun_for_dataset("movielens-small")
