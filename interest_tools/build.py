"""Build a store from a dataset, and ingest new events into it, touching only what changed.

Validation comes first and every file is replaced atomically, so bad input never changes what was stored, and
a build killed part-way resumes: unchanged item and summary texts are not embedded again (the store skips
records whose content hash it already holds).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from interest_tools import state
from interest_tools.data import Dataset, attach_catalog, canonicalize_events, load_events, load_items
from interest_tools.embed import embed_matrix, embeddings_name, item_text
from interest_tools.errors import ConfigError, InterestToolsError
from interest_tools.forecast import ForecastConfig
from interest_tools.forecast.train import train_forecaster
from interest_tools.store import WindowDoc
from interest_tools.summarize import LLMSummarizer, SummaryConfig, TemplateSummarizer
from interest_tools.windows import Window, WindowConfig, WindowTable, compute_windows

if TYPE_CHECKING:
    from interest_tools.engine import Engine

Progress = Callable[[str], None]


class BuildConfig(BaseModel):
    """What a build makes: windows, summaries, both collections and the forecaster."""

    model_config = ConfigDict(extra="forbid")

    window: WindowConfig = Field(default_factory=WindowConfig, description="Windows summarised and stored.")
    summarizer: Literal["template", "llm"] = Field(
        default="template", description="Template summaries (offline) or a chat model (settings.chat_model)."
    )
    summary: SummaryConfig = Field(default_factory=SummaryConfig, description="Summary wording and LLM limits.")
    train_forecaster: bool = Field(default=True, description="Train the LSTM forecaster (needed by recommend).")
    forecast: ForecastConfig = Field(default_factory=ForecastConfig, description="LSTM hyperparameters.")


class BuildReport(BaseModel):
    """What a build or ingest did."""

    n_events: int = Field(description="Events stored after the operation.")
    n_users: int = Field(description="Users stored.")
    n_items: int = Field(description="Items in the catalog.")
    n_windows: int = Field(description="Windows summarised in total.")
    items_embedded: int = Field(description="Item texts embedded (0 when nothing changed).")
    windows_embedded: int = Field(description="Window summaries embedded (0 when nothing changed).")
    users_touched: int = Field(description="Users whose windows were recomputed.")
    forecaster_trained: bool = Field(description="Whether the forecaster was (re)trained.")
    duplicates_dropped: int = Field(default=0, description="Duplicate events dropped on input.")
    warnings: list[str] = Field(default_factory=list, description="Repairs made on input.")
    seconds: dict[str, float] = Field(default_factory=dict, description="Wall time per stage.")


def window_config_from_label(label: str) -> WindowConfig:
    """Invert :attr:`WindowConfig.label` (``month``, ``events-20``, ``session-1800s``)."""
    if label.startswith("events-"):
        return WindowConfig(every_n_events=int(label.split("-", 1)[1]))
    if label.startswith("session-"):
        return WindowConfig(session_gap=f"PT{int(label.split('-', 1)[1].rstrip('s'))}S")
    return WindowConfig(freq=label)  # type: ignore[arg-type]


def _summarizer(engine: Engine, config: BuildConfig) -> TemplateSummarizer | LLMSummarizer:
    if config.summarizer == "template":
        return TemplateSummarizer(config.summary)
    chat = engine.chat_model
    if chat is None:
        from interest_tools.summarize import make_chat_model

        chat = make_chat_model(engine.settings)
    if chat is None:
        raise ConfigError(
            "--summarizer llm needs a chat model: set OPENAI_API_KEY and INTEREST_TOOLS_CHAT_MODEL "
            "(e.g. gpt-4o-mini), or pass chat_model=..., or use --summarizer template"
        )
    summary_cfg = config.summary.model_copy(update={"cache_dir": engine.root / state.LLM_CACHE})
    return LLMSummarizer(chat, summary_cfg)


def _summarise(
    engine: Engine, table: WindowTable, users: list[str], events: pd.DataFrame, items: pd.DataFrame, config: BuildConfig
) -> tuple[pd.DataFrame, list[WindowDoc]]:
    windows: list[Window] = [w for u in users for w in table.for_user(u)]
    summaries = _summarizer(engine, config).summarize(windows, items, events)
    label = table.config.label
    docs = [WindowDoc.from_window(w, label, s.summary) for w, s in zip(windows, summaries, strict=True)]
    rows = [{**s.model_dump(), "freq": label} for s in summaries]
    return pd.DataFrame(rows), docs


def build(
    engine: Engine, dataset: Dataset, config: BuildConfig | None = None, progress: Progress | None = None
) -> BuildReport:
    """Build everything from a dataset: windows, summaries, both collections, the forecaster.

    Unchanged item and summary texts are not embedded again, so a rebuild of the same data is cheap, and
    a build that was killed resumes where it stopped.
    """
    config = config or BuildConfig()
    say = progress or (lambda _msg: None)
    timings: dict[str, float] = {}
    with engine.lock, state.writer_lock(engine.root):
        t = time.perf_counter()
        table = compute_windows(dataset.events, dataset.items, config.window)
        say(f"{len(table):,} {table.config.label} windows for {len(table.users()):,} users")
        summaries, docs = _summarise(engine, table, table.users(), dataset.events, dataset.items, config)
        timings["windows_and_summaries"] = time.perf_counter() - t
        t = time.perf_counter()
        say(f"embedding {len(dataset.items):,} items")
        item_report = engine.store.upsert_items(dataset.items)
        say(f"embedding {len(docs):,} window summaries")
        win_report = engine.store.upsert_windows(docs)
        for user in set(engine.store_users()) - set(table.users()):
            engine.store.forget_user(user)
        timings["embed_and_store"] = time.perf_counter() - t
        state.write_frame(engine.root, state.EVENTS, dataset.events)
        state.write_frame(engine.root, state.ITEMS, dataset.items)
        state.write_frame(engine.root, state.SUMMARIES, summaries)
        forecast_window = None
        if config.train_forecaster:
            t = time.perf_counter()
            fc_config = window_config_from_label(config.forecast.window_label)
            fc_table = (
                table if fc_config == config.window else compute_windows(dataset.events, dataset.items, fc_config)
            )
            say(f"training the LSTM forecaster on {fc_config.label} windows")
            vectors = catalog_vectors(engine, dataset.items)
            model = train_forecaster(
                fc_table, dataset.items, vectors, config.forecast, embedding_model=embeddings_name(engine.embeddings)
            )
            model.save(engine.root / state.FORECASTER)
            forecast_window = fc_config.model_dump(mode="json")
            timings["forecaster"] = time.perf_counter() - t
        state.write_state(
            engine.root,
            state.BuildState(
                dataset=dataset.name,
                window=config.window.model_dump(mode="json"),
                forecast_window=forecast_window,
                embedding_model=embeddings_name(engine.embeddings),
                summarizer=config.summarizer,
                n_events=len(dataset.events),
                n_users=len(table.users()),
                n_items=len(dataset.items),
                n_windows=len(table),
                updated_at=state.now(),
            ),
        )
        engine.reset_cache()
    return BuildReport(
        n_events=len(dataset.events),
        n_users=len(table.users()),
        n_items=len(dataset.items),
        n_windows=len(table),
        items_embedded=item_report.n_embedded,
        windows_embedded=win_report.n_embedded,
        users_touched=len(table.users()),
        forecaster_trained=config.train_forecaster,
        duplicates_dropped=dataset.report.duplicates_dropped,
        warnings=list(dataset.report.warnings),
        seconds={k: round(v, 3) for k, v in timings.items()},
    )


def catalog_vectors(engine: Engine, items: pd.DataFrame) -> np.ndarray:
    """Item vectors in catalog order, read back from the store (embedded once, at upsert)."""
    try:
        return engine.store.get_item_vectors(items["item_id"].tolist())
    except InterestToolsError:
        texts = [
            item_text(t, c, d)
            for t, c, d in zip(items["title"], items["categories"], items["description"], strict=True)
        ]
        return embed_matrix(engine.embeddings, texts)


def ingest(
    engine: Engine, events: Any, items: Any = None, *, config: BuildConfig | None = None, retrain: bool = False
) -> BuildReport:
    """Append new events (and items) and update only the windows, summaries and vectors they touch.

    Args:
        engine: The engine whose store is updated.
        events: New events (file path or DataFrame, canonical columns or validated like ``load_events``).
        items: New or changed catalog rows (optional).
        config: Summary settings (the window cut stays the stored one).
        retrain: Retrain the forecaster on all events afterwards (otherwise it reads the new windows as
            history without retraining).

    Raises:
        DataValidationError: Bad input; nothing stored is changed.
    """
    t0 = time.perf_counter()
    new_events, report = load_events(events)  # validate everything before any write
    new_items = load_items(items) if items is not None else None
    with engine.lock, state.writer_lock(engine.root):
        base = engine.dataset
        catalog = base.items
        if new_items is not None:
            keep = catalog[~catalog["item_id"].isin(new_items["item_id"])]
            catalog = pd.concat([keep, new_items]).sort_values("item_id", kind="stable").reset_index(drop=True)
        merged = canonicalize_events(pd.concat([base.events, new_events], ignore_index=True), report)
        attach_catalog(merged, catalog, report)
        users = sorted(new_events["user_id"].unique().tolist())
        cfg = (config or BuildConfig(train_forecaster=False)).model_copy(update={"window": engine.window_config})
        affected = merged[merged["user_id"].isin(users)]
        table = compute_windows(affected, catalog, engine.window_config)
        fresh, docs = _summarise(engine, table, users, affected, catalog, cfg)
        item_report = engine.store.upsert_items(catalog) if new_items is not None else None
        embedded = 0
        for user in users:
            mine = [d for d in docs if d.user_id == user]
            embedded += engine.store.replace_user_windows(user, engine.window_config.label, mine).n_embedded
        old = engine.summaries
        summaries = pd.concat([old[~old["user_id"].isin(users)], fresh], ignore_index=True)
        state.write_frame(engine.root, state.ITEMS, catalog)
        state.write_frame(engine.root, state.SUMMARIES, summaries)
        state.write_frame(engine.root, state.EVENTS, merged)
        prior = engine.build_state
        updated = prior.model_copy(
            update={
                "n_events": len(merged),
                "n_users": int(merged["user_id"].nunique()),
                "n_items": len(catalog),
                "n_windows": len(summaries),
                "updated_at": state.now(),
            }
        )
        state.write_state(engine.root, updated)
        engine.reset_cache()
        if retrain and prior.forecast_window is not None:
            fc_table = engine.forecast_windows
            model = train_forecaster(
                fc_table, catalog, catalog_vectors(engine, catalog), cfg.forecast,
                embedding_model=embeddings_name(engine.embeddings),
            )  # fmt: skip
            model.save(engine.root / state.FORECASTER)
            engine.reset_cache()
    return BuildReport(
        n_events=len(merged),
        n_users=updated.n_users,
        n_items=len(catalog),
        n_windows=len(summaries),
        items_embedded=item_report.n_embedded if item_report else 0,
        windows_embedded=embedded,
        users_touched=len(users),
        forecaster_trained=retrain,
        duplicates_dropped=report.duplicates_dropped,
        warnings=list(report.warnings),
        seconds={"total": round(time.perf_counter() - t0, 3)},
    )
