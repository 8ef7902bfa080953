"""CLI commands that need no store: ``windows`` (a user's windows from a file or the bundled data) and ``demo``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from interest_tools.adapters.cli._common import (
    ColumnOpt,
    DatasetOpt,
    DateFormatOpt,
    EventsOpt,
    FreqOpt,
    ItemColumnOpt,
    ItemsOpt,
    JsonOpt,
    app,
    err,
    handle_errors,
    out,
    print_json,
    resolve_dataset,
    settings_from,
    window_config,
)
from interest_tools.datasets import load_named
from interest_tools.windows import percent, user_windows


@app.command()
@handle_errors
def windows(
    user: Annotated[str, typer.Argument(help="User id.")],
    freq: FreqOpt = "month",
    dataset: DatasetOpt = None,
    events: EventsOpt = None,
    items: ItemsOpt = None,
    column: ColumnOpt = None,
    item_column: ItemColumnOpt = None,
    date_format: DateFormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show a user's time windows: events, category shares, top items, new and faded categories."""
    data = resolve_dataset(dataset, events, items, columns=column, item_columns=item_column, date_format=date_format)
    wins = user_windows(data.events, data.items, user, window_config(freq))
    if as_json:
        print_json([w.to_json() for w in wins])
        return
    titles = dict(zip(data.items["item_id"], data.items["title"], strict=True))
    table = Table(title=f"User {user}: {len(wins)} {freq} windows")
    for col in ("start", "events", "top categories", "top items", "new", "faded", "mean rating"):
        table.add_column(col)
    for w in wins:
        cats = ", ".join(f"{c} {percent(v)}" for c, v in list(w.category_weights.items())[:3])
        tops = "; ".join(titles.get(i, i) for i in w.top_items[:2])
        table.add_row(
            w.start.date().isoformat(),
            str(w.n_events),
            cats,
            tops,
            ", ".join(w.new_categories[:4]),
            ", ".join(w.faded_categories[:4]),
            "" if w.mean_rating is None else f"{w.mean_rating:.2f}",
        )
    out.print(table)


@app.command()
@handle_errors
def demo(
    user: Annotated[str, typer.Option(help="User to explain and report on.")] = "414",
    store: Annotated[Path, typer.Option("--store", help="Store directory to build.")] = Path(".interest_store"),
    out_dir: Annotated[Path, typer.Option("--out-dir", help="Where the report goes.")] = Path("reports"),
    as_json: Annotated[
        bool, typer.Option("--json", help="Print what each step produced as JSON (the walk-through goes to stderr).")
    ] = False,
) -> None:
    """Run the whole pipeline on the bundled MovieLens data and explain what each step shows."""
    from interest_tools.engine import Engine
    from interest_tools.pipeline import BuildConfig

    say = err if as_json else out  # with --json, stdout carries only the JSON
    data = load_named("movielens-small")
    say.rule("interest-tools demo")
    say.print(
        f"[bold]1. Data[/]: bundled MovieLens ml-latest-small, {len(data.events):,} ratings by "
        f"{data.events['user_id'].nunique()} users of {len(data.items):,} movies (genres are the categories)."
    )
    engine = Engine(settings_from(store, None))
    say.print(f"[bold]2. Build[/] into {store}: monthly windows, template summaries, embeddings, LSTM forecaster.")
    # Training is cut to 4 epochs (not a wall-time cap, so the demo's model does not depend on machine load) so that
    # the demo stays short; `interest-tools build` trains to early stop.
    config = BuildConfig.model_validate({"summary": {"noun": "movies"}, "forecast": {"epochs": 4}})
    report = engine.build(data, config, progress=lambda msg: say.print(f"   … {msg}", highlight=False))
    say.print(
        f"   {report.n_windows:,} windows; embedded {report.items_embedded:,} item and {report.windows_embedded:,}"
        f" summary texts (a rerun embeds only what changed); stage seconds {report.seconds}."
    )
    say.print(f"[bold]3. User {user}'s windows[/] (last 4 of {len(engine.user_windows(user))} summaries):")
    for s in engine.user_summaries(user)[-4:]:
        say.print(f"   {s.summary}", highlight=False)
    say.print("[bold]4. Why their interests shifted[/]:")
    explanation = engine.explain(user)
    say.print("   " + explanation.narrative.replace("\n", "\n   "), highlight=False)
    fc = engine.forecast(user)
    top = ", ".join(f"{c} {percent(v)}" for c, v in list(fc.category_weights.items())[:4])
    say.print(f"[bold]5. Forecast[/] for {fc.next_window.start.date()}..{fc.next_window.end.date()}: {top}")
    say.print("[bold]6. Recommendations[/] with reasons:")
    recs = engine.recommend(user, 5)
    for item in recs.items:
        say.print(f"   {item.title}: {item.reason}", highlight=False)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = engine.report(user, out_dir / f"user_{user}.html")
    say.print(f"[bold]7. Report[/]: {files[0]} (self-contained HTML: chart with shifts, summaries, forecast, picks).")
    say.print(
        "Next: `interest-tools recommend 1 --json`, `interest-tools explain 1`, `interest-tools serve-mcp --user 1`."
    )
    if as_json:
        print_json(
            {
                "user_id": user,
                "build": report.model_dump(),
                "summaries": [s.to_json() for s in engine.user_summaries(user)[-4:]],
                "explanation": explanation.to_json(),
                "forecast": fc.to_json(),
                "recommendations": recs.model_dump(mode="json"),
                "report": [str(f) for f in files],
            }
        )
