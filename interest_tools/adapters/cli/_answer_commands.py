"""CLI commands that answer about one user from a built store (registered on ``_common.app``).

Every command takes ``--store PATH`` or ``--chroma-url URL`` (or their environment variables) and ``--json``.
Each has an agent tool (summaries, search, history, forecast, recommend, explain, report, feedback) and validates
and runs through the one operations table (:func:`run_operation`), so it refuses what the tools refuse.
"""

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from interest_tools.adapters.cli._common import (
    JsonOpt,
    StoreOpt,
    UrlOpt,
    UserArg,
    app,
    handle_errors,
    out,
    parse_operation,
    print_json,
    run_operation,
)
from interest_tools.windows import share_change


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
