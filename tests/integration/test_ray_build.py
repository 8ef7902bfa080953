"""``build --engine ray`` (a local Ray started by the build) makes the same store as the local engine.

Real model, persistent Chroma in ``tmp_path``, a slice of the bundled MovieLens users (and only the items they
rated) to keep it economical: each Ray build starts Ray and two actor pools, about 30 s of fixed cost here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from interest_tools.data import Dataset
from interest_tools.engine import Engine
from interest_tools.forecast import ForecastConfig
from interest_tools.pipeline import BuildConfig, BuildReport, RayConfig
from interest_tools.settings import Settings
from tests.harness.vectors import assert_same_vectors

pytest.importorskip("ray", reason="the ray extra is installed by `make setup`")
pytestmark = pytest.mark.integration

CONFIG = BuildConfig(forecast=ForecastConfig(epochs=1, hidden_size=16, item_dim=16))


def _contents(engine: Engine) -> dict[str, dict[str, tuple[Any, ...]]]:
    out: dict[str, dict[str, tuple[Any, ...]]] = {}
    for which in ("items", "windows"):
        got = engine.store.records(which)
        out[which] = {
            rid: (doc, meta, np.asarray(vec, dtype=np.float32))
            for rid, doc, meta, vec in zip(
                got["ids"], got["documents"], got["metadatas"], got["embeddings"], strict=True
            )
        }
    return out


@pytest.fixture(scope="module")
def builds(movielens: Dataset, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    users = sorted(movielens.events["user_id"].unique())[:20]
    events = movielens.events[movielens.events["user_id"].isin(users)].reset_index(drop=True)
    items = movielens.items[movielens.items["item_id"].isin(events["item_id"])].reset_index(drop=True)
    data = Dataset(events=events, items=items, name="slice")
    local = Engine(Settings(store_path=tmp_path_factory.mktemp("local")))
    local_report = local.build(data, CONFIG)
    on_ray = Engine(Settings(store_path=tmp_path_factory.mktemp("ray")))
    ray_config = CONFIG.model_copy(update={"engine": "ray", "ray": RayConfig(users_per_batch=3, workers=2)})
    ray_report = on_ray.build(data, ray_config)
    rebuild_report = on_ray.build(data, ray_config)  # everything already stored: nothing is embedded again
    return {
        "local": local, "ray": on_ray, "local_report": local_report, "ray_report": ray_report,
        "rebuild_report": rebuild_report, "n_users": len(users), "n_items": len(items),
    }  # fmt: skip


def test_ray_build_reports_the_same_counts(builds: dict[str, Any]) -> None:
    local: BuildReport = builds["local_report"]
    ray: BuildReport = builds["ray_report"]
    assert ray.n_users == local.n_users == builds["n_users"]
    assert ray.n_items == local.n_items == builds["n_items"]
    assert ray.n_windows == local.n_windows > builds["n_users"]
    assert ray.items_embedded == local.items_embedded == builds["n_items"]
    assert ray.windows_embedded == local.windows_embedded == local.n_windows
    assert ray.forecaster_trained and local.forecaster_trained


def test_ray_build_stores_the_same_records_and_vectors(builds: dict[str, Any]) -> None:
    local, ray = _contents(builds["local"]), _contents(builds["ray"])
    for which in ("items", "windows"):
        assert sorted(ray[which]) == sorted(local[which]), which
        ids = sorted(local[which])
        for rid in ids:
            (doc, meta, _), (r_doc, r_meta, _) = local[which][rid], ray[which][rid]
            assert r_doc == doc, rid
            assert r_meta == meta, rid
        # Same model and texts, but the actors batch other texts together (other padding, other kernels), so
        # the vectors differ in rounding only: compared by cosine and nearest neighbours (tests/harness/vectors.py).
        vectors = np.stack([local[which][rid][2] for rid in ids])
        r_vectors = np.stack([ray[which][rid][2] for rid in ids])
        assert_same_vectors(vectors, r_vectors, ids, which)


def test_ray_build_writes_the_same_summaries_and_state(builds: dict[str, Any]) -> None:
    local, ray = builds["local"], builds["ray"]
    pd.testing.assert_frame_equal(ray.summaries, local.summaries)
    l_state, r_state = local.build_state, ray.build_state
    same = {"updated_at", "generation"}  # generation counts writes: the Ray store was also rebuilt
    assert r_state.model_dump(exclude=same) == l_state.model_dump(exclude=same)


def test_ray_rebuild_embeds_nothing_again(builds: dict[str, Any]) -> None:
    again: BuildReport = builds["rebuild_report"]
    assert again.items_embedded == 0
    assert again.windows_embedded == 0
    assert again.forecaster_trained is False  # unchanged training inputs keep the forecaster (issue 14)
    assert again.n_windows == builds["ray_report"].n_windows


def test_engine_built_on_ray_answers(builds: dict[str, Any]) -> None:
    ray: Engine = builds["ray"]
    user = ray.users()[0]
    recs = ray.recommend(user, k=5)
    assert len(recs.items) == 5
    assert all(item.reason for item in recs.items)
    assert ray.search_history(user, "comedy", k=2)


def test_llm_summaries_on_ray_equal_local_ones(
    movielens: Dataset, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each worker makes its own ChatOpenAI from the settings (the client cannot be pickled) and reaches the same
    OpenAI-compatible endpoint (a local fake that answers from the prompt, so answers are deterministic)."""
    import threading
    from http.server import ThreadingHTTPServer

    from langchain_core.embeddings import DeterministicFakeEmbedding

    from tests.integration.test_summarize_openai import FakeOpenAI

    FakeOpenAI.requests = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAI)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    monkeypatch.setenv("OPENAI_API_KEY", "sk-local-test")
    users = sorted(movielens.events["user_id"].unique())[:3]
    events = movielens.events[movielens.events["user_id"].isin(users)].reset_index(drop=True)
    items = movielens.items[movielens.items["item_id"].isin(events["item_id"])].reset_index(drop=True)
    data = Dataset(events=events, items=items, name="slice")
    config = BuildConfig(summarizer="llm", train_forecaster=False)
    out, calls = {}, {}
    try:
        for kind in ("local", "ray"):
            settings = Settings(
                store_path=tmp_path_factory.mktemp(f"llm-{kind}"),
                chat_model="gpt-test",
                openai_base_url=f"http://127.0.0.1:{httpd.server_address[1]}/v1",
            )
            emb = DeterministicFakeEmbedding(size=16)
            engine = Engine(settings, embeddings=emb)
            engine.build(data, config.model_copy(update={"engine": kind, "ray": RayConfig(users_per_batch=1)}))
            out[kind] = engine.summaries
            calls[kind] = len(FakeOpenAI.requests) - sum(calls.values())
    finally:
        httpd.shutdown()
    local, ray = out["local"], out["ray"]
    assert (local["source"] == "llm").mean() > 0.9  # the endpoint wrote them, not the template fallback
    pd.testing.assert_frame_equal(ray, local)
    assert calls["ray"] >= len(ray)  # the workers called the endpoint for every window (no shared cache)
