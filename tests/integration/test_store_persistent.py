"""Real all-MiniLM-L6-v2 embeddings in a persistent Chroma store under tmp_path, on a slice of MovieLens."""

from __future__ import annotations

import numpy as np
import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding

from interest_tools.errors import StoreError
from interest_tools.settings import DEFAULT_EMBEDDING_MODEL, Settings
from interest_tools.store import InterestStore, SentenceTransformerEmbeddings, WindowDoc, item_text
from interest_tools.windows import WindowConfig, user_windows

pytestmark = pytest.mark.integration

N_ITEMS = 300
USERS = ("4", "7")  # 4 and 9 quarterly windows


@pytest.fixture(scope="module")
def embeddings() -> SentenceTransformerEmbeddings:
    return SentenceTransformerEmbeddings()


@pytest.fixture(scope="module")
def items_slice(movielens):
    return movielens.items.iloc[:N_ITEMS].reset_index(drop=True)


@pytest.fixture(scope="module")
def settings(tmp_path_factory) -> Settings:
    return Settings(store_path=tmp_path_factory.mktemp("store"))


@pytest.fixture(scope="module")
def window_docs(movielens):
    docs = []
    for user in USERS:
        for w in user_windows(movielens.events, movielens.items, user, WindowConfig(freq="quarter")):
            cats = list(w.category_weights)[:3]
            text = f"In {w.start:%Y-%m} user {user} mostly watched {', '.join(cats)} films ({w.n_events} ratings)."
            docs.append(WindowDoc.from_window(w, "quarter", text))
    return docs


@pytest.fixture(scope="module")
def first_build(settings, embeddings, items_slice, window_docs):
    with InterestStore.open(embeddings, settings) as store:
        items_report = store.upsert_items(items_slice)
        windows_report = store.upsert_windows(window_docs)
        counts = store.counts()
    return items_report, windows_report, counts


def test_first_build_embeds_everything(first_build, window_docs, settings):
    items_report, windows_report, counts = first_build
    assert (items_report.n_total, items_report.n_embedded, items_report.n_skipped) == (N_ITEMS, N_ITEMS, 0)
    assert windows_report.n_embedded == len(window_docs) == 13
    assert counts == {"items": N_ITEMS, "windows": len(window_docs)}
    assert (settings.store_path / "chroma" / "chroma.sqlite3").is_file()


def test_reopen_rebuild_reembeds_nothing(first_build, settings, embeddings, items_slice, window_docs):
    before = embeddings.n_embedded
    with InterestStore.open(embeddings, settings) as store:
        assert store.dimension == 384
        again = store.upsert_items(items_slice)
        windows_again = store.upsert_windows(window_docs)
    assert (again.n_embedded, again.n_skipped) == (0, N_ITEMS)
    assert (windows_again.n_embedded, windows_again.n_skipped) == (0, len(window_docs))
    assert embeddings.n_embedded == before


def test_stored_vectors_are_the_models_and_semantic_queries_work(first_build, settings, embeddings, items_slice):
    with InterestStore.open(embeddings, settings) as store:
        ids = items_slice["item_id"].tolist()[:5]
        rows = items_slice.iloc[:5]
        texts = [item_text(r.title, r.categories, r.description) for r in rows.itertuples()]
        expected = embeddings.encode(texts)
        stored = store.get_item_vectors(ids)
        np.testing.assert_allclose((stored * expected).sum(axis=1), 1.0, atol=1e-4)
        all_ids, matrix = store.all_item_vectors()
        assert all_ids == sorted(items_slice["item_id"].tolist()) and matrix.shape == (N_ITEMS, 384)

        toy = store.query_items(text="Toy Story. Categories: Adventure, Animation, Children, Comedy, Fantasy.", k=3)
        assert toy[0].title == "Toy Story (1995)" and toy[0].score > 0.8 and toy[0].score > toy[1].score
        exact = store.query_items(text=texts[2], k=1)
        assert exact[0].item_id == ids[2] and exact[0].score == pytest.approx(1.0, abs=1e-4)
        animated = store.query_items(text="animated cartoon for kids", k=5, categories_any=["Animation"])
        assert len(animated) == 5 and all("Animation" in h.categories for h in animated)
        no_kids = store.query_items(text="animated cartoon for kids", k=10, categories_none=["Children"])
        assert no_kids and all("Children" not in h.categories for h in no_kids)
        seen = [h.item_id for h in animated]
        rest = store.query_items(text="animated cartoon for kids", k=5, exclude_ids=seen)
        assert not set(seen) & {h.item_id for h in rest}


def test_search_history_stays_within_the_user(first_build, settings, embeddings, window_docs):
    with InterestStore.open(embeddings, settings) as store:
        target = next(d for d in window_docs if d.user_id == "4")
        hits = store.search_history("7", target.text, k=50)
        assert len(hits) == 9 and {h.user_id for h in hits} == {"7"}
        own = store.search_history("4", target.text, k=1)
        assert own[0].index == target.index and own[0].score > 0.99


def test_reopen_with_another_model_is_refused_and_store_untouched(first_build, settings, embeddings):
    with pytest.raises(StoreError) as info:
        InterestStore.open(DeterministicFakeEmbedding(size=384), settings)
    message = str(info.value)
    assert DEFAULT_EMBEDDING_MODEL in message and "DeterministicFakeEmbedding-384" in message
    assert "--store" in message
    with InterestStore.open(embeddings, settings) as store:
        assert store.counts() == first_build[2]
