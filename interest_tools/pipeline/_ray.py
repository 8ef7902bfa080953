"""The batch side of a build on Ray: windows, summaries and their embeddings, Ray Data ``map_batches`` over users.

``build --engine ray`` hands the work that grows with the log to Ray and keeps the rest on the driver:

- **Workers** (a pool of Ray actors, each loading the embedding model once) receive batches of users. For each
  batch they cut the users' windows, summarise them (template, or the chat model) and embed the summaries whose
  content hash the store does not hold yet. Item texts are embedded the same way, in batches of items.
- **The driver** writes the returned documents and vectors into the store (embedded Chroma or a Chroma server)
  through the same write path as a local build, then trains the forecaster. So the store is the one a local
  build makes: same ids, texts, metadata and vectors (to float rounding).

Users are independent (a window never spans two users), so any split of users gives the same windows. The
events travel once through Ray's object store; each batch is a list of users with their row ranges in the
user-sorted events frame.

Ray is an optional dependency: ``pip install 'interest-tools[ray]'``. Without an address Ray's own
``RAY_ADDRESS`` is used when set, else a local Ray is started for the build and stopped after it.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from interest_tools.data import user_row_ranges
from interest_tools.errors import ConfigError, InterestToolsError
from interest_tools.settings import Settings
from interest_tools.store import (
    HASH_KEY,
    EmbeddingsLike,
    WindowDoc,
    embed_matrix,
    embeddings_name,
    item_records,
    state,
    window_records,
)
from interest_tools.summaries import Summarizer, SummaryConfig, WindowSummary, make_summarizer, resolve_chat_model
from interest_tools.windows import WindowConfig, compute_windows

if TYPE_CHECKING:
    from interest_tools.pipeline._build import BuildConfig
    from interest_tools.pipeline._workspace import Workspace

INSTALL_HINT = "install Ray with: pip install 'interest-tools[ray]'"


class RayConfig(BaseModel):
    """How the batch side of a build is spread over Ray workers."""

    model_config = ConfigDict(extra="forbid")

    users_per_batch: int = Field(
        default=64, ge=1, description="Users per map_batches call (their windows are summarised and embedded together)."
    )
    items_per_batch: int = Field(default=2048, ge=1, description="Item texts per embedding call.")
    workers: int | None = Field(
        default=None,
        ge=1,
        description="Most actors in the pool, each with its own model copy; None: one per CPU the cluster has.",
    )
    cpus_per_worker: float = Field(default=1.0, gt=0, description="CPUs reserved per actor (its torch threads).")


@dataclass
class RayBatchResult:
    """What the workers made: every window's summary and document, and vectors of texts new to the store."""

    summaries: list[WindowSummary]
    docs: list[WindowDoc]
    vectors: dict[str, np.ndarray]
    n_users: int


@dataclass
class _SummarizerSpec:
    """What a worker needs to make the build's summarizer (objects with locks or caches are made there).

    An LLM summarizer gets the workspace's own chat model when it can be pickled, else each worker makes one from
    the settings (``ChatOpenAI`` holds locks and cannot travel).
    """

    kind: Literal["template", "llm"]
    summary: SummaryConfig
    chat_model: Any = None
    settings: Settings | None = None

    def make(self) -> Summarizer:
        try:
            return make_summarizer(self.kind, self.summary, chat_model=self.chat_model, settings=self.settings)
        except ConfigError as exc:
            raise ConfigError(
                "a Ray worker could not make the chat model: OPENAI_API_KEY or INTEREST_TOOLS_CHAT_MODEL is not set "
                "on the worker. Fix: set both where you run the build (they are forwarded to the workers)"
            ) from exc


#: Environment variables forwarded to Ray workers (a cluster's nodes do not share the driver's environment).
FORWARDED_ENV = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")


def _worker_env() -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k in FORWARDED_ENV or k.startswith("INTEREST_TOOLS_")}
    return {"env_vars": env} if env else {}


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise ConfigError(f"--engine ray needs Ray, which is not installed. Fix: {INSTALL_HINT}") from exc
    return ray


@contextmanager
def ray_session(address: str | None) -> Iterator[Any]:
    """Connect to Ray (``address``, else ``RAY_ADDRESS``, else a local Ray that is stopped afterwards)."""
    ray = _import_ray()
    if ray.is_initialized():
        _quiet()
        yield ray
        return
    target = address or os.environ.get("RAY_ADDRESS") or None
    try:
        ray.init(address=target, include_dashboard=False, log_to_driver=False, logging_level="warning")
    except (ConnectionError, ValueError, RuntimeError) as exc:
        raise ConfigError(
            f"cannot connect to Ray at {target!r}: {exc}. Fix: start the cluster (`ray start --head` on the head "
            "node), or pass its address as --ray-address / INTEREST_TOOLS_RAY_ADDRESS ('auto' on a cluster node, "
            "'ray://HOST:10001' from outside), or leave both unset to start a local Ray"
        ) from exc
    _quiet()
    try:
        yield ray
    finally:
        ray.shutdown()


def _quiet() -> None:
    """Per-dataset INFO lines of Ray Data are noise in a build log (set after ray.init, which resets them)."""
    for name in ("ray.data", "ray.data._internal.execution.streaming_executor"):
        logging.getLogger(name).setLevel(logging.WARNING)


class _ItemEmbedder:
    """Ray actor: embeds item texts (rows ``hash``, ``text``) into rows ``hash``, ``vector`` (float32 bytes)."""

    def __init__(self, embeddings: EmbeddingsLike) -> None:
        self.embeddings = embeddings

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        vectors = embed_matrix(self.embeddings, batch["text"].tolist())
        return pd.DataFrame({"hash": batch["hash"].to_numpy(), "vector": [v.tobytes() for v in vectors]})


class _WindowWorker:
    """Ray actor: for a batch of users, windows, summaries, and vectors of summaries the store lacks."""

    def __init__(
        self,
        embeddings: EmbeddingsLike,
        summarizer: _SummarizerSpec,
        window: WindowConfig,
        events: Any,
        items: Any,
        known: Any,
    ) -> None:
        import ray

        get = lambda v: ray.get(v) if isinstance(v, ray.ObjectRef) else v  # noqa: E731
        self.embeddings, self.window = embeddings, window
        self.summarizer = summarizer.make()
        self.events: pd.DataFrame = get(events)
        self.items: pd.DataFrame = get(items)
        self.known: set[str] = get(known)
        self.model_name = embeddings_name(embeddings)

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        from interest_tools.pipeline._build import summarise_table

        rows = np.concatenate([np.arange(a, b) for a, b in zip(batch["start"], batch["stop"], strict=True)])
        events = self.events.iloc[rows]
        users = batch["user_id"].tolist()
        table = compute_windows(events, self.items, self.window)
        summaries, docs = summarise_table(self.summarizer, table, users, events, self.items)
        records = window_records(docs, self.model_name)
        hashes = [m[HASH_KEY] for m in records.metadatas]
        todo = [i for i, h in enumerate(hashes) if h not in self.known]
        vectors = embed_matrix(self.embeddings, [records.texts[i] for i in todo]) if todo else np.zeros((0, 0))
        blobs = [b""] * len(docs)
        for i, vector in zip(todo, vectors, strict=True):
            blobs[i] = np.asarray(vector, dtype=np.float32).tobytes()
        return pd.DataFrame(
            {
                "summary": [s.model_dump_json() for s in summaries],
                "doc": [d.model_dump_json() for d in docs],
                "hash": hashes,
                "vector": blobs,
            }
        )


def _pool(ray: Any, config: RayConfig, n_rows: int, per_batch: int) -> dict[str, Any]:
    """map_batches arguments: an actor pool as large as the cluster allows, and batches that keep it busy."""
    fit = max(1, int(ray.cluster_resources().get("CPU", 1) // config.cpus_per_worker))
    workers = config.workers or fit
    return {  # start every actor that fits at once (scaling up from one left a core idle on small jobs)
        "compute": ray.data.ActorPoolStrategy(min_size=min(workers, fit), max_size=workers),
        "batch_size": max(1, min(per_batch, -(-n_rows // workers))),
        "num_cpus": config.cpus_per_worker,
        "batch_format": "pandas",
    }


def _decode(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype=np.float32).copy()


def run_batch_on_ray(
    ws: Workspace,
    events: pd.DataFrame,
    items: pd.DataFrame,
    config: BuildConfig,
    say: Callable[[str], None],
) -> RayBatchResult:
    """Windows, summaries and embeddings of every user on Ray, plus vectors of item texts new to the store.

    Args:
        ws: The store being built (its embeddings, chat model, settings and Chroma handle).
        events: Canonical events, sorted by user (as loaded).
        items: The canonical catalog.
        config: The build's configuration (window cut, summarizer, Ray settings).
        say: Progress messages.

    Raises:
        ConfigError: Ray is missing or unreachable, or the summarizer cannot be sent to workers.
    """
    spec = _summarizer_spec(ws, config)
    model_name = embeddings_name(ws.embeddings)
    with ray_session(ws.settings.ray_address) as ray:
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = sys.stderr.isatty()
        say(f"Ray: {ray.cluster_resources().get('CPU', 0):g} CPUs")
        vectors: dict[str, np.ndarray] = _embed_items(ray, ws, items, model_name, config.ray)
        ranges = user_row_ranges(events)
        known = ray.put(ws.store.content_hashes("windows"))
        say(f"Ray: windows, summaries and embeddings of {len(ranges):,} users")
        try:
            out = (
                ray.data.from_pandas(ranges)
                .map_batches(
                    _WindowWorker,
                    **_pool(ray, config.ray, len(ranges), config.ray.users_per_batch),
                    runtime_env=_worker_env(),
                    fn_constructor_kwargs={
                        "embeddings": ws.embeddings,
                        "summarizer": spec,
                        "window": config.window,
                        "events": ray.put(events),
                        "items": ray.put(items),
                        "known": known,
                    },
                )
                .to_pandas()
            )
        except InterestToolsError:
            raise
        except Exception as exc:
            cause = _interest_error(exc)
            if cause is not None:
                raise cause from exc
            raise
    summaries = [WindowSummary.model_validate_json(s) for s in out["summary"]]
    docs = [WindowDoc.model_validate_json(d) for d in out["doc"]]
    order = sorted(range(len(docs)), key=lambda i: (docs[i].user_id, docs[i].index))
    for h, blob in zip(out["hash"], out["vector"], strict=True):
        if blob:
            vectors[h] = _decode(blob)
    return RayBatchResult([summaries[i] for i in order], [docs[i] for i in order], vectors, len(ranges))


def _embed_items(
    ray: Any, ws: Workspace, items: pd.DataFrame, model_name: str, config: RayConfig
) -> dict[str, np.ndarray]:
    records = item_records(items, model_name)  # validates before any worker starts
    known = ws.store.content_hashes("items")
    todo = {m[HASH_KEY]: text for text, m in zip(records.texts, records.metadatas, strict=True)}
    todo = {h: t for h, t in todo.items() if h not in known}
    if not todo:
        return {}
    out = (
        ray.data.from_pandas(pd.DataFrame({"hash": list(todo), "text": list(todo.values())}))
        .map_batches(
            _ItemEmbedder,
            **_pool(ray, config, len(todo), config.items_per_batch),
            fn_constructor_kwargs={"embeddings": ws.embeddings},
        )
        .to_pandas()
    )
    return {h: _decode(blob) for h, blob in zip(out["hash"], out["vector"], strict=True)}


def _summarizer_spec(ws: Workspace, config: BuildConfig) -> _SummarizerSpec:
    if config.summarizer == "template":
        return _SummarizerSpec("template", config.summary)
    chat = resolve_chat_model(ws.chat_model, ws.settings)  # raises ConfigError when there is none, before Ray starts
    summary = config.summary.model_copy(update={"cache_dir": ws.root / state.LLM_CACHE})
    if ws.chat_model is None:
        return _SummarizerSpec("llm", summary, settings=ws.settings)
    from ray import cloudpickle

    try:
        cloudpickle.dumps(chat)
    except Exception as exc:
        raise ConfigError(
            f"the chat model given to the Engine ({type(chat).__name__}) cannot be sent to Ray workers: {exc}. "
            "Fix: configure it by settings (INTEREST_TOOLS_CHAT_MODEL, OPENAI_API_KEY, "
            "INTEREST_TOOLS_OPENAI_BASE_URL) so that each worker makes its own, or build with --engine local"
        ) from exc
    return _SummarizerSpec("llm", summary, chat_model=chat)


def _interest_error(exc: BaseException) -> InterestToolsError | None:
    """The InterestToolsError a worker raised, unwrapped from Ray's task error chain (None if it was not one)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, InterestToolsError):
            return seen
        cause = getattr(seen, "cause", None)
        seen = cause if isinstance(cause, BaseException) else seen.__cause__
    return None
