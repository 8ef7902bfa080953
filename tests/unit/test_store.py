from __future__ import annotations

import socket
import uuid
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding
from pydantic import ValidationError

from interest_tools.errors import (
    ConfigError,
    DataValidationError,
    NotBuiltError,
    StoreError,
    UnknownUserError,
)
from interest_tools.settings import Settings
from interest_tools.store import InterestStore, StoreConfig, WindowDoc, item_text, parse_chroma_url, window_records
from interest_tools.windows import WindowConfig, user_windows


class CountingEmbeddings:
    """Deterministic fake that counts the texts it embeds; optional fixed model name and size attribute."""

    def __init__(self, size: int = 16, name: str | None = None, expose_size: bool = True) -> None:
        self.inner = DeterministicFakeEmbedding(size=size)
        self.model_name = name or f"counting-{size}"
        if expose_size:
            self.size = size
        self.batches: list[int] = []

    @property
    def n_embedded(self) -> int:
        return sum(self.batches)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.batches.append(len(texts))
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.inner.embed_query(text)


class NaNEmbeddings(CountingEmbeddings):
    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        rows = super().embed_documents(texts)
        rows[-1] = [float("nan")] * len(rows[-1])
        return rows


def unique_config(**kw) -> StoreConfig:
    return StoreConfig(collection_prefix=f"t{uuid.uuid4().hex[:10]}_", **kw)


def doc(user: str, index: int, text: str | None = None, freq: str = "month", cats=("Sci-Fi",)) -> WindowDoc:
    return WindowDoc(
        user_id=user,
        freq=freq,
        index=index,
        start=datetime(2020, index, 1),
        end=datetime(2020, index + 1, 1),
        text=text if text is not None else f"{user} watched films in {freq} {index}",
        top_categories=list(cats),
    )


@pytest.fixture
def emb() -> CountingEmbeddings:
    return CountingEmbeddings()


@pytest.fixture
def store(emb):
    s = InterestStore.in_memory(emb)
    yield s
    s.close()


@pytest.fixture
def built(store, items):
    store.upsert_items(items)
    return store


# ------------------------------------------------------------------------------------------- config


def test_config_round_trips_and_validates_names():
    cfg = StoreConfig(collection_prefix="proj_", max_batch_size=7, show_progress=False)
    assert StoreConfig.model_validate(cfg.model_dump()) == cfg
    assert (cfg.items_name, cfg.windows_name) == ("proj_items", "proj_windows")
    with pytest.raises(ValidationError, match="not valid for Chroma"):
        StoreConfig(collection_prefix="bad name ")
    with pytest.raises(ValidationError, match="must differ"):
        StoreConfig(items_collection="same", windows_collection="same")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://localhost:8123", ("localhost", 8123, False)),
        ("http://chroma.internal", ("chroma.internal", 8000, False)),
        ("https://db.example.com/", ("db.example.com", 443, True)),
        ("https://db.example.com:9443", ("db.example.com", 9443, True)),
    ],
)
def test_parse_chroma_url(url, expected):
    assert parse_chroma_url(url) == expected


@pytest.mark.parametrize("url", ["localhost:8000", "ftp://h:1", "http://h:1/api", "http://h:99999", "http://"])
def test_parse_chroma_url_rejects_bad_urls(url):
    with pytest.raises(ConfigError, match="chroma_url"):
        parse_chroma_url(url)


def test_unreachable_server_is_a_store_error(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = Settings(store_path=tmp_path, chroma_url=f"http://127.0.0.1:{port}")
    with pytest.raises(StoreError, match=f"cannot reach the Chroma server at http://127.0.0.1:{port}"):
        InterestStore.open(CountingEmbeddings(), settings)


def test_open_from_settings_uses_store_path_chroma(tmp_path, items):
    settings = Settings(store_path=tmp_path / "s")
    with InterestStore.open(CountingEmbeddings(), settings, unique_config()) as s:
        assert s.location == str(tmp_path / "s" / "chroma")
        assert s.upsert_items(items).n_embedded == 12
    assert (tmp_path / "s" / "chroma").is_dir()
    with pytest.raises(StoreError, match="closed"):
        s.counts()


# ------------------------------------------------------------------------------------------- items


def test_upsert_then_query_by_vector_and_text(built, items):
    assert built.counts() == {"items": 12, "windows": 0}
    assert built.dimension == 16
    vec = built.get_item_vectors(["i04"])[0]
    hits = built.query_items(vector=vec, k=3)
    assert len(hits) == 3 and hits[0].item_id == "i04"
    assert hits[0].score == pytest.approx(1.0, abs=1e-5)
    assert hits[0].title == "Comedy Film 4" and hits[0].categories == ["Comedy"]
    assert hits[0].score >= hits[1].score >= hits[2].score
    row = items.iloc[3]
    text = item_text(row["title"], row["categories"], row["description"])
    by_text = built.query_items(text=text, k=1)
    assert by_text[0].item_id == "i03" and by_text[0].categories == ["Comedy", "Drama"]
    assert by_text[0].score == pytest.approx(1.0, abs=1e-5)


def test_query_filters_by_category_and_excludes_ids(built):
    vec = built.get_item_vectors(["i00"])[0]
    drama_or_horror = built.query_items(vector=vec, k=20, categories_any=["Drama", "Horror"])
    assert {h.item_id for h in drama_or_horror} == {"i00", "i03", "i06", "i07", "i08", "i09"}
    no_drama = built.query_items(vector=vec, k=20, categories_none=["Drama", "Sci-Fi"])
    assert {h.item_id for h in no_drama} == {"i04", "i05", "i07", "i08", "i10", "i11"}
    both = built.query_items(vector=vec, k=20, exclude_ids=["i00", "i06"], categories_any=["Drama"])
    assert {h.item_id for h in both} == {"i03", "i09"}
    top2 = built.query_items(vector=vec, k=2, exclude_ids=["i00"])
    assert len(top2) == 2 and "i00" not in {h.item_id for h in top2}
    assert built.query_items(vector=vec, k=5, categories_any=["Western"]) == []


def test_query_argument_errors(built, store):
    with pytest.raises(ConfigError, match="exactly one"):
        built.query_items()
    with pytest.raises(ConfigError, match="exactly one"):
        built.query_items(vector=np.ones(16), text="x")
    with pytest.raises(ConfigError, match="k must be"):
        built.query_items(text="x", k=0)
    with pytest.raises(ConfigError, match="16-dim"):
        built.query_items(vector=np.ones(5))
    empty = InterestStore.in_memory(CountingEmbeddings())
    with pytest.raises(NotBuiltError, match="no items"):
        empty.query_items(text="anything")


def test_item_vectors_order_missing_and_all(built):
    vectors = built.get_item_vectors(["i05", "i01", "i05"])
    assert vectors.shape == (3, 16) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(vectors[0], vectors[2])
    assert not np.allclose(vectors[0], vectors[1])
    with pytest.raises(StoreError, match=r"1 item id\(s\) are not in the store.*'nope'"):
        built.get_item_vectors(["i01", "nope"])
    padded = built.get_item_vectors(["i01", "nope"], missing="nan")
    assert np.isfinite(padded[0]).all() and np.isnan(padded[1]).all()
    ids, matrix = built.all_item_vectors()
    assert ids == [f"i{i:02d}" for i in range(12)]
    np.testing.assert_allclose(matrix[5], vectors[0])
    np.testing.assert_allclose(matrix, built.get_item_vectors(ids))


def test_second_upsert_reembeds_nothing_and_changed_text_only(store, emb, items):
    first = store.upsert_items(items)
    assert (first.n_total, first.n_embedded, first.n_skipped) == (12, 12, 0)
    calls = emb.n_embedded
    second = store.upsert_items(items)
    assert (second.n_embedded, second.n_updated, second.n_skipped) == (0, 0, 12)
    assert emb.n_embedded == calls
    changed = items.copy()
    changed.loc[changed["item_id"] == "i02", "description"] = "A new description."
    third = store.upsert_items(changed)
    assert (third.n_embedded, third.n_skipped) == (1, 11)
    assert emb.n_embedded == calls + 1
    row = changed[changed["item_id"] == "i02"].iloc[0]
    hit = store.query_items(text=item_text(row["title"], row["categories"], row["description"]), k=1)[0]
    assert hit.item_id == "i02" and hit.score == pytest.approx(1.0, abs=1e-5)


def test_writes_in_batches_up_to_the_cap(items):
    emb = CountingEmbeddings()
    store = InterestStore.in_memory(emb, unique_config(max_batch_size=5))
    assert store.upsert_items(items).n_embedded == 12
    assert emb.batches == [5, 5, 2]
    assert store.counts()["items"] == 12
    assert store.item_ids() == sorted(items["item_id"])  # read in pages of 5
    ids, matrix = store.all_item_vectors()
    assert len(ids) == 12 and matrix.shape == (12, 16)
    assert store.delete_items([f"i{i:02d}" for i in range(7)] + ["i00", "absent"]) == 7
    assert store.item_ids() == [f"i{i:02d}" for i in range(7, 12)]


def test_duplicate_ids_and_bad_items_are_rejected_before_writing(store, emb, items):
    store.upsert_items(items.iloc[:3])
    dup = pd.concat([items, items.iloc[[4]]], ignore_index=True)
    with pytest.raises(DataValidationError, match=r"row 13.*duplicate store id 'item:i04'"):
        store.upsert_items(dup)
    no_title = items.copy()
    no_title.loc[5, "title"] = "  "
    with pytest.raises(DataValidationError, match="empty title for item 'i05'"):
        store.upsert_items(no_title)
    with pytest.raises(DataValidationError, match="lacks column"):
        store.upsert_items(items.drop(columns=["categories"]))
    assert store.counts()["items"] == 3
    assert emb.n_embedded == 3


def test_bad_vectors_write_nothing(items):
    store = InterestStore.in_memory(NaNEmbeddings())
    with pytest.raises(StoreError, match="non-finite vector"):
        store.upsert_items(items)
    assert store.counts()["items"] == 0


# ------------------------------------------------------------------------------------------- model check


def test_other_model_is_refused_on_open_before_any_write(items):
    config = unique_config()
    first = InterestStore.in_memory(CountingEmbeddings(16), config)
    first.upsert_items(items)
    before = first.get_item_vectors(["i00"])
    other = DeterministicFakeEmbedding(size=32)
    with pytest.raises(StoreError) as info:
        InterestStore.in_memory(other, config)
    message = str(info.value)
    assert "counting-16" in message and "DeterministicFakeEmbedding-32" in message
    assert "--store" in message and "same model" in message
    assert first.counts()["items"] == 12
    np.testing.assert_array_equal(first.get_item_vectors(["i00"]), before)


def test_same_name_other_dimension_is_refused_before_writing(items):
    config = unique_config()
    InterestStore.in_memory(CountingEmbeddings(8, name="m", expose_size=False), config).upsert_items(items)
    other = CountingEmbeddings(12, name="m", expose_size=False)
    store = InterestStore.in_memory(other, config)  # dimension not known until something is embedded
    assert store.dimension == 8  # the stored one
    changed = items.copy()
    changed["description"] = "changed"
    with pytest.raises(StoreError, match=r"dimension 8.*dimension 12"):
        store.upsert_items(changed)
    with pytest.raises(StoreError, match=r"dimension 8.*dimension 12"):
        store.upsert_windows([doc("u1", 1)])
    assert store.counts() == {"items": 12, "windows": 0}
    assert store.get_item_vectors(["i00"]).shape == (1, 8)


# ------------------------------------------------------------------------------------------- windows


def test_search_history_never_returns_another_users_windows(store):
    docs = [doc(u, i, text=f"space opera marathon {i}") for u in ("u1", "u2") for i in (1, 2, 3)]
    docs.append(doc("u2", 4, text="only u2 watched this exact thing"))
    assert store.upsert_windows(docs).n_embedded == 7
    hits = store.search_history("u1", "only u2 watched this exact thing", k=10)
    assert len(hits) == 3 and {h.user_id for h in hits} == {"u1"}
    assert {h.index for h in hits} == {1, 2, 3}
    own = store.search_history("u2", "only u2 watched this exact thing", k=2)
    assert own[0].user_id == "u2" and own[0].index == 4 and own[0].score == pytest.approx(1.0, abs=1e-5)
    assert own[0].summary == "only u2 watched this exact thing"
    assert own[0].start == datetime(2020, 4, 1, tzinfo=UTC) and own[0].top_categories == ["Sci-Fi"]
    with pytest.raises(UnknownUserError, match="u9"):
        store.search_history("u9", "anything")
    with pytest.raises(ConfigError, match="empty"):
        store.search_history("u1", "  ")


def test_search_history_on_empty_store_and_freq_filter(store):
    with pytest.raises(NotBuiltError, match="no windows"):
        store.search_history("u1", "x")
    store.upsert_windows([doc("u1", 1), doc("u1", 1, freq="quarter"), doc("u1", 2, freq="quarter")])
    hits = store.search_history("u1", "u1 watched films in month 1", k=5, freq="quarter")
    assert {h.freq for h in hits} == {"quarter"} and len(hits) == 2
    with pytest.raises(UnknownUserError):
        store.search_history("u1", "x", freq="week")


def test_window_ids_forget_and_replace(store):
    store.upsert_windows([doc("u1", i) for i in (1, 2, 3)] + [doc("u1", 1, freq="year"), doc("u2", 1)])
    assert store.user_window_ids("u1") == [
        "window:u1:month:1",
        "window:u1:month:2",
        "window:u1:month:3",
        "window:u1:year:1",
    ]
    assert store.user_window_ids("u1", "year") == ["window:u1:year:1"]
    report = store.replace_user_windows("u1", "month", [doc("u1", 2), doc("u1", 4)])
    assert (report.n_embedded, report.n_skipped, report.n_deleted) == (1, 1, 2)
    assert store.user_window_ids("u1") == ["window:u1:month:2", "window:u1:month:4", "window:u1:year:1"]
    with pytest.raises(DataValidationError, match="not a 'month' window of user 'u1'"):
        store.replace_user_windows("u1", "month", [doc("u2", 5)])
    assert store.window_ids() == sorted([*store.user_window_ids("u1"), "window:u2:month:1"])
    assert store.window_ids("year") == ["window:u1:year:1"]
    assert store.delete_windows(["window:u1:year:1", "window:nobody:month:1"]) == 1
    assert store.forget_user("u1") == 2
    assert store.user_window_ids("u1") == []
    assert store.forget_user("u1") == 0
    assert store.window_ids() == ["window:u2:month:1"]
    assert store.user_window_ids("u2") == ["window:u2:month:1"]


def test_window_metadata_change_rewrites_without_embedding(store, emb):
    store.upsert_windows([doc("u1", 1, cats=("Sci-Fi",))])
    calls = emb.n_embedded
    report = store.upsert_windows([doc("u1", 1, cats=("Horror", "Sci-Fi"))])
    assert (report.n_embedded, report.n_updated, report.n_skipped) == (0, 1, 0)
    assert emb.n_embedded == calls
    assert store.search_history("u1", "x")[0].top_categories == ["Horror", "Sci-Fi"]


def test_bad_window_docs_are_rejected_before_writing(store):
    store.upsert_windows([doc("u1", 1)])
    with pytest.raises(DataValidationError, match=r"row 3.*duplicate store id 'window:u1:month:2'"):
        store.upsert_windows([doc("u1", 2), doc("u1", 3), doc("u1", 2, text="again")])
    with pytest.raises(DataValidationError, match=r"row 2.*empty summary text"):
        store.upsert_windows([doc("u1", 5), doc("u1", 6, text="   ")])
    assert store.user_window_ids("u1") == ["window:u1:month:1"]
    with pytest.raises(ValidationError, match="before its start"):
        WindowDoc(user_id="u", freq="m", index=0, start=datetime(2020, 2, 1), end=datetime(2020, 1, 1), text="t")


def test_window_records_schema_and_from_window(events, items):
    windows = user_windows(events, items, "u1", WindowConfig(freq="quarter"))
    docs = [WindowDoc.from_window(w, "quarter", f"summary {w.index}", top_k=2) for w in windows]
    assert docs[0].top_categories == list(windows[0].category_weights)[:2]
    records = window_records(docs, "m")
    meta = records.metadatas[0]
    assert records.ids[0] == f"window:u1:quarter:{windows[0].index}"
    assert meta["start"] == windows[0].start.isoformat() and isinstance(meta["start_unix"], int)
    assert meta["start_unix"] == int(windows[0].start.timestamp())
    assert meta["top_categories"] == "|".join(docs[0].top_categories)
    assert meta["user_id"] == "u1" and meta["freq"] == "quarter" and len(meta["content_hash"]) == 32
