"""Build a store from a dataset, and ingest new events into it, touching only what changed.

Validation comes first and every file is replaced atomically, so bad input never changes what was stored, and
a build killed part-way resumes: unchanged item and summary texts are not embedded again (the store skips
records whose content hash it already holds).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from interest_tools.data import (
    Dataset,
    attach_catalog,
    canonicalize_events,
    check_dataset,
    load_events,
    load_items,
)
from interest_tools.errors import InterestToolsError
from interest_tools.forecast import ForecastConfig, stored_fingerprint, training_fingerprint
from interest_tools.pipeline._ray import RayConfig
from interest_tools.pipeline._wording import recorded_summary, stored_summary_config
from interest_tools.store import WindowDoc, embed_matrix, embeddings_name, item_text, state
from interest_tools.summaries import Summarizer, SummaryConfig, WindowSummary, make_summarizer
from interest_tools.windows import Window, WindowConfig, WindowTable, compute_windows

if TYPE_CHECKING:
    from interest_tools.pipeline._workspace import Workspace

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
    engine: Literal["local", "ray"] = Field(
        default="local",
        description=(
            "Where windows, summaries and embeddings are computed: this process, or Ray workers "
            "(settings.ray_address; the store and the forecaster stay with this process)."
        ),
    )
    ray: RayConfig = Field(default_factory=RayConfig, description="Batch sizes and pool size for engine='ray'.")


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
        return WindowConfig(session_gap=timedelta(seconds=int(label.split("-", 1)[1].rstrip("s"))))
    return WindowConfig(freq=label)  # type: ignore[arg-type]


def _summarizer(ws: Workspace, config: BuildConfig) -> Summarizer:
    summary_cfg = config.summary.model_copy(update={"cache_dir": ws.root / state.LLM_CACHE})
    return make_summarizer(config.summarizer, summary_cfg, chat_model=ws.chat_model, settings=ws.settings)


def summarise_table(
    summarizer: Summarizer, table: WindowTable, users: list[str], events: pd.DataFrame, items: pd.DataFrame
) -> tuple[list[WindowSummary], list[WindowDoc]]:
    """Summarise the users' windows of ``table``, in order, and make their store documents."""
    windows: list[Window] = [w for u in users for w in table.for_user(u)]
    summaries = summarizer.summarize(windows, items, events)
    label = table.config.label
    return summaries, [WindowDoc.from_window(w, label, s.summary) for w, s in zip(windows, summaries, strict=True)]


def summary_frame(summaries: list[WindowSummary], label: str) -> pd.DataFrame:
    """The stored summaries table (one row per window, with the cut's label)."""
    return pd.DataFrame([{**s.model_dump(), "freq": label} for s in summaries])


def _summarise(
    ws: Workspace, table: WindowTable, users: list[str], events: pd.DataFrame, items: pd.DataFrame, config: BuildConfig
) -> tuple[pd.DataFrame, list[WindowDoc]]:
    summaries, docs = summarise_table(_summarizer(ws, config), table, users, events, items)
    return summary_frame(summaries, table.config.label), docs


def build(
    ws: Workspace, dataset: Dataset, config: BuildConfig | None = None, progress: Progress | None = None
) -> BuildReport:
    """Build everything from a dataset: windows, summaries, both collections, the forecaster.

    Unchanged item and summary texts are not embedded again, so a rebuild of the same data is cheap, and
    a build that was killed resumes where it stopped.
    """
    from interest_tools.forecast import train_forecaster  # training code loads only when a build writes

    config = config or BuildConfig()
    check_dataset(dataset)  # before the lock and before any write
    say = progress or (lambda _msg: None)
    timings: dict[str, float] = {}
    with ws.lock, state.writer_lock(ws.root, create=True):
        state.begin_write(ws.root, "build")
        t = time.perf_counter()
        table: WindowTable | None = None
        precomputed: dict[str, np.ndarray] | None = None
        if config.engine == "ray":
            from interest_tools.pipeline._ray import run_batch_on_ray

            batch = run_batch_on_ray(ws, dataset.events, dataset.items, config, say)
            summaries, docs = summary_frame(batch.summaries, config.window.label), batch.docs
            precomputed = batch.vectors
            n_users = batch.n_users
        else:
            table = compute_windows(dataset.events, dataset.items, config.window)
            n_users = len(table.users())
            say(f"{len(table):,} {table.config.label} windows for {n_users:,} users")
            summaries, docs = _summarise(ws, table, table.users(), dataset.events, dataset.items, config)
        timings["ray_batch" if config.engine == "ray" else "windows_and_summaries"] = time.perf_counter() - t
        t = time.perf_counter()
        say(f"embedding {len(dataset.items):,} items")
        item_report = ws.store.upsert_items(dataset.items, vectors=precomputed)
        say(f"embedding {len(docs):,} window summaries")
        win_report = ws.store.upsert_windows(docs, vectors=precomputed)
        keep = {d.doc_id for d in docs}
        ws.store.delete_windows([rid for rid in ws.store.window_ids() if rid not in keep])
        timings["embed_and_store"] = time.perf_counter() - t
        state.write_frame(ws.root, state.EVENTS, dataset.events)
        state.write_frame(ws.root, state.ITEMS, dataset.items)
        state.write_frame(ws.root, state.SUMMARIES, summaries)
        forecast_window = None
        trained = False
        if config.train_forecaster:
            t = time.perf_counter()
            fc_config = window_config_from_label(config.forecast.window_label)
            vectors = catalog_vectors(ws, dataset.items)
            emb_name = embeddings_name(ws.embeddings)
            fingerprint = training_fingerprint(
                dataset.events, dataset.items, vectors, fc_config.label, emb_name, config.forecast
            )
            if stored_fingerprint(ws.root / state.FORECASTER) == fingerprint:
                say("the forecaster's training inputs are unchanged: keeping it")
            else:
                fc_table = (
                    table
                    if table is not None and fc_config == config.window
                    else compute_windows(dataset.events, dataset.items, fc_config)
                )
                say(f"training the LSTM forecaster on {fc_config.label} windows")
                model = train_forecaster(fc_table, dataset.items, vectors, config.forecast, embedding_model=emb_name)
                model.training_fingerprint = fingerprint
                model.save(ws.root / state.FORECASTER, scratch_prefix=state.checkpoint_scratch(ws.root))
                trained = True
            forecast_window = fc_config.model_dump(mode="json")
            timings["forecaster"] = time.perf_counter() - t
        state.write_state(
            ws.root,
            state.BuildState(
                dataset=dataset.name,
                window=config.window.model_dump(mode="json"),
                forecast_window=forecast_window,
                embedding_model=embeddings_name(ws.embeddings),
                summarizer=config.summarizer,
                summary=recorded_summary(config.summary),
                n_events=len(dataset.events),
                n_users=n_users,
                n_items=len(dataset.items),
                n_windows=len(docs),
                updated_at=state.now(),
            ),
        )
        state.end_write(ws.root)
    return BuildReport(
        n_events=len(dataset.events),
        n_users=n_users,
        n_items=len(dataset.items),
        n_windows=len(docs),
        items_embedded=item_report.n_embedded,
        windows_embedded=win_report.n_embedded,
        users_touched=n_users,
        forecaster_trained=trained,
        duplicates_dropped=dataset.report.duplicates_dropped,
        warnings=list(dataset.report.warnings),
        seconds={k: round(v, 3) for k, v in timings.items()},
    )


def catalog_vectors(ws: Workspace, items: pd.DataFrame) -> np.ndarray:
    """Item vectors in catalog order, read back from the store (embedded once, at upsert)."""
    try:
        return ws.store.get_item_vectors(items["item_id"].tolist())
    except InterestToolsError:
        texts = [
            item_text(t, c, d)
            for t, c, d in zip(items["title"], items["categories"], items["description"], strict=True)
        ]
        return embed_matrix(ws.embeddings, texts)


def ingest(
    ws: Workspace,
    events: Any,
    items: Any = None,
    *,
    config: BuildConfig | None = None,
    retrain: bool = False,
    event_columns: Mapping[str, str] | None = None,
    item_columns: Mapping[str, str] | None = None,
    date_format: str | None = None,
) -> BuildReport:
    """Append new events (and items) and update only the windows, summaries and vectors they touch.

    Ingest is idempotent: events already stored (same user, item, time and event) are skipped, and when nothing
    is new it writes nothing at all. A killed ingest is finished by running it again.

    Args:
        ws: The store to update.
        events: New events (file path or DataFrame, canonical columns or validated like ``load_events``).
        items: New or changed catalog rows (optional); users with events on changed items are updated too.
        config: Summary settings (the window cut stays the stored one); by default the store's own: the wording
            the build recorded (``BuildState.summary``, see :mod:`interest_tools.pipeline._wording`), so the
            windows whose text did not change are not embedded again.
        retrain: Retrain the forecaster on all events afterwards (otherwise it reads the new windows as
            history without retraining).
        event_columns: Column mapping of the events file (source name to canonical name).
        item_columns: Column mapping of the items file.
        date_format: strptime format of the text timestamps (see :func:`interest_tools.data.load_events`).

    Raises:
        DataValidationError: Bad input; nothing stored is changed.
        NotBuiltError: Nothing was built in the store yet.
        StoreError: Another process is writing to the store.
    """
    from interest_tools.forecast import train_forecaster  # training code loads only when a build writes

    t0 = time.perf_counter()
    new_events, report = load_events(events, event_columns, date_format=date_format)  # validate before any write
    new_items = load_items(items, item_columns) if items is not None else None
    with ws.lock, state.writer_lock(ws.root):
        interrupted = state.pending_write(ws.root) is not None
        base = ws.dataset()
        prior = ws.build_state()
        stored_summaries = ws.summaries()
        window_config = WindowConfig.model_validate(prior.window)
        catalog, changed_items = _merge_catalog(base.items, new_items)
        known = _stored_mask(new_events, base.events)
        fresh = new_events[~known]
        n_known = int(known.sum())
        if n_known:
            report.duplicates_dropped += n_known
            report.warnings.append(f"{n_known} event(s) already stored were skipped")
        consistent = prior.n_events == len(base.events) and prior.n_windows == len(stored_summaries)
        if fresh.empty and not changed_items and not retrain and consistent and not interrupted:
            return BuildReport(
                n_events=prior.n_events, n_users=prior.n_users, n_items=prior.n_items, n_windows=prior.n_windows,
                items_embedded=0, windows_embedded=0, users_touched=0, forecaster_trained=False,
                duplicates_dropped=report.duplicates_dropped, warnings=list(report.warnings),
                seconds={"total": round(time.perf_counter() - t0, 3)},
            )  # fmt: skip
        state.begin_write(ws.root, "ingest")
        merged = canonicalize_events(pd.concat([base.events, fresh], ignore_index=True))
        attach_catalog(merged, catalog, report)
        touched = set(fresh["user_id"]) | set(merged.loc[merged["item_id"].isin(changed_items), "user_id"])
        if interrupted or not consistent:
            touched |= set(new_events["user_id"])  # finish what a killed ingest may have left half-done
        users = sorted(touched)
        if config is None:
            config = BuildConfig(train_forecaster=False, summary=stored_summary_config(prior, stored_summaries))
        cfg = config.model_copy(update={"window": window_config})
        affected = merged[merged["user_id"].isin(users)]
        table = compute_windows(affected, catalog, window_config)
        fresh_summaries, docs = _summarise(ws, table, users, affected, catalog, cfg)
        item_report = ws.store.upsert_items(catalog) if changed_items else None
        embedded = 0
        for user in users:
            mine = [d for d in docs if d.user_id == user]
            embedded += ws.store.replace_user_windows(user, window_config.label, mine).n_embedded
        old = stored_summaries
        summaries = pd.concat([old[~old["user_id"].isin(users)], fresh_summaries], ignore_index=True)
        state.write_frame(ws.root, state.ITEMS, catalog)
        state.write_frame(ws.root, state.SUMMARIES, summaries)
        state.write_frame(ws.root, state.EVENTS, merged)
        updated = prior.model_copy(
            update={
                "n_events": len(merged),
                "n_users": int(merged["user_id"].nunique()),
                "n_items": len(catalog),
                "n_windows": len(summaries),
                "summary": recorded_summary(cfg.summary),
                "updated_at": state.now(),
            }
        )
        if retrain and prior.forecast_window is not None:
            fc_config = WindowConfig.model_validate(prior.forecast_window)
            fc_table = compute_windows(merged, catalog, fc_config)
            vectors, emb_name = catalog_vectors(ws, catalog), embeddings_name(ws.embeddings)
            model = train_forecaster(fc_table, catalog, vectors, cfg.forecast, embedding_model=emb_name)
            model.training_fingerprint = training_fingerprint(
                merged, catalog, vectors, fc_table.config.label, emb_name, cfg.forecast
            )
            model.save(ws.root / state.FORECASTER, scratch_prefix=state.checkpoint_scratch(ws.root))
        state.write_state(ws.root, updated)
        state.end_write(ws.root)
    return BuildReport(
        n_events=len(merged),
        n_users=updated.n_users,
        n_items=len(catalog),
        n_windows=len(summaries),
        items_embedded=item_report.n_embedded if item_report else 0,
        windows_embedded=embedded,
        users_touched=len(users),
        forecaster_trained=retrain and prior.forecast_window is not None,
        duplicates_dropped=report.duplicates_dropped,
        warnings=list(report.warnings),
        seconds={"total": round(time.perf_counter() - t0, 3)},
    )


_EVENT_KEY = ["user_id", "item_id", "timestamp", "event"]


def _stored_mask(new: pd.DataFrame, stored: pd.DataFrame) -> np.ndarray:
    """True for each new event already stored (same user, item, time and event)."""
    if new.empty or stored.empty:
        return np.zeros(len(new), dtype=bool)
    key = pd.MultiIndex.from_frame(stored[_EVENT_KEY].astype({"user_id": object, "item_id": object, "event": object}))
    probe = pd.MultiIndex.from_frame(new[_EVENT_KEY].astype({"user_id": object, "item_id": object, "event": object}))
    return np.asarray(probe.isin(key), dtype=bool)


def _merge_catalog(catalog: pd.DataFrame, new_items: pd.DataFrame | None) -> tuple[pd.DataFrame, set[str]]:
    """The catalog with ``new_items`` replacing rows of the same id, and the ids whose row changed or is new."""
    if new_items is None or new_items.empty:
        return catalog, set()

    def rows(frame: pd.DataFrame) -> dict[str, tuple[str, list[str], str]]:
        cols = (frame[c].tolist() for c in ("item_id", "title", "categories", "description"))
        return {str(i): (t, list(c), d) for i, t, c, d in zip(*cols, strict=True)}

    old = rows(catalog)
    changed = {item_id for item_id, row in rows(new_items).items() if old.get(item_id) != row}
    if not changed:
        return catalog, set()
    keep = catalog[~catalog["item_id"].isin(new_items["item_id"])]
    merged = pd.concat([keep, new_items]).sort_values("item_id", kind="stable").reset_index(drop=True)
    return merged, changed
