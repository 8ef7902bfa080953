"""CLI commands that build or read a store (registered on :data:`interest_tools.cli.app`).

Every command takes ``--store PATH`` or ``--chroma-url URL`` (or their environment variables) and ``--json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from interest_tools.cli import (
    DatasetOpt,
    EventsOpt,
    FreqOpt,
    ItemsOpt,
    JsonOpt,
    StoreOpt,
    UrlOpt,
    UserArg,
    app,
    engine_from,
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
    from interest_tools.build import BuildConfig
    from interest_tools.forecast import ForecastConfig

    if summarizer not in ("template", "llm"):
        raise ConfigError(f"--summarizer must be template or llm, not '{summarizer}'")
    if engine_kind not in ("local", "ray"):
        raise ConfigError(f"--engine must be local or ray, not '{engine_kind}'")
    data = resolve_dataset(dataset, events, items)
    forecast = ForecastConfig() if epochs is None else ForecastConfig(epochs=epochs)
    noun = "movies" if data.name == "movielens-small" else "items"
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
    engine = engine_from(store, chroma_url)
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
    store: StoreOpt = None,
    chroma_url: UrlOpt = None,
    retrain: Annotated[bool, typer.Option(help="Retrain the forecaster on all events afterwards.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Append new events (and items) to a built store, updating only the windows they touch."""
    report = engine_from(store, chroma_url).ingest(events, items, retrain=retrain)
    if as_json:
        print_json(report.model_dump())
        return
    out.print(
        f"Ingested: {report.users_touched} user(s) updated, {report.windows_embedded} summaries re-embedded, "
        f"{report.n_events:,} events stored."
    )


@app.command()
@handle_errors
def summaries(user: UserArg, store: StoreOpt = None, chroma_url: UrlOpt = None, as_json: JsonOpt = False) -> None:
    """List a user's window summaries."""
    rows = engine_from(store, chroma_url).user_summaries(user)
    if as_json:
        print_json([r.to_json() for r in rows])
        return
    for r in rows:
        out.print(f"[bold]{r.start.date()}[/] {r.summary}", highlight=False)


@app.command()
@handle_errors
def search(
    user: UserArg,
    query: Annotated[str, typer.Argument(help="A question about the user's past, e.g. 'when did I like horror?'.")],
    k: Annotated[int, typer.Option("-k", help="How many windows.")] = 5,
    store: StoreOpt = None,
    chroma_url: UrlOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Search a user's window summaries by meaning."""
    hits = engine_from(store, chroma_url).search_history(user, query, k)
    if as_json:
        print_json([h.model_dump(mode="json") for h in hits])
        return
    for h in hits:
        out.print(f"[bold]{h.start.date()}[/] ({h.score:.2f}) {h.summary}", highlight=False)


@app.command()
@handle_errors
def history(
    user: UserArg,
    as_of: Annotated[str, typer.Option("--as-of", help="Date, e.g. 2015-03-31.")],
    store: StoreOpt = None,
    chroma_url: UrlOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """What a user's interests were at a date, and the trend up to it."""
    result = engine_from(store, chroma_url).history_as_of(user, as_of)
    if as_json:
        print_json(result.model_dump(mode="json"))
        return
    out.print(getattr(result, "text", None) or result.model_dump_json(indent=2), highlight=False)


@app.command()
@handle_errors
def forecast(user: UserArg, store: StoreOpt = None, chroma_url: UrlOpt = None, as_json: JsonOpt = False) -> None:
    """Forecast a user's next window: category shares, rising and falling."""
    result = engine_from(store, chroma_url).forecast(user)
    if as_json:
        print_json(result.to_json())
        return
    out.print(f"Next window {result.next_window.start.date()} to {result.next_window.end.date()} ({result.model}):")
    for cat, share in list(result.category_weights.items())[:8]:
        out.print(f"  {cat:<20} {share:6.1%}")
    if result.rising:
        out.print("Rising: " + ", ".join(f"{c.category} {c.before:.0%}->{c.after:.0%}" for c in result.rising))
    if result.falling:
        out.print("Falling: " + ", ".join(f"{c.category} {c.before:.0%}->{c.after:.0%}" for c in result.falling))


@app.command()
@handle_errors
def recommend(
    user: UserArg,
    k: Annotated[int, typer.Option("-k", help="How many items.")] = 10,
    category: Annotated[list[str] | None, typer.Option(help="Only items in these categories (repeatable).")] = None,
    exclude_category: Annotated[list[str] | None, typer.Option(help="No items in these categories.")] = None,
    store: StoreOpt = None,
    chroma_url: UrlOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Recommend items for a user's next window, each with a reason."""
    result = engine_from(store, chroma_url).recommend(user, k, categories=category, exclude_categories=exclude_category)
    if as_json:
        print_json(result.model_dump(mode="json"))
        return
    table = Table(title=f"Recommendations for user {user}")
    for col in ("title", "categories", "reason"):
        table.add_column(col)
    for item in result.items:
        table.add_row(item.title, ", ".join(item.categories), item.reason)
    out.print(table)


@app.command()
@handle_errors
def explain(user: UserArg, store: StoreOpt = None, chroma_url: UrlOpt = None, as_json: JsonOpt = False) -> None:
    """Explain how and why a user's interests shifted, with evidence."""
    result = engine_from(store, chroma_url).explain(user)
    if as_json:
        print_json(result.model_dump(mode="json"))
        return
    out.print(result.narrative, highlight=False)


@app.command()
@handle_errors
def report(
    user: UserArg,
    out_path: Annotated[Path, typer.Option("--out", help="Output file (report.html or report.md).")] = Path(
        "report.html"
    ),
    fmt: Annotated[str, typer.Option("--format", help="html (self-contained) or md (charts beside it).")] = "html",
    store: StoreOpt = None,
    chroma_url: UrlOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write an explainability report: category chart with shifts, summaries, forecast, recommendations."""
    if fmt not in ("html", "md"):
        raise ConfigError(f"--format must be html or md, not '{fmt}'")
    files = engine_from(store, chroma_url).report(user, out_path, fmt)  # type: ignore[arg-type]  # checked above
    if as_json:
        print_json({"user_id": user, "files": [str(f) for f in files]})
        return
    out.print(f"Wrote {', '.join(str(f) for f in files)}")


@app.command()
@handle_errors
def feedback(
    user: UserArg,
    kind: Annotated[str, typer.Option(help="more_like_item, not_this_item, more_category or no_more_category.")],
    item: Annotated[str | None, typer.Option(help="Item id (item kinds).")] = None,
    category: Annotated[str | None, typer.Option(help="Category (category kinds).")] = None,
    store: StoreOpt = None,
    chroma_url: UrlOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Record what the person said; it applies to the next recommendation."""
    record = engine_from(store, chroma_url).add_feedback(user, kind, item_id=item, category=category)  # type: ignore[arg-type]
    if as_json:
        print_json(record)
        return
    out.print(f"Recorded {kind} for user {user}.")


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
    engine = engine_from(store, chroma_url)
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
    protocol: Annotated[str, typer.Option(help="loo (leave-one-out) or next-window.")] = "loo",
    seed: Annotated[int, typer.Option(help="Seed.")] = 2020,
    as_json: JsonOpt = False,
) -> None:
    """Evaluate the LSTM recommender against a SASRec peer, pop, last_window and ema on a dataset."""
    from interest_tools.evaluate import run_eval

    if protocol not in ("loo", "next-window"):
        raise ConfigError(f"--protocol must be loo or next-window, not '{protocol}'")
    result = run_eval(resolve_dataset(dataset, events, items), protocol=protocol, seed=seed)  # type: ignore[arg-type]
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


@app.command(name="serve-mcp")
@handle_errors
def serve_mcp(
    transport: Annotated[str, typer.Option(help="stdio (for a desktop client) or http (streamable HTTP).")] = "stdio",
    user: Annotated[
        str | None, typer.Option(help="Bind every tool to this user (no user_id argument); default: operator tools.")
    ] = None,
    store: StoreOpt = None,
    chroma_url: UrlOpt = None,
    host: Annotated[str, typer.Option(help="HTTP host to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="HTTP port.")] = 8765,
) -> None:
    """Serve the interest tools over MCP (stdio or streamable HTTP at http://HOST:PORT/mcp)."""
    from interest_tools.mcp_server import serve

    if transport not in ("stdio", "http"):
        raise ConfigError(f"--transport must be stdio or http, not '{transport}'")
    serve(engine_from(store, chroma_url), transport=transport, user_id=user, host=host, port=port)  # type: ignore[arg-type]
