"""A store built from 99% of the events and then given the last 1% by ``Engine.ingest`` equals a clean build.

Fake embeddings and no forecaster keep it fast; a slice of the bundled MovieLens users keeps it economical.
The held-out 1% is a seeded random sample (not only the newest events), so ingest must also recompute
windows earlier in a user's history.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding

from interest_tools.data import Dataset
from interest_tools.engine import Engine
from interest_tools.pipeline import BuildConfig
from interest_tools.settings import Settings
from interest_tools.store import InterestStore

pytestmark = pytest.mark.integration


def _engine(root: Path) -> Engine:
    emb = DeterministicFakeEmbedding(size=16)
    return Engine(Settings(store_path=root), embeddings=emb, store=InterestStore.in_memory(emb))


def _window_docs(engine: Engine) -> dict[str, tuple[Any, ...]]:
    """Every window record. Vectors are compared exactly: the fake embedding is a function of the text alone
    (seeded by its hash), so batch, order and threads cannot change it; rounding would only hide a real change.
    """
    ids = engine.store.window_ids()
    got = engine.store.records("windows", ids)
    return {
        rid: (doc, tuple(sorted((k, v) for k, v in (meta or {}).items())), tuple(np.asarray(vec).tolist()))
        for rid, doc, meta, vec in zip(got["ids"], got["documents"], got["metadatas"], got["embeddings"], strict=True)
    }


def _summaries(engine: Engine) -> pd.DataFrame:
    return engine.summaries.sort_values(["user_id", "index"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def engines(movielens: Dataset, tmp_path_factory: pytest.TempPathFactory) -> tuple[Engine, Engine, int]:
    users = sorted(movielens.events["user_id"].unique())[:40]
    events = movielens.events[movielens.events["user_id"].isin(users)].reset_index(drop=True)
    items = movielens.items[movielens.items["item_id"].isin(events["item_id"])].reset_index(drop=True)
    held = np.random.default_rng(7).random(len(events)) < 0.01
    config = BuildConfig(train_forecaster=False)

    clean = _engine(tmp_path_factory.mktemp("clean"))
    clean.build(Dataset(events=events, items=items, name="slice"), config)

    incremental = _engine(tmp_path_factory.mktemp("incremental"))
    base = events[~held].reset_index(drop=True)
    incremental.build(Dataset(events=base, items=items, name="slice"), config)
    new = events.loc[held, ["user_id", "item_id", "timestamp", "rating", "weight", "event", "text"]]
    report = incremental.ingest(new.reset_index(drop=True))
    assert report.users_touched == new["user_id"].nunique()
    return clean, incremental, int(held.sum())


def test_some_events_were_held_out(engines: tuple[Engine, Engine, int]) -> None:
    _, incremental, n_held = engines
    assert 20 <= n_held < 0.02 * len(incremental.dataset.events)


def test_same_events_and_windows(engines: tuple[Engine, Engine, int]) -> None:
    clean, incremental, _ = engines
    pd.testing.assert_frame_equal(clean.dataset.events, incremental.dataset.events)
    pd.testing.assert_frame_equal(clean.windows.frame, incremental.windows.frame)


def test_same_summaries(engines: tuple[Engine, Engine, int]) -> None:
    clean, incremental, _ = engines
    pd.testing.assert_frame_equal(_summaries(clean), _summaries(incremental))


def test_same_store_records_and_counts(engines: tuple[Engine, Engine, int]) -> None:
    clean, incremental, _ = engines
    assert clean.store.window_ids() == incremental.store.window_ids()
    assert clean.store.counts() == incremental.store.counts()
    assert _window_docs(clean) == _window_docs(incremental)
    a, b = clean.build_state, incremental.build_state
    assert (a.n_events, a.n_users, a.n_items, a.n_windows) == (b.n_events, b.n_users, b.n_items, b.n_windows)
