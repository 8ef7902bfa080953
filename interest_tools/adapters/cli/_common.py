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
from typer.core import TyperGroup

from interest_tools.data import Dataset, load_dataset
from interest_tools.datasets import DATASETS, load_named
from interest_tools.errors import InterestToolsError
from interest_tools.settings import Settings
from interest_tools.windows import WindowConfig

#: The order ``--help`` lists the commands in: the workflow, not the order the modules register them.
COMMAND_ORDER = (
    "build", "ingest", "windows", "summaries", "search", "history", "forecast", "recommend", "explain", "report",
    "feedback", "preferences", "forget", "users", "eval", "serve-mcp", "demo",
)  # fmt: skip


class _WorkflowOrder(TyperGroup):
    """Lists commands in :data:`COMMAND_ORDER` (any other command after them, by name)."""

    def list_commands(self, ctx: Any) -> list[str]:
        rank = {name: i for i, name in enumerate(COMMAND_ORDER)}
        return sorted(self.commands, key=lambda name: (rank.get(name, len(rank)), name))


app = typer.Typer(
    name="interest-tools",
    cls=_WorkflowOrder,
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
