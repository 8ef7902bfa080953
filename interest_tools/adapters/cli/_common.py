"""Command-line adapter: translates flags into stage calls and errors into exit codes, nothing more.

Exit codes: 0 success, 2 bad input (message on stderr, no traceback), 1 internal error (traceback shown).
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from interest_tools.data import Dataset, load_dataset
from interest_tools.datasets import DATASETS, load_named
from interest_tools.errors import InterestToolsError
from interest_tools.settings import Settings
from interest_tools.windows import WindowConfig, percent, user_windows

app = typer.Typer(
    name="interest-tools",
    help="How a person's interests change over time, and what to suggest next.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain click help: flags show no "<bool>" placeholder, and it reads the same when piped
)
out = Console()
err = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])
if TYPE_CHECKING:
    from pydantic import BaseModel

    from interest_tools.adapters._operation_context import Operation, ToolContext
    from interest_tools.engine import Engine

DatasetOpt = Annotated[
    str | None, typer.Option("--dataset", help=f"Bundled dataset ({', '.join(DATASETS)}); the default source.")
]
EventsOpt = Annotated[Path | None, typer.Option("--events", help="Events file (CSV, Parquet or JSONL).")]
ItemsOpt = Annotated[Path | None, typer.Option("--items", help="Item catalog file (CSV, Parquet or JSONL).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
FreqOpt = Annotated[str, typer.Option("--freq", help="Window length: week, month, quarter or year.")]
StoreOpt = Annotated[
    Path | None,
    typer.Option(
        "--store",
        help="Store directory: events, items, summaries, feedback, build state and the forecaster, and the vectors "
        "unless --chroma-url (default .interest_store, env INTEREST_TOOLS_STORE_PATH). Needed with --chroma-url too.",
    ),
]
UrlOpt = Annotated[
    str | None,
    typer.Option(
        "--chroma-url",
        help="Chroma server that holds the vectors, e.g. http://localhost:8000 (env INTEREST_TOOLS_CHROMA_URL); "
        "the rest stays in --store.",
    ),
]
UserArg = Annotated[str, typer.Argument(help="User id.")]
ColumnOpt = Annotated[
    list[str] | None,
    typer.Option("--column", help="Events column mapping CANONICAL=SOURCE, e.g. user_id=userId (repeatable)."),
]
ItemColumnOpt = Annotated[
    list[str] | None,
    typer.Option("--item-column", help="Items column mapping CANONICAL=SOURCE, e.g. categories=genres (repeatable)."),
]
DateFormatOpt = Annotated[
    str | None,
    typer.Option("--date-format", help="strptime format of every text timestamp, e.g. %d/%m/%Y (default: ISO 8601)."),
]


def handle_errors(func: F) -> F:
    """Turn caller-fixable errors into exit code 2 with the message on stderr."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except InterestToolsError as exc:
            err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(code=2) from None
        except ValueError as exc:  # pydantic validation of flags
            err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(code=2) from None

    return wrapper  # type: ignore[return-value]


def column_map(pairs: list[str] | None, *, what: str) -> dict[str, str] | None:
    """Turn ``--column user_id=userId`` flags into a loader ``column_map`` (source name to canonical name)."""
    from interest_tools.data import EVENT_OPTIONAL, EVENT_REQUIRED, ITEM_OPTIONAL, ITEM_REQUIRED

    if not pairs:
        return None
    flag = "--column" if what == "events" else "--item-column"
    allowed = EVENT_REQUIRED + EVENT_OPTIONAL if what == "events" else ITEM_REQUIRED + ITEM_OPTIONAL
    mapping: dict[str, str] = {}
    for pair in pairs:
        canonical, sep, source = (part.strip() for part in pair.partition("="))
        if not sep or not source or canonical not in allowed:
            raise InterestToolsError(
                f"{flag} {pair!r} must be CANONICAL=SOURCE with CANONICAL one of {', '.join(allowed)}, "
                f"e.g. {flag} {allowed[0]}={'userId' if what == 'events' else 'movieId'}"
            )
        mapping[source] = canonical
    return mapping


def resolve_dataset(
    dataset: str | None,
    events: Path | None,
    items: Path | None,
    *,
    columns: list[str] | None = None,
    item_columns: list[str] | None = None,
    date_format: str | None = None,
) -> Dataset:
    """Load the named bundled dataset, or events and items files (both needed), mapped by --column flags."""
    if events is not None or items is not None:
        if dataset is not None:
            raise InterestToolsError("give either --dataset or --events/--items, not both")
        if events is None or items is None:
            raise InterestToolsError("--events and --items go together: pass both files")
        return load_dataset(
            events,
            items,
            event_columns=column_map(columns, what="events"),
            item_columns=column_map(item_columns, what="items"),
            date_format=date_format,
        )
    if columns or item_columns or date_format:
        raise InterestToolsError("--column, --item-column and --date-format apply to --events/--items files only")
    return load_named(dataset or "movielens-small")


def window_config(freq: str) -> WindowConfig:
    """Build a calendar window config from a --freq flag."""
    allowed = ("week", "month", "quarter", "year")
    if freq not in allowed:
        raise InterestToolsError(f"--freq must be one of {', '.join(allowed)}, not '{freq}'")
    return WindowConfig(freq=freq)  # type: ignore[arg-type]


def settings_from(store: Path | None, chroma_url: str | None) -> Settings:
    """Deployment settings from the environment, overridden by --store / --chroma-url."""
    overrides: dict[str, Any] = {}
    if store is not None:
        overrides["store_path"] = store
    if chroma_url is not None:
        overrides["chroma_url"] = chroma_url
    settings = Settings(**overrides)
    if chroma_url is not None:
        settings.note_flag("chroma_url", "--chroma-url")  # messages then say "leave out --chroma-url"
    return settings


def engine_from(store: Path | None, chroma_url: str | None) -> Engine:
    """An engine over the store the flags (or environment) name."""
    from interest_tools.engine import Engine

    return Engine(settings_from(store, chroma_url))


def parse_operation(
    name: str, user: str, store: Path | None, chroma_url: str | None, **raw: Any
) -> tuple[ToolContext, Operation, BaseModel]:
    """Validate a command's arguments against one operation of the agent operations table (the store stays closed).

    The CLI goes through the same table as the LangChain and MCP tools, so it accepts and refuses the same
    arguments with the same messages (a refusal is a :class:`ToolArgumentError`: exit 2).

    Args:
        name: The operation, e.g. ``interest_recommend``.
        user: The user id argument.
        store: ``--store``.
        chroma_url: ``--chroma-url``.
        **raw: The operation's arguments, named as in its schema (``k``, ``categories``, ...).

    Returns:
        The (operator) tool context over the store, the operation, and the validated arguments.
    """
    from interest_tools.adapters._operation_context import ToolContext
    from interest_tools.adapters._operations import OPERATIONS_BY_NAME

    op = OPERATIONS_BY_NAME[name]
    context = ToolContext(engine_from(store, chroma_url), source="cli")
    return context, op, context.parse(op, {"user_id": user, **raw})


def run_operation(name: str, user: str, store: Path | None, chroma_url: str | None, **raw: Any) -> Any:
    """Validate (:func:`parse_operation`) and run one operation for ``user``; return its JSON artifact."""
    context, op, args = parse_operation(name, user, store, chroma_url, **raw)
    return context.execute(op, args)[1]


def progress_printer() -> Callable[[str], None]:
    """Progress lines on stderr when it is a terminal; silent otherwise."""
    if not sys.stderr.isatty():
        return lambda _msg: None
    return lambda msg: err.print(f"[dim]…[/] {msg}", highlight=False)


def print_json(data: Any) -> None:
    """Print JSON to stdout (plain, so that pipes get exact bytes)."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


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
    # Training is capped at 3 minutes here so that the demo stays short; `interest-tools build` trains to early stop.
    config = BuildConfig.model_validate({"summary": {"noun": "movies"}, "forecast": {"max_train_minutes": 3.0}})
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
