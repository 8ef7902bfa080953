"""One object that every adapter (CLI, LangChain tools, MCP server) calls: build, ingest, and answer.

The :class:`Engine` owns a store directory (``Settings.store_path``) holding the canonical events and items,
the window summaries, stated feedback, the forecaster checkpoint and, unless a Chroma server is used, the
Chroma files. Models and data load lazily, once, under the engine's re-entrant lock (see ``_loaded``); every
write goes through :mod:`interest_tools.pipeline` under the same lock, and the single-writer file lock guards
the directory against other processes. The engine is the only owner of its caches: it clears them after each
write. Another process may write to the same store; the engine reloads when it does (see ``_freshness``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import pandas as pd

from interest_tools import pipeline
from interest_tools.data import Catalog, Dataset, user_row_ranges
from interest_tools.engine._explained import ExplainedCache
from interest_tools.engine._freshness import FreshnessMixin
from interest_tools.engine._loaded import Loaded
from interest_tools.engine._preferences import PreferencesMixin
from interest_tools.errors import StoreError, UnknownUserError
from interest_tools.explain import Explanation, HistoryAsOf, explain_user, history_as_of
from interest_tools.forecast import (
    Forecast,
    LSTMForecaster,
    frame_forecast,
    item_vocab_hash,
    load_checkpoint,
)
from interest_tools.pipeline import Workspace
from interest_tools.recommend import (
    Recommendations,
    RecommendConfig,
    conflict_json,
    describe,
    preference_timeline,
    preferences_at,
    recommend,
    timeline,
    user_context,
)
from interest_tools.settings import Settings
from interest_tools.store import (
    EmbeddingsLike,
    FeedbackLog,
    InterestStore,
    ItemVectorMirror,
    SentenceTransformerEmbeddings,
    WindowHit,
    embeddings_name,
    state,
)
from interest_tools.summaries import WindowSummary
from interest_tools.windows import Window, WindowConfig, WindowTable, compute_windows

if TYPE_CHECKING:
    from interest_tools.pipeline import BuildConfig, BuildReport, Progress

T = TypeVar("T")


class Engine(FreshnessMixin, PreferencesMixin):
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
        settings = settings or Settings()
        embeddings = embeddings or SentenceTransformerEmbeddings(
            model_name=settings.embedding_model,
            device=settings.embedding_device,
            batch_size=settings.embedding_batch_size,
            backend=settings.embedding_backend,
        )
        self.workspace = Workspace(settings, embeddings, chat_model, store)
        self.settings = settings
        self.root: Path = self.workspace.root
        self.embeddings: EmbeddingsLike = embeddings
        self.chat_model = chat_model
        self.lock: threading.RLock = self.workspace.lock  # one lock for loading and writing
        self.auto_refresh = True  # see FreshnessMixin
        self.feedback_log = FeedbackLog(self.root)  # stated preferences, parsed once per change of the file
        self._explained = ExplainedCache()  # what recommend follows of each user's explanation

    # ------------------------------------------------------------------------------------ lazy state

    @property
    def store(self) -> InterestStore:
        """The Chroma store (opened on first use)."""
        return self.workspace.store

    @Loaded
    def build_state(self) -> state.BuildState:
        """The last build's record (raises :class:`NotBuiltError` before any build)."""
        return self.workspace.build_state()

    @Loaded
    def dataset(self) -> Dataset:
        """The stored canonical events and items."""
        return self.workspace.dataset()

    @Loaded
    def window_config(self) -> WindowConfig:
        """The cut of the stored summaries."""
        return WindowConfig.model_validate(self.build_state.window)

    @Loaded
    def windows(self) -> WindowTable:
        """Every user's windows (the summarised cut)."""
        return compute_windows(self.dataset.events, self.dataset.items, self.window_config)

    @Loaded
    def forecast_windows(self) -> WindowTable:
        """Every user's windows in the cut the forecaster reads."""
        cfg = self.build_state.forecast_window
        if cfg is None or WindowConfig.model_validate(cfg) == self.window_config:
            return self.windows
        return compute_windows(self.dataset.events, self.dataset.items, WindowConfig.model_validate(cfg))

    @Loaded
    def summaries(self) -> pd.DataFrame:
        """All window summaries (one row per window)."""
        return self.workspace.summaries()

    @Loaded
    def forecaster(self) -> LSTMForecaster:
        """The trained forecaster, checked against the stored catalog and embedding model."""
        model = load_checkpoint(
            self.root / state.FORECASTER,
            expected_item_vocab_hash=item_vocab_hash(self.dataset.items["item_id"].tolist()),
            expected_embedding_model=embeddings_name(self.embeddings),
        )
        return model.attach(self.forecast_windows)

    @Loaded
    def item_index(self) -> ItemVectorMirror:
        """The store's item vectors in memory (read once), for exact search on the recommend hot path."""
        items = self.dataset.items
        return self._read_store(lambda store: ItemVectorMirror.from_store(store, items))

    @Loaded
    def catalog(self) -> Catalog:
        """Item id to title and to categories (built once)."""
        return Catalog.of(self.dataset.items)

    @Loaded
    def popularity(self) -> pd.Series:
        """Interaction counts per item id (object-dtype index: fast per-request lookups)."""
        counts = self.dataset.events["item_id"].value_counts()
        return pd.Series(counts.to_numpy(), index=pd.Index(counts.index.tolist(), dtype=object))

    @Loaded
    def item_ids(self) -> pd.Index:
        """Catalog item ids in catalog order, as an object-dtype index (Arrow strings are slow one by one)."""
        return pd.Index(self.dataset.items["item_id"].tolist(), dtype=object)

    @Loaded
    def user_event_rows(self) -> dict[str, tuple[int, int]]:
        """Each user's rows ``[start, stop)`` in the user-sorted events (a slice instead of a scan per request)."""
        ranges = user_row_ranges(self.dataset.events)
        bounds = zip(ranges["start"].tolist(), ranges["stop"].tolist(), strict=True)
        return dict(zip(ranges["user_id"].tolist(), bounds, strict=True))

    def user_events(self, user_id: str) -> pd.DataFrame:
        """The user's events (empty when unknown)."""
        start, stop = self.user_event_rows.get(user_id, (0, 0))
        return self.dataset.events.iloc[start:stop]

    @property
    def titles(self) -> dict[str, str]:
        """Item id to title."""
        return self.catalog.titles

    def reset_cache(self) -> None:
        """Forget loaded data and models (after a write)."""
        with self.lock:
            self.workspace.mark_fresh()  # taken before anything reloads: a later write is always seen
            Loaded.reset(self)
            self.feedback_log.invalidate()
            self._explained.clear()

    def users(self) -> list[str]:
        """Every stored user id, sorted."""
        if self.auto_refresh:
            self.ensure_fresh()
        return self.windows.users()

    def check_user(self, user_id: str) -> None:
        """Raise :class:`UnknownUserError` (never naming other users) when the user has no windows.

        Every user-level call starts here, so this is also where the engine reloads after another process wrote
        (:meth:`ensure_fresh`, when :attr:`auto_refresh`).
        """
        if self.auto_refresh:
            self.ensure_fresh()
        if user_id not in self.windows.user_rows:
            raise UnknownUserError(user_id)

    # ------------------------------------------------------------------------------------ writing

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """A pipeline write: under the lock, into what is stored now (a current Chroma handle), caches dropped after."""
        with self.lock:
            self.ensure_fresh()
            try:
                yield
            finally:
                self.reset_cache()

    def build(
        self, dataset: Dataset, config: BuildConfig | None = None, progress: Progress | None = None
    ) -> BuildReport:
        """Build everything from a dataset (see :func:`interest_tools.pipeline.build`)."""
        with self._writing():
            return pipeline.build(self.workspace, dataset, config, progress)

    def ingest(
        self,
        events: Any,
        items: Any = None,
        *,
        retrain: bool = False,
        event_columns: Mapping[str, str] | None = None,
        item_columns: Mapping[str, str] | None = None,
        date_format: str | None = None,
    ) -> BuildReport:
        """Append events (and items), updating only what they touch (see :func:`interest_tools.pipeline.ingest`)."""
        with self._writing():
            return pipeline.ingest(
                self.workspace, events, items, retrain=retrain,
                event_columns=event_columns, item_columns=item_columns, date_format=date_format,
            )  # fmt: skip

    # ------------------------------------------------------------------------------------ answering

    def user_windows(self, user_id: str) -> list[Window]:
        """A user's windows (the stored cut)."""
        self.check_user(user_id)
        return self.windows.for_user(user_id)

    def user_summaries(self, user_id: str) -> list[WindowSummary]:
        """A user's window summaries in time order."""
        self.check_user(user_id)
        rows = self.summaries[self.summaries["user_id"] == user_id].sort_values("index")
        return [WindowSummary.from_record(r) for r in rows.to_dict("records")]

    def search_history(self, user_id: str, query: str, k: int = 5) -> list[WindowHit]:
        """The user's windows whose summaries best match a question, best first (never another user's)."""
        self.check_user(user_id)
        label = self.window_config.label
        return self._read_store(lambda store: store.search_history(user_id, query, k=k, freq=label))

    def history_as_of(self, user_id: str, as_of: datetime | date | str) -> HistoryAsOf:
        """What the user was into at a date: the window covering it and the trend up to it."""
        self.check_user(user_id)
        result = history_as_of(self.windows.for_user(user_id), as_of, self.dataset.items)
        said = [s for s in timeline(self.feedback_records(user_id), result.as_of) if s.in_force]
        result.stated_preferences = [s.model_dump(mode="json") for s in said]
        if said:
            dated = (f"{s.describe(self.titles)} (since {s.stated_at.date().isoformat()})" for s in said)
            result.narrative += " Stated preferences in force then: " + "; ".join(dated) + "."
        return result

    def forecast(self, user_id: str) -> Forecast:
        """Forecast the user's next window, framed in the stored cut (see :mod:`interest_tools.forecast._framing`)."""
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

    def recommend(
        self, user_id: str, k: int = 10, *, categories: list[str] | None = None,
        exclude_categories: list[str] | None = None, config: RecommendConfig | None = None,
    ) -> Recommendations:  # fmt: skip
        """Recommend items for the user's next window, each with a reason."""
        self.check_user(user_id)
        raw, item_scores = self.forecaster.forecast_and_scores(user_id)  # one LSTM pass for both
        shifts = self._explained.get(user_id, self.windows, self.catalog, self.forecaster.config.recent_windows)
        ctx = user_context(self._framed(raw), self.user_events(user_id), item_scores, self.item_ids, *shifts)
        cfg = (config or RecommendConfig()).model_copy(update={"k": k})
        return recommend(
            ctx, index=self.item_index, items=self.dataset.items, popularity=self.popularity, config=cfg,
            preferences=self.preferences(user_id), categories_any=categories, categories_none=exclude_categories,
            catalog=self.catalog,
        )  # fmt: skip

    def explain(self, user_id: str) -> Explanation:
        """Why the user's interests shifted, with evidence, stated preferences and where the two disagree."""
        self.check_user(user_id)
        result = explain_user(self.windows.for_user(user_id), self.dataset.items, chat_model=self.chat_model)
        now, records = state.now(), self.feedback_records(user_id)
        result.stated_preferences = describe(preferences_at(records, now), self.titles)
        said = preference_timeline(user_id, records, now, self.user_events(user_id), self.catalog, result.shifts)
        result.conflicts = conflict_json(said.conflicts)
        return result

    def report(
        self, user_id: str, out: str | Path, fmt: Literal["html", "md"] = "html", *, overwrite: bool = True
    ) -> list[Path]:
        """Write the explainability report (HTML, self-contained; or Markdown with charts beside it).

        With ``overwrite=False`` existing report files are refused (before any work) instead of replaced.
        """
        from interest_tools.report import ReportConfig, ReportData, check_report_target, write_report

        self.check_user(user_id)
        check_report_target(out, fmt, overwrite=overwrite)
        data = ReportData(
            user_id=user_id,
            windows=self.user_windows(user_id),
            summaries=self.user_summaries(user_id),
            explanation=self.explain(user_id),
            forecast=self.forecast(user_id),
            recommendations=self.recommend(user_id),
            titles=self.titles,
        )
        return write_report(data, Path(out), ReportConfig(format=fmt), overwrite=overwrite)

    def forget_user(self, user_id: str) -> dict[str, int]:
        """Delete the user's events, windows, summaries, vectors, cached LLM outputs and feedback.

        Chroma keeps deleted vectors in its files until they are rewritten; :meth:`compact` rebuilds the
        collections so nothing of the user remains on disk (see :func:`interest_tools.pipeline.forget_user`).
        """
        self.check_user(user_id)
        with self._writing():
            return pipeline.forget_user(self.workspace, user_id)

    # ------------------------------------------------------------------------------------ maintenance

    def compact(self) -> dict[str, Any]:
        """Rewrite the embedded Chroma files so that deleted records leave no trace.

        See :func:`interest_tools.pipeline.compact`.

        Raises:
            StoreError: Another process is writing, or the copy failed (the old files are then kept).
        """
        with self._writing():
            return pipeline.compact(self.workspace)

    def health_check(
        self, *, deep: bool = True, timeout_s: float = 120.0, raise_on_problem: bool = True
    ) -> dict[str, Any]:
        """Check the store without risking this process: state files, checkpoint, Chroma files and counts.

        The Chroma directory is checked with plain Python, then (``deep``) opened by Chroma in a child process,
        since some damage crashes the reader (see :func:`interest_tools.pipeline.health_report`). Takes no lock.

        Args:
            deep: Also open the Chroma directory in a child process (a few seconds).
            timeout_s: Limit for the child process.
            raise_on_problem: Raise :class:`StoreError` listing every problem (otherwise return them).

        Returns:
            ``{"store": path, "ok": bool, "problems": [...], "counts": {...}, "pending": {...} | None}``.

        Raises:
            StoreError: Any problem, when ``raise_on_problem``; the message lists each with its fix.
        """
        report = pipeline.health_report(self.workspace, deep=deep, timeout_s=timeout_s)
        if report["problems"] and raise_on_problem:
            raise StoreError(f"the store at {self.root} failed its health check: " + " | ".join(report["problems"]))
        return report
