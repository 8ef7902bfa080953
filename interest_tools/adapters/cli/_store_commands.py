"""CLI commands that build, update, list or maintain a store, and the offline evaluation (on ``_common.app``).

Every store command takes ``--store PATH`` or ``--chroma-url URL`` (or their environment variables) and ``--json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from interest_tools.adapters.cli import _common  # engine_from is looked up at call time (tests replace it)
from interest_tools.adapters.cli._common import (
    ColumnOpt,
    DatasetOpt,
    DateFormatOpt,
    EventsOpt,
    FreqOpt,
    ItemColumnOpt,
    ItemsOpt,
    JsonOpt,
    StoreOpt,
    UrlOpt,
    UserArg,
    app,
    column_map,
    handle_errors,
    out,
    print_json,
    progress_printer,
    resolve_dataset,
    window_config,
)
from interest_tools.errors import ConfigError


@app.command()
@handle_errors
def build(
    dataset: DatasetOpt = None,
    events: EventsOpt = None,
    items: ItemsOpt = None,
    column: ColumnOpt = None,
    item_column: ItemColumnOpt = None,
    date_format: DateFormatOpt = None,
    freq: FreqOpt = "month",
    store: StoreOpt = None,
    chroma_url: UrlOpt = None,
    summarizer: Annotated[str, typer.Option(help="template (offline) or llm (settings.chat_model).")] = "template",
    forecaster: Annotated[bool, typer.Option(help="Train the LSTM forecaster.")] = True,
    epochs: Annotated[int | None, typer.Option(help="Forecaster epochs (default: the config's).")] = None,
    engine_kind: Annotated[
        str, typer.Option("--engine", help="local (this process) or ray (windows, summaries, embeddings on Ray).")
    ] = "local",
    ray_address: Annotated[
        str | None,
        typer.Option(help="Ray cluster ('auto', 'ray://head:10001'); default: RAY_ADDRESS, else a local Ray."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Build windows, summaries, the item and window collections, and the forecaster."""
    from interest_tools.forecast import ForecastConfig
    from interest_tools.pipeline import BuildConfig, noun_for_dataset

    if summarizer not in ("template", "llm"):
        raise ConfigError(f"--summarizer must be template or llm, not '{summarizer}'")
    if engine_kind not in ("local", "ray"):
        raise ConfigError(f"--engine must be local or ray, not '{engine_kind}'")
    data = resolve_dataset(dataset, events, items, columns=column, item_columns=item_column, date_format=date_format)
    forecast = ForecastConfig() if epochs is None else ForecastConfig(epochs=epochs)
    noun = noun_for_dataset(data.name)
    config = BuildConfig.model_validate(
        {
            "window": window_config(freq).model_dump(),
            "summarizer": summarizer,
            "summary": {"noun": noun},
            "train_forecaster": forecaster,
            "forecast": forecast.model_dump(),
            "engine": engine_kind,
        }
    )
    engine = _common.engine_from(store, chroma_url)
    if ray_address is not None:
        engine.settings.ray_address = ray_address
    report = engine.build(data, config, progress=progress_printer())
    if as_json:
        print_json(report.model_dump())
        return
    out.print(
        f"Built {report.n_windows:,} windows for {report.n_users:,} users over {report.n_items:,} items "
        f"at {engine.settings.chroma_url or engine.root}: embedded {report.items_embedded:,} item and "
        f"{report.windows_embedded:,} summary texts (unchanged ones are skipped)."
    )


@app.command()
@handle_errors
def ingest(
    events: Annotated[Path, typer.Option("--events", help="New events file (CSV, Parquet or JSONL).")],
    items: ItemsOpt = None,
    column: ColumnOpt = None,
    item_column: ItemColumnOpt = None,
    date_format: DateFormatOpt = None,
    store: StoreOpt = None,
    chroma_url: UrlOpt = None,
    retrain: Annotated[bool, typer.Option(help="Retrain the forecaster on all events afterwards.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Append new events (and items) to a built store, updating only the windows they touch."""
    report = _common.engine_from(store, chroma_url).ingest(
        events,
        items,
        retrain=retrain,
        event_columns=column_map(column, what="events"),
        item_columns=column_map(item_column, what="items"),
        date_format=date_format,
    )
    if as_json:
        print_json(report.model_dump())
        return
    out.print(
        f"Ingested: {report.users_touched} user(s) updated, {report.windows_embedded} summaries re-embedded, "
        f"{report.n_events:,} events stored."
    )


@app.command()
@handle_errors
def users(store: StoreOpt = None, chroma_url: UrlOpt = None, as_json: JsonOpt = False) -> None:
    """List the stored user ids (a local operator command: no MCP or LangChain tool lists them)."""
    ids = _common.engine_from(store, chroma_url).users()
    if as_json:
        print_json(ids)
        return
    for user_id in ids:
        out.print(user_id, highlight=False)


@app.command()
@handle_errors
def forget(
    user: UserArg,
    compact: Annotated[
        bool, typer.Option(help="Rewrite the Chroma files so no trace of the user stays on disk.")
    ] = True,
    store: StoreOpt = None,
    chroma_url: UrlOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Delete a user's events, windows, summaries, vectors, cached LLM outputs and feedback."""
    engine = _common.engine_from(store, chroma_url)
    counts = engine.forget_user(user)
    if compact and hasattr(engine, "compact"):
        engine.compact()
    if as_json:
        print_json({"user_id": user, "deleted": counts})
        return
    out.print(f"Forgot user {user}: {counts}")


@app.command(name="eval")
@handle_errors
def evaluate(
    dataset: DatasetOpt = None,
    events: EventsOpt = None,
    items: ItemsOpt = None,
    column: ColumnOpt = None,
    item_column: ItemColumnOpt = None,
    date_format: DateFormatOpt = None,
    protocol: Annotated[str, typer.Option(help="loo (leave-one-out) or next-window.")] = "loo",
    seed: Annotated[int, typer.Option(help="Seed.")] = 2020,
    models: Annotated[
        str, typer.Option(help="Comma-separated models to run: lstm, sasrec, pop, last_window, ema.")
    ] = "lstm,sasrec,pop,last_window,ema",
    summary_input: Annotated[
        bool,
        typer.Option(
            "--summary-input",
            help="The LSTM also reads each step's latest finished month summary, embedded (the ablation).",
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Evaluate the LSTM recommender against a SASRec peer, pop, last_window and ema on a dataset."""
    from interest_tools.evaluate import MODELS, run_eval
    from interest_tools.forecast import ForecastConfig

    if protocol not in ("loo", "next-window"):
        raise ConfigError(f"--protocol must be loo or next-window, not '{protocol}'")
    chosen = tuple(m.strip() for m in models.split(",") if m.strip())
    unknown = sorted(set(chosen) - set(MODELS))
    if unknown or not chosen:
        raise ConfigError(f"--models: unknown or empty {unknown or models!r}: choose from {', '.join(MODELS)}")
    data = resolve_dataset(dataset, events, items, columns=column, item_columns=item_column, date_format=date_format)
    config = ForecastConfig(summary_input=summary_input)
    result = run_eval(data, protocol=protocol, seed=seed, models=chosen, config=config)  # type: ignore[arg-type]
    if as_json:
        print_json(result)
        return
    table = Table(title=f"{protocol}: {result['n_users']} users (masked: earlier items removed from the ranking)")
    for col in ("model", "NDCG@10", "Hit@10", "Recall@20", "MRR@10", "NDCG@10 unmasked", "Hit@10 unmasked"):
        table.add_column(col)
    for name, m in result["metrics"].items():
        u = result["metrics_unmasked"][name]
        table.add_row(
            name,
            *(f"{m[k]:.4f}" for k in ("ndcg@10", "hit@10", "recall@20", "mrr@10")),
            *(f"{u[k]:.4f}" for k in ("ndcg@10", "hit@10")),
        )
    out.print(table)
