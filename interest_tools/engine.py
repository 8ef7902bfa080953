"""One object that every adapter (CLI, LangChain tools, MCP server) calls: build, ingest, and answer.

The :class:`Engine` owns a store directory (``Settings.store_path``) holding the canonical events and items,
the window summaries, stated feedback, the forecaster checkpoint and, unless a Chroma server is used, the
Chroma files. Models and data load lazily, once; answers are thread-safe (a re-entrant lock guards loading and
every write; the single-writer file lock guards the directory against other processes).
"""

from __future__ import annotations

import threading
from datetime import date, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from interest_tools import state
from interest_tools.data import Dataset, user_row_ranges
from interest_tools.embed import EmbeddingsLike, SentenceTransformerEmbeddings, embeddings_name
from interest_tools.errors import InterestToolsError, UnknownUserError
from interest_tools.explain import Explanation, HistoryAsOf, explain_user, history_as_of
from interest_tools.feedback import FeedbackKind, check_feedback, describe, preferences_from
from interest_tools.forecast import (
    Forecast,
    LSTMForecaster,
    item_vocab_hash,
    load_checkpoint,
)
from interest_tools.forecast.framing import frame_forecast
from interest_tools.recommend import (
    CatalogMaps,
    Preferences,
    Recommendations,
    RecommendConfig,
    catalog_maps,
    recommend,
    user_context,
)
from interest_tools.settings import Settings
from interest_tools.store import InterestStore, WindowHit
from interest_tools.store.mirror import ItemVectorMirror
from interest_tools.summarize import WindowSummary
from interest_tools.windows import Window, WindowConfig, WindowTable, compute_windows

if TYPE_CHECKING:
    from interest_tools.build import BuildConfig, BuildReport, Progress


class Engine:
    """Build and query one store of interests.

    Args:
        settings: Store location (path or Chroma URL) and model names.
        embeddings: Any LangChain-style embeddings; by default sentence-transformers from settings.
        chat_model: A LangChain chat model for LLM summaries; by default none (template summaries).
        store: An already-open :class:`InterestStore` (tests pass an in-memory one).
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        embeddings: EmbeddingsLike | None = None,
        chat_model: Any = None,
        store: InterestStore | None = None,
    ) -> None:
        self.settings = settings or Settings()
        self.root = Path(self.settings.store_path)
        self.embeddings: EmbeddingsLike = embeddings or SentenceTransformerEmbeddings(
            model_name=self.settings.embedding_model,
            device=self.settings.embedding_device,
            batch_size=self.settings.embedding_batch_size,
            backend=self.settings.embedding_backend,
        )
        self.chat_model = chat_model
        self._store = store
        self.lock = threading.RLock()

    # ------------------------------------------------------------------------------------ lazy state

    @property
    def store(self) -> InterestStore:
        """The Chroma store (opened on first use)."""
        with self.lock:
            if self._store is None:
                self._store = InterestStore.open(self.embeddings, self.settings)
            return self._store

    @cached_property
    def build_state(self) -> state.BuildState:
        """The last build's record (raises :class:`NotBuiltError` before any build)."""
        return state.read_state(self.root)

    @cached_property
    def dataset(self) -> Dataset:
        """The stored canonical events and items."""
        events = state.read_frame(self.root, state.EVENTS)
        items = state.read_frame(self.root, state.ITEMS)
        items["categories"] = items["categories"].map(list)
        return Dataset(events=events, items=items, name=self.build_state.dataset)

    @cached_property
    def window_config(self) -> WindowConfig:
        """The cut of the stored summaries."""
        return WindowConfig.model_validate(self.build_state.window)

    @cached_property
    def windows(self) -> WindowTable:
        """Every user's windows (the summarised cut)."""
        return compute_windows(self.dataset.events, self.dataset.items, self.window_config)

    @cached_property
    def forecast_windows(self) -> WindowTable:
        """Every user's windows in the cut the forecaster reads."""
        cfg = self.build_state.forecast_window
        if cfg is None or WindowConfig.model_validate(cfg) == self.window_config:
            return self.windows
        return compute_windows(self.dataset.events, self.dataset.items, WindowConfig.model_validate(cfg))

    @cached_property
    def summaries(self) -> pd.DataFrame:
        """All window summaries (one row per window)."""
        return state.read_frame(self.root, state.SUMMARIES)

    @cached_property
    def forecaster(self) -> LSTMForecaster:
        """The trained forecaster, checked against the stored catalog and embedding model."""
        model = load_checkpoint(
            self.root / state.FORECASTER,
            expected_item_vocab_hash=item_vocab_hash(self.dataset.items["item_id"].tolist()),
            expected_embedding_model=embeddings_name(self.embeddings),
        )
        return model.attach(self.forecast_windows)

    @cached_property
    def item_index(self) -> ItemVectorMirror:
        """The store's item vectors in memory (read once), for exact search on the recommend hot path."""
        return ItemVectorMirror.from_store(self.store, self.dataset.items)

    @cached_property
    def catalog_maps(self) -> CatalogMaps:
        """Item id to categories and to title (built once)."""
        return catalog_maps(self.dataset.items)

    @cached_property
    def popularity(self) -> pd.Series:
        """Interaction counts per item id (object-dtype index: fast per-request lookups)."""
        counts = self.dataset.events["item_id"].value_counts()
        return pd.Series(counts.to_numpy(), index=pd.Index(counts.index.tolist(), dtype=object))

    @cached_property
    def item_ids(self) -> pd.Index:
        """Catalog item ids in catalog order, as an object-dtype index (Arrow strings are slow one by one)."""
        return pd.Index(self.dataset.items["item_id"].tolist(), dtype=object)

    @cached_property
    def user_event_rows(self) -> dict[str, tuple[int, int]]:
        """Each user's rows ``[start, stop)`` in the user-sorted events (a slice instead of a scan per request)."""
        ranges = user_row_ranges(self.dataset.events)
        bounds = zip(ranges["start"].tolist(), ranges["stop"].tolist(), strict=True)
        return dict(zip(ranges["user_id"].tolist(), bounds, strict=True))

    def user_events(self, user_id: str) -> pd.DataFrame:
        """The user's events (empty when unknown)."""
        start, stop = self.user_event_rows.get(user_id, (0, 0))
        return self.dataset.events.iloc[start:stop]

    @cached_property
    def titles(self) -> dict[str, str]:
        """Item id to title."""
        return dict(zip(self.dataset.items["item_id"], self.dataset.items["title"], strict=True))

    def reset_cache(self) -> None:
        """Forget loaded data and models (after a write)."""
        for name in ("build_state", "dataset", "window_config", "windows", "forecast_windows", "summaries",
                     "forecaster", "popularity", "item_index", "catalog_maps", "titles", "item_ids",
                     "user_event_rows"):  # fmt: skip
            self.__dict__.pop(name, None)

    def users(self) -> list[str]:
        """Every stored user id, sorted."""
        return self.windows.users()

    def check_user(self, user_id: str) -> None:
        """Raise :class:`UnknownUserError` (naming some valid users) when the user has no windows."""
        if user_id not in self.windows.user_rows:
            raise UnknownUserError(user_id, self.users()[:10])

    # ------------------------------------------------------------------------------------ writing

    def build(
        self, dataset: Dataset, config: BuildConfig | None = None, progress: Progress | None = None
    ) -> BuildReport:
        """Build everything from a dataset (see :func:`interest_tools.build.build`)."""
        from interest_tools.build import build

        return build(self, dataset, config, progress)

    def ingest(self, events: Any, items: Any = None, *, retrain: bool = False) -> BuildReport:
        """Append events (and items), updating only what they touch (see :func:`interest_tools.build.ingest`)."""
        from interest_tools.build import ingest

        return ingest(self, events, items, retrain=retrain)

    def store_users(self) -> list[str]:
        """Users that have summaries stored."""
        try:
            return sorted(state.read_frame(self.root, state.SUMMARIES)["user_id"].unique().tolist())
        except InterestToolsError:
            return []

    # ------------------------------------------------------------------------------------ answering

    def user_windows(self, user_id: str) -> list[Window]:
        """A user's windows (the stored cut)."""
        self.check_user(user_id)
        return self.windows.for_user(user_id)

    def user_summaries(self, user_id: str) -> list[WindowSummary]:
        """A user's window summaries in time order."""
        self.check_user(user_id)
        rows = self.summaries[self.summaries["user_id"] == user_id].sort_values("index")
        fields = set(WindowSummary.model_fields)
        return [
            WindowSummary.model_validate({k: _plain(v) for k, v in r.items() if k in fields})
            for r in rows.to_dict("records")
        ]

    def search_history(self, user_id: str, query: str, k: int = 5) -> list[WindowHit]:
        """The user's windows whose summaries best match a question, best first (never another user's)."""
        self.check_user(user_id)
        return self.store.search_history(user_id, query, k=k, freq=self.window_config.label)

    def history_as_of(self, user_id: str, as_of: datetime | date | str) -> HistoryAsOf:
        """What the user was into at a date: the window covering it and the trend up to it."""
        self.check_user(user_id)
        return history_as_of(self.windows.for_user(user_id), as_of, self.dataset.items)

    def forecast(self, user_id: str) -> Forecast:
        """Forecast the user's next window, framed in the stored cut (see :mod:`interest_tools.forecast.framing`)."""
        self.check_user(user_id)
        return self._framed(self.forecaster.forecast(user_id))

    def _framed(self, forecast: Forecast) -> Forecast:
        config = self.forecaster.config
        rows = self.windows.rows_for(forecast.user_id)[-max(2 * config.recent_windows, 5) :]
        return frame_forecast(
            forecast,
            [self.windows.window(r) for r in rows],
            self.window_config,
            recent=config.recent_windows,
            threshold=config.shift_threshold,
        )

    def preferences(self, user_id: str) -> Preferences:
        """What the user said in the chat (later statements override earlier ones)."""
        return preferences_from(self.feedback_records(user_id))

    def feedback_records(self, user_id: str) -> list[dict[str, Any]]:
        """The user's stated feedback, oldest first."""
        return [r for r in state.read_jsonl(self.root, state.FEEDBACK) if r.get("user_id") == user_id]

    def add_feedback(
        self, user_id: str, kind: FeedbackKind, *, item_id: str | None = None, category: str | None = None,
        text: str = "",
    ) -> dict[str, Any]:  # fmt: skip
        """Record what the person said; it applies to the very next recommendation.

        Raises:
            ConfigError: Unknown kind, or a missing or unknown item or category (the message names valid ones).
        """
        self.check_user(user_id)
        check_feedback(kind, item_id, category, self.titles, (c for cs in self.dataset.items["categories"] for c in cs))
        record = {"user_id": user_id, "kind": kind, "item_id": item_id, "category": category,
                  "text": text[:500], "timestamp": state.now().isoformat()}  # fmt: skip
        with self.lock, state.writer_lock(self.root):
            state.append_jsonl(self.root, state.FEEDBACK, record)
        return record

    def recommend(
        self, user_id: str, k: int = 10, *, categories: list[str] | None = None,
        exclude_categories: list[str] | None = None, config: RecommendConfig | None = None,
    ) -> Recommendations:  # fmt: skip
        """Recommend items for the user's next window, each with a reason."""
        self.check_user(user_id)
        raw, item_scores = self.forecaster.forecast_and_scores(user_id)  # one LSTM pass for both
        ctx = user_context(self._framed(raw), self.user_events(user_id), item_scores, self.item_ids)
        cfg = (config or RecommendConfig()).model_copy(update={"k": k})
        return recommend(
            ctx, index=self.item_index, items=self.dataset.items, popularity=self.popularity, config=cfg,
            preferences=self.preferences(user_id), categories_any=categories, categories_none=exclude_categories,
            catalog=self.catalog_maps,
        )  # fmt: skip

    def explain(self, user_id: str) -> Explanation:
        """Why the user's interests shifted, with evidence and stated preferences."""
        self.check_user(user_id)
        result = explain_user(self.windows.for_user(user_id), self.dataset.items, chat_model=self.chat_model)
        prefs = self.preferences(user_id)
        result.stated_preferences = describe(prefs, self.titles)
        return result

    def report(self, user_id: str, out: str | Path, fmt: Literal["html", "md"] = "html") -> list[Path]:
        """Write the explainability report (HTML, self-contained; or Markdown with charts beside it)."""
        from interest_tools.report import ReportConfig, ReportData, write_report

        self.check_user(user_id)
        data = ReportData(
            user_id=user_id,
            windows=self.user_windows(user_id),
            summaries=self.user_summaries(user_id),
            explanation=self.explain(user_id),
            forecast=self.forecast(user_id),
            recommendations=self.recommend(user_id),
            titles=self.titles,
        )
        return write_report(data, Path(out), ReportConfig(format=fmt))

    def forget_user(self, user_id: str) -> dict[str, int]:
        """Delete the user's events, windows, summaries, vectors, cached LLM outputs and feedback.

        Chroma keeps deleted vectors in its files until they are rewritten; :meth:`compact` rebuilds the
        collections so nothing of the user remains on disk (see :func:`interest_tools.maintenance.forget_user`).
        """
        from interest_tools.maintenance import forget_user

        return forget_user(self, user_id)

    # ------------------------------------------------------------------------------------ maintenance

    def compact(self) -> dict[str, Any]:
        """Rewrite the embedded Chroma files so that deleted records leave no trace.

        See :func:`interest_tools.maintenance.compact`.

        Raises:
            StoreError: Another process is writing, or the copy failed (the old files are then kept).
        """
        from interest_tools.maintenance import compact

        return compact(self)

    def health_check(
        self, *, deep: bool = True, timeout_s: float = 120.0, raise_on_problem: bool = True
    ) -> dict[str, Any]:
        """Check the store without risking this process: state files, checkpoint, Chroma files and counts.

        The Chroma directory is first checked with plain Python, then (``deep``) opened by Chroma in a child
        process, because some damage makes Chroma crash the process that reads it (see
        :func:`interest_tools.store.doctor.health_report`). Takes no lock.

        Args:
            deep: Also open the Chroma directory in a child process (a few seconds).
            timeout_s: Limit for the child process.
            raise_on_problem: Raise :class:`StoreError` listing every problem (otherwise return them).

        Returns:
            ``{"store": path, "ok": bool, "problems": [...], "counts": {...}, "pending": {...} | None}``.

        Raises:
            StoreError: Any problem, when ``raise_on_problem``; the message lists each with its fix.
        """
        from interest_tools.errors import StoreError
        from interest_tools.store.doctor import health_report

        report = health_report(self, deep=deep, timeout_s=timeout_s)
        if report["problems"] and raise_on_problem:
            raise StoreError(f"the store at {self.root} failed its health check: " + " | ".join(report["problems"]))
        return report


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, float) and np.isnan(value):
        return None
    return value
