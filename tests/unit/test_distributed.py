"""The Ray engine's parts, run in-process (the cluster path is tested in tests/integration/test_ray_build.py).

A window worker given any split of the users must return exactly what the local build summarises, and the
store must write given vectors instead of embedding their texts again.
"""

from __future__ import annotations

import sys
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding

from interest_tools.data import user_row_ranges
from interest_tools.errors import ConfigError, UnknownUserError
from interest_tools.pipeline._build import BuildConfig, summarise_table
from interest_tools.pipeline._ray import (
    RayConfig,
    _decode,
    _interest_error,
    _ItemEmbedder,
    _SummarizerSpec,
    _WindowWorker,
    ray_session,
)
from interest_tools.store import InterestStore, WindowDoc, window_records
from interest_tools.store._embed import SentenceTransformerEmbeddings, content_hash
from interest_tools.summaries import SummaryConfig, TemplateSummarizer
from interest_tools.windows import WindowConfig, compute_windows

EMB = DeterministicFakeEmbedding(size=16)


def test_configs_round_trip() -> None:
    config = BuildConfig(engine="ray", ray=RayConfig(users_per_batch=7, workers=3, cpus_per_worker=0.5))
    assert BuildConfig.model_validate(config.model_dump()) == config
    assert BuildConfig.model_validate_json(config.model_dump_json()) == config
    with pytest.raises(ValueError):
        BuildConfig(engine="spark")  # type: ignore[arg-type]


def test_user_ranges_cover_each_user_once(events: pd.DataFrame) -> None:
    ranges = user_row_ranges(events)
    assert ranges["user_id"].tolist() == ["u1", "u2", "u3"]
    assert ranges["start"].iloc[0] == 0 and ranges["stop"].iloc[-1] == len(events)
    for row in ranges.itertuples():
        assert set(events["user_id"].iloc[row.start : row.stop]) == {row.user_id}
    assert int((ranges["stop"] - ranges["start"]).sum()) == len(events)


@pytest.mark.parametrize("split", [[["u1", "u2", "u3"]], [["u1"], ["u2", "u3"]], [["u3"], ["u1"], ["u2"]]])
def test_window_worker_matches_the_local_summaries_for_any_split(
    events: pd.DataFrame, items: pd.DataFrame, split: list[list[str]]
) -> None:
    window = WindowConfig(freq="month")
    table = compute_windows(events, items, window)
    summaries, docs = summarise_table(TemplateSummarizer(), table, table.users(), events, items)
    model = "DeterministicFakeEmbedding-16"
    known = {content_hash(docs[0].text.strip(), model)}  # one summary is already stored: not embedded again
    worker = _WindowWorker(EMB, _SummarizerSpec("template", SummaryConfig()), window, events, items, known)
    ranges = user_row_ranges(events).set_index("user_id")
    out = pd.concat([worker(ranges.loc[users].reset_index()) for users in split], ignore_index=True)
    got = {(d.user_id, d.index): d for d in map(WindowDoc.model_validate_json, out["doc"])}
    assert len(out) == len(docs)
    for d in docs:
        assert got[(d.user_id, d.index)] == d
    by_hash = dict(zip(out["hash"], out["vector"], strict=True))
    records = window_records(docs, model)
    for text, meta in zip(records.texts, records.metadatas, strict=True):
        blob = by_hash[meta["content_hash"]]
        if meta["content_hash"] in known:
            assert blob == b""
        else:
            np.testing.assert_allclose(_decode(blob), EMB.embed_documents([text])[0], rtol=1e-6)
    assert {s for s in out["summary"]} == {s.model_dump_json() for s in summaries}


def test_item_embedder_returns_vectors_keyed_by_hash() -> None:
    batch = pd.DataFrame({"hash": ["a", "b"], "text": ["Alien (Sci-Fi)", "Heat (Crime)"]})
    out = _ItemEmbedder(EMB)(batch)
    assert out["hash"].tolist() == ["a", "b"]
    np.testing.assert_allclose(_decode(out["vector"].iloc[1]), EMB.embed_documents(["Heat (Crime)"])[0], rtol=1e-6)


def test_store_writes_given_vectors_and_embeds_only_the_rest(items: pd.DataFrame) -> None:
    class Counting(DeterministicFakeEmbedding):
        calls: ClassVar[list[int]] = []

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            self.calls.append(len(texts))
            return super().embed_documents(texts)

    emb = Counting(size=16)
    store = InterestStore.in_memory(emb)
    from interest_tools.store import item_records

    records = item_records(items, store.model_name)
    given = {m["content_hash"]: -np.asarray(EMB.embed_documents([t])[0], dtype=np.float32) for t, m in
             zip(records.texts[:5], records.metadatas[:5], strict=True)}  # fmt: skip
    report = store.upsert_items(items, vectors=given)
    assert report.n_embedded == len(items)  # every record is new to the store ...
    assert sum(emb.calls) == len(items) - 5  # ... but only the texts without a given vector went to the model
    ids = items["item_id"].tolist()
    stored = store.get_item_vectors(ids)
    first = np.asarray(next(iter(given.values())))
    np.testing.assert_allclose(stored[0], first / np.linalg.norm(first), rtol=1e-5)
    own = np.asarray(emb.embed_query(records.texts[6]), dtype=np.float32)
    np.testing.assert_allclose(stored[6], own / np.linalg.norm(own), rtol=1e-5)
    assert store.content_hashes("items") == {m["content_hash"] for m in records.metadatas}


def test_embeddings_pickle_without_the_model() -> None:
    import pickle

    emb = SentenceTransformerEmbeddings(batch_size=8)
    emb._model = object()  # a loaded model must not travel to Ray workers
    clone = pickle.loads(pickle.dumps(emb))
    assert clone._model is None and clone.config == emb.config
    assert clone.model_name == emb.model_name


def test_missing_ray_is_a_config_error_naming_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ConfigError, match=r"interest-tools\[ray\]"), ray_session(None):
        pass


def test_worker_errors_are_unwrapped() -> None:
    inner = UnknownUserError("u9")
    outer = RuntimeError("task failed")
    outer.__cause__ = inner
    assert _interest_error(outer) is inner
    assert _interest_error(RuntimeError("plain")) is None


def test_cli_build_rejects_an_unknown_engine(tmp_path) -> None:
    from typer.testing import CliRunner

    from interest_tools.adapters.cli._common import app

    result = CliRunner().invoke(app, ["build", "--engine", "spark", "--store", str(tmp_path)])
    assert result.exit_code == 2
    assert "--engine must be local or ray" in result.output
    assert not (tmp_path / "state.json").exists()
