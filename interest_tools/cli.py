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
from rich.table import Table

from interest_tools.data import Dataset, load_dataset
from interest_tools.datasets import DATASETS, load_named
from interest_tools.errors import InterestToolsError
from interest_tools.settings import Settings
from interest_tools.windows import WindowConfig, user_windows

app = typer.Typer(
    name="interest-tools",
    help="How a person's interests change over time, and what to suggest next.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])
if TYPE_CHECKING:
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
    typer.Option("--store", help="Store directory (default .interest_store, env INTEREST_TOOLS_STORE_PATH)."),
]
UrlOpt = Annotated[
    str | None,
    typer.Option("--chroma-url", help="Chroma server URL, e.g. http://localhost:8000 (env INTEREST_TOOLS_CHROMA_URL)."),
]
UserArg = Annotated[str, typer.Argument(help="User id.")]


def handle_errors(func: F) -> F:
    """Turn caller-fixable errors into exit code 2 with the message on stderr."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except InterestToolsError as exc:
            err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(code=2) from None
        except ValueError as exc:  # pydantic validation of flags
            err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(code=2) from None

    return wrapper  # type: ignore[return-value]


def resolve_dataset(dataset: str | None, events: Path | None, items: Path | None) -> Dataset:
    """Load the named bundled dataset, or events and items files (both needed)."""
    if events is not None or items is not None:
        if dataset is not None:
            raise InterestToolsError("give either --dataset or --events/--items, not both")
        if events is None or items is None:
            raise InterestToolsError("--events and --items go together: pass both files")
        return load_dataset(events, items)
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
    return Settings(**overrides)


def engine_from(store: Path | None, chroma_url: str | None) -> Engine:
    """An engine over the store the flags (or environment) name."""
    from interest_tools.engine import Engine

    return Engine(settings_from(store, chroma_url))


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
    as_json: JsonOpt = False,
) -> None:
    """Show a user's time windows: events, category shares, top items, new and faded categories."""
    data = resolve_dataset(dataset, events, items)
    wins = user_windows(data.events, data.items, user, window_config(freq))
    if as_json:
        print_json([w.to_json() for w in wins])
        return
    titles = dict(zip(data.items["item_id"], data.items["title"], strict=True))
    table = Table(title=f"User {user}: {len(wins)} {freq} windows")
    for col in ("start", "events", "top categories", "top items", "new", "faded", "mean rating"):
        table.add_column(col)
    for w in wins:
        cats = ", ".join(f"{c} {v:.0%}" for c, v in list(w.category_weights.items())[:3])
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
) -> None:
    """Run the whole pipeline on the bundled MovieLens data and explain what each step shows."""
    from interest_tools.build import BuildConfig
    from interest_tools.engine import Engine

    data = load_named("movielens-small")
    out.rule("interest-tools demo")
    out.print(
        f"[bold]1. Data[/]: bundled MovieLens ml-latest-small, {len(data.events):,} ratings by "
        f"{data.events['user_id'].nunique()} users of {len(data.items):,} movies (genres are the categories)."
    )
    engine = Engine(settings_from(store, None))
    out.print(f"[bold]2. Build[/] into {store}: monthly windows, template summaries, embeddings, LSTM forecaster.")
    # Training is cut to 4 epochs (not a wall-time cap, so the demo's model does not depend on machine load) so that
    # the demo stays short; `interest-tools build` trains to early stop.
    config = BuildConfig.model_validate({"summary": {"noun": "movies"}, "forecast": {"epochs": 4}})
    report = engine.build(data, config, progress=lambda msg: out.print(f"   … {msg}", highlight=False))
    out.print(
        f"   {report.n_windows:,} windows; embedded {report.items_embedded:,} item and {report.windows_embedded:,}"
        f" summary texts (a rerun embeds only what changed); stage seconds {report.seconds}."
    )
    out.print(f"[bold]3. User {user}'s windows[/] (last 4 of {len(engine.user_windows(user))} summaries):")
    for s in engine.user_summaries(user)[-4:]:
        out.print(f"   {s.summary}", highlight=False)
    out.print("[bold]4. Why their interests shifted[/]:")
    out.print("   " + engine.explain(user).narrative.replace("\n", "\n   "), highlight=False)
    fc = engine.forecast(user)
    top = ", ".join(f"{c} {v:.0%}" for c, v in list(fc.category_weights.items())[:4])
    out.print(f"[bold]5. Forecast[/] for {fc.next_window.start.date()}..{fc.next_window.end.date()}: {top}")
    out.print("[bold]6. Recommendations[/] with reasons:")
    for item in engine.recommend(user, 5).items:
        out.print(f"   {item.title}: {item.reason}", highlight=False)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = engine.report(user, out_dir / f"user_{user}.html")
    out.print(f"[bold]7. Report[/]: {files[0]} (self-contained HTML: chart with shifts, summaries, forecast, picks).")
    out.print(
        "Next: `interest-tools recommend 1 --json`, `interest-tools explain 1`, `interest-tools serve-mcp --user 1`."
    )


from interest_tools import cli_store  # noqa: E402,F401  (registers the store commands on `app`)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":  # `python -m interest_tools.cli`: run the imported module, whose app has every command
    from interest_tools.cli import main as _main

    _main()
