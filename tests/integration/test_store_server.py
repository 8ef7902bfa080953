"""The store against a real Chroma server (`chroma run`) started by the test, through HttpClient."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding

from interest_tools.errors import StoreError, UnknownUserError
from interest_tools.settings import DEFAULT_EMBEDDING_MODEL, Settings
from interest_tools.store import InterestStore, SentenceTransformerEmbeddings, WindowDoc

pytestmark = pytest.mark.integration

N_ITEMS = 100


def _chroma_binary() -> str | None:
    beside = Path(sys.executable).parent / "chroma"
    return str(beside) if beside.exists() else shutil.which("chroma")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory) -> Iterator[str]:
    binary = _chroma_binary()
    if binary is None:
        pytest.skip("the `chroma` CLI is not installed")
    data = tmp_path_factory.mktemp("chroma_server")
    port = _free_port()
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
    log = (data / "server.log").open("w")
    proc = subprocess.Popen(
        [binary, "run", "--path", str(data / "db"), "--port", str(port)], stdout=log, stderr=subprocess.STDOUT, env=env
    )
    url = f"http://localhost:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail(f"chroma server did not start: {(data / 'server.log').read_text()[-2000:]}")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture(scope="module")
def settings(chroma_url, tmp_path_factory) -> Settings:
    # store_path points at an empty directory: the server must be used, not an embedded store.
    return Settings(chroma_url=chroma_url, store_path=tmp_path_factory.mktemp("unused"))


def test_build_query_search_and_forget_through_the_server(settings, movielens):
    embeddings = SentenceTransformerEmbeddings()
    items = movielens.items.iloc[:N_ITEMS].reset_index(drop=True)
    docs = [
        WindowDoc(user_id="a", freq="month", index=i, start=datetime(2020, i, 1), end=datetime(2020, i + 1, 1),
                  text=text, top_categories=cats)
        for i, (text, cats) in enumerate(
            [("Lots of horror and slasher films.", ["Horror"]), ("Romantic comedies all month.", ["Romance"])],
            start=1,
        )
    ] + [
        WindowDoc(user_id="b", freq="month", index=1, start=datetime(2020, 1, 1), end=datetime(2020, 2, 1),
                  text="Lots of horror and slasher films.", top_categories=["Horror"])
    ]  # fmt: skip
    with InterestStore.open(embeddings, settings) as store:
        assert store.location == settings.chroma_url
        assert store.upsert_items(items).n_embedded == N_ITEMS
        assert store.upsert_windows(docs).n_embedded == 3
        assert store.counts() == {"items": N_ITEMS, "windows": 3}
        hits = store.query_items(text="animated film for children", k=5, categories_any=["Animation"])
        assert len(hits) == 5 and all("Animation" in h.categories for h in hits)
        not_comedy = store.query_items(text="funny", k=10, categories_none=["Comedy"], exclude_ids=["1"])
        assert not_comedy and all("Comedy" not in h.categories and h.item_id != "1" for h in not_comedy)
        found = store.search_history("a", "scary movies", k=2)
        assert [h.index for h in found] == [1, 2] and {h.user_id for h in found} == {"a"}
        assert found[0].score > found[1].score
        assert store.forget_user("a") == 2
        with pytest.raises(UnknownUserError):
            store.search_history("a", "scary movies")
        assert store.search_history("b", "scary movies")[0].user_id == "b"
    assert not (settings.store_path / "chroma").exists()

    with InterestStore.open(embeddings, settings) as again:
        before = embeddings.n_embedded
        assert again.upsert_items(items).n_skipped == N_ITEMS and embeddings.n_embedded == before
    with pytest.raises(StoreError, match=f"'{DEFAULT_EMBEDDING_MODEL}'.*DeterministicFakeEmbedding-8"):
        InterestStore.open(DeterministicFakeEmbedding(size=8), settings)
