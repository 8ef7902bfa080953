"""CLI commands that build or read a store (registered on :data:`interest_tools.adapters.cli._common.app`).

Every command takes ``--store PATH`` or ``--chroma-url URL`` (or their environment variables) and ``--json``.
The commands that have an agent tool (summaries, search, history, forecast, recommend, explain, report, feedback)
validate and run through the one operations table (:func:`run_operation`), so they refuse what the tools refuse.
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
    parse_operation,
    print_json,
    progress_printer,
    resolve_dataset,
    run_operation,
    settings_from,
    window_config,
)
from interest_tools.errors import ConfigError
from interest_tools.windows import share_change


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
def summaries(user: UserArg, store: StoreOpt = None, chroma_url: UrlOpt = None, as_json: JsonOpt = False) -> None:
    """List a user's window summaries."""
    rows = run_operation("interest_summaries", user, store, chroma_url)
    if as_json:
        print_json(rows)
        return
    for r in rows:
        out.print(f"[bold]{r['start'][:10]}[/] {r['summary']}", highlight=False)


@app.command()
@handle_errors
def search(
    user: UserArg,
    query: Annotated[str, typer.Argument(help="A question about the user's past, e.g. 'when did I like horror?'.")],
    k: Annotated[int, typer.Option("-k", help="How many windows (1-20).")] = 5,
    store: StoreOpt = None,
    chroma_url: UrlOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Search a user's window summaries by meaning."""
    hits = run_operation("interest_search_history", user, store, chroma_url, query=query, k=k)
    if as_json:
        print_json(hits)
        return
    for h in hits:
        out.print(f"[bold]{h['start'][:10]}[/] ({h['score']:.2f}) {h['summary']}", highlight=False)


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
    result = run_operation("interest_history_as_of", user, store, chroma_url, date=as_of)
    if as_json:
        print_json(result)
        return
    out.print(result["narrative"], highlight=False)


@app.command()
@handle_errors
def forecast(user: UserArg, store: StoreOpt = None, chroma_url: UrlOpt = None, as_json: JsonOpt = False) -> None:
    """Forecast a user's next window: category shares, rising and falling."""
    from interest_tools.forecast import Forecast

    raw = run_operation("interest_forecast", user, store, chroma_url)
    if as_json:
        print_json(raw)
        return
    result = Forecast.model_validate(raw)
    out.print(f"Next window {result.next_window.start.date()} to {result.next_window.end.date()} ({result.model}):")
    for cat, share in list(result.category_weights.items())[:8]:
        out.print(f"  {cat:<20} {share:6.1%}")
    if result.rising:
        out.print("Rising: " + ", ".join(share_change(c.category, c.before, c.after) for c in result.rising))
    if result.falling:
        out.print("Falling: " + ", ".join(share_change(c.category, c.before, c.after) for c in result.falling))


@app.command()
@handle_errors
def recommend(
    user: UserArg,
    k: Annotated[int, typer.Option("-k", help="How many items (1-50).")] = 10,
    category: Annotated[list[str] | None, typer.Option(help="Only items in these categories (repeatable).")] = None,
    exclude_category: Annotated[list[str] | None, typer.Option(help="No items in these categories.")] = None,
    store: StoreOpt = None,
    chroma_url: UrlOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Recommend items for a user's next window, each with a reason."""
    result = run_operation(
        "interest_recommend", user, store, chroma_url, k=k, categories=category or [],
        exclude_categories=exclude_category or [],
    )  # fmt: skip
    if as_json:
        print_json(result)
        return
    table = Table(title=f"Recommendations for user {user}")
    for col in ("title", "categories", "reason"):
        table.add_column(col)
    for item in result["items"]:
        table.add_row(item["title"], ", ".join(item["categories"]), item["reason"])
    out.print(table)


@app.command()
@handle_errors
def explain(user: UserArg, store: StoreOpt = None, chroma_url: UrlOpt = None, as_json: JsonOpt = False) -> None:
    """Explain how and why a user's interests shifted, with evidence."""
    result = run_operation("interest_explain_shift", user, store, chroma_url)
    if as_json:
        print_json(result)
        return
    out.print(result["narrative"], highlight=False)
    for conflict in result.get("conflicts", []):  # stated vs observed (see `interest-tools preferences`)
        out.print(f"[bold]conflict:[/] {conflict['message']}", highlight=False)


@app.command()
@handle_errors
def report(
    user: UserArg,
    out_path: Annotated[Path, typer.Option("--out", help="Output file (report.html or report.md).")] = Path(
        "report.html"
    ),
    fmt: Annotated[str, typer.Option("--format", help="html (self-contained) or md (charts beside it).")] = "html",
    force: Annotated[bool, typer.Option("--force", help="Overwrite report files that exist already.")] = False,
    store: StoreOpt = None,
    chroma_url: UrlOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write an explainability report: category chart with shifts, summaries, forecast, recommendations."""
    context, _op, args = parse_operation("interest_report", user, store, chroma_url, format=fmt)
    files = context.engine.report(user, out_path, args.format, overwrite=force)  # type: ignore[attr-defined]
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
    stated_at: Annotated[
        str | None, typer.Option("--stated-at", help="When it was said, e.g. 2024-03-03 (default now).")
    ] = None,
    valid_until: Annotated[
        str | None, typer.Option("--valid-until", help="When it lapses by itself, e.g. 2024-04-03 (default never).")
    ] = None,
    store: StoreOpt = None,
    chroma_url: UrlOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Record what the person said; from the next recommendation on it applies while in force."""
    record = run_operation(
        "interest_feedback", user, store, chroma_url, kind=kind, item_id=item, category=category,
        stated_at=stated_at, valid_until=valid_until,
    )  # fmt: skip
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
    as_json: JsonOpt = False,
) -> None:
    """Evaluate the LSTM recommender against pop, last_window and ema on a dataset."""
    from interest_tools.evaluate import run_eval

    if protocol not in ("loo", "next-window"):
        raise ConfigError(f"--protocol must be loo or next-window, not '{protocol}'")
    data = resolve_dataset(dataset, events, items, columns=column, item_columns=item_column, date_format=date_format)
    result = run_eval(data, protocol=protocol, seed=seed)  # type: ignore[arg-type]
    if as_json:
        print_json(result)
        return
    table = Table(title=f"{protocol}: {result['n_users']} users (masked: earlier items removed from the ranking)")
    for col in ("model", "NDCG@10", "Hit@10", "Recall@20", "MRR@10"):
        table.add_column(col)
    for name, m in result["metrics"].items():
        table.add_row(name, *(f"{m[k]:.4f}" for k in ("ndcg@10", "hit@10", "recall@20", "mrr@10")))
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
    token_file: Annotated[
        Path | None,
        typer.Option(
            "--token-file",
            help="HTTP: file holding the bearer token every request must send (not readable by all users; "
            "env INTEREST_TOOLS_MCP_TOKEN). Required for HTTP, loopback included.",
        ),
    ] = None,
    allow_origin: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-origin", help="HTTP: a browser Origin to accept besides loopback and same-origin (repeatable)."
        ),
    ] = None,
    allow_host: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-host",
            help="HTTP: a Host header name to accept besides localhost and the bound address (repeatable).",
        ),
    ] = None,
    allow_writes: Annotated[
        bool,
        typer.Option(
            "--allow-writes",
            help="HTTP without --user: also expose interest_ingest_events, interest_feedback, interest_forget_user.",
        ),
    ] = False,
) -> None:
    """Serve the interest tools over MCP (stdio, or streamable HTTP at http://HOST:PORT/mcp).

    HTTP always needs a bearer token (--token-file or INTEREST_TOOLS_MCP_TOKEN), on loopback too.

    Without one it refuses to start (exit 2). Clients send Authorization: Bearer TOKEN (else 401).

    Host and Origin are checked against DNS rebinding (421 / 403); --allow-host and --allow-origin widen the lists.

    Without --user the write tools (ingest, feedback, forget) are left out unless --allow-writes.
    """
    from interest_tools.adapters._mcp import serve
    from interest_tools.adapters._mcp_access import HttpAccess, resolve_token

    if transport not in ("stdio", "http"):
        raise ConfigError(f"--transport must be stdio or http, not '{transport}'")
    access = None
    if transport == "http":
        secret = settings_from(store, chroma_url).mcp_token
        token = resolve_token(token_file, None if secret is None else secret.get_secret_value())
        access = HttpAccess.resolve(host, token, allow_host, allow_origin)
    elif token_file is not None or allow_origin or allow_host or allow_writes:
        raise ConfigError(
            "--token-file, --allow-origin, --allow-host and --allow-writes apply to --transport http only"
        )
    serve(
        _common.engine_from(store, chroma_url),
        transport=transport,  # type: ignore[arg-type]
        user_id=user,
        host=host,
        port=port,
        access=access,
        allow_writes=allow_writes,
    )
