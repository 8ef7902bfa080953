"""The default encoder (``backend="auto"``: OpenVINO when installed) gives torch's vectors, and falls back to torch.

The adoption bar from the encoder benchmark: mean cosine >= 0.99 against torch fp32 and the same nearest
neighbours. Here it is checked on real item texts of the bundled data, tighter (cosine >= 0.9999).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from interest_tools.data import Dataset
from interest_tools.errors import ConfigError
from interest_tools.store import EmbedConfig, SentenceTransformerEmbeddings, item_text
from tests.harness.vectors import assert_same_vectors

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def texts(movielens: Dataset) -> list[str]:
    items = movielens.items.iloc[::97]
    return [item_text(t, c, d) for t, c, d in zip(items.title, items.categories, items.description, strict=True)]


@pytest.fixture(scope="module")
def torch_vectors(texts: list[str]) -> np.ndarray:
    emb = SentenceTransformerEmbeddings(backend="torch", show_progress=False)
    return emb.encode(texts)


def test_auto_uses_openvino_with_torchs_vectors(texts: list[str], torch_vectors: np.ndarray) -> None:
    emb = SentenceTransformerEmbeddings(show_progress=False)
    assert emb.config.backend == "auto"
    vectors = emb.encode(texts)
    assert emb.backend_used == "openvino"  # make setup installs the openvino extra
    assert emb.model_name == SentenceTransformerEmbeddings(backend="torch").model_name  # stores stay compatible
    cosine = (vectors * torch_vectors).sum(axis=1)
    assert float(cosine.min()) > 0.9999
    ours = np.argsort(-(vectors @ vectors.T), axis=1)[:, :10]
    theirs = np.argsort(-(torch_vectors @ torch_vectors.T), axis=1)[:, :10]
    overlap = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ours, theirs, strict=True)])
    assert overlap >= 0.99


def test_openvino_is_safe_from_many_threads(texts: list[str]) -> None:
    emb = SentenceTransformerEmbeddings(backend="openvino", show_progress=False)
    one_by_one = np.stack([emb.embed_query(t) for t in texts])
    with ThreadPoolExecutor(8) as pool:
        threaded = np.stack(list(pool.map(emb.embed_query, texts)))
    # Each call encodes one text alone: the same input shape on the same compiled model and thread count runs the
    # same kernels in the same order, so threads must not change a vector beyond float32 rounding (1e-6 on unit
    # vectors). Tests that change the batch around a text compare by cosine instead (tests/harness/vectors.py).
    np.testing.assert_allclose(threaded, one_by_one, atol=1e-6)


def test_auto_falls_back_to_torch_without_openvino(
    texts: list[str], torch_vectors: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("interest_tools.store._embed._importable", lambda *names: False)
    emb = SentenceTransformerEmbeddings(show_progress=False)
    vectors = emb.encode(texts[:8])
    assert emb.backend_used == "torch"
    # Same weights, but 8 texts on one thread against all texts batched on many: rounding differs with the batch
    # and the thread count, so the bound is the encoder's (cosine, neighbours), not an element-wise guess.
    assert_same_vectors(vectors, torch_vectors[:8], texts[:8], "torch fallback")


def test_onnx_backend_agrees_and_int8_is_named_apart(texts: list[str], torch_vectors: np.ndarray) -> None:
    onnx = SentenceTransformerEmbeddings(backend="onnx", show_progress=False)
    assert float((onnx.encode(texts) * torch_vectors).sum(axis=1).min()) > 0.9999
    assert SentenceTransformerEmbeddings(backend="onnx-int8").model_name.endswith("+onnx-int8")


def test_unknown_backend_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="backend"):
        SentenceTransformerEmbeddings(EmbedConfig(), backend="tensorrt")
