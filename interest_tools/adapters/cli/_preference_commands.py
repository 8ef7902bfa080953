"""CLI commands about what a person said over time (registered on :data:`interest_tools.adapters.cli._common.app`).

``interest-tools preferences USER [--as-of DATE] --json`` prints the timeline of stated preferences
(:class:`interest_tools.recommend.PreferenceTimeline`): ``{user_id, as_of, statements: [{kind, category, item_id,
stated_at, valid_until, superseded_at, in_force, source, ...}], conflicts: [{statement, event_item_ids, message,
...}]}``. Statements are recorded with ``interest-tools feedback``.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from interest_tools.adapters.cli import _common  # engine_from is looked up at call time (tests replace it)
from interest_tools.adapters.cli._common import (
    JsonOpt,
    StoreOpt,
    UrlOpt,
    UserArg,
    app,
    handle_errors,
    out,
    print_json,
)


@app.command()
@handle_errors
def preferences(
    user: UserArg,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="See the timeline as it was at this date, e.g. 2024-03-31.")
    ] = None,
    store: StoreOpt = None,
    chroma_url: UrlOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List what a user said (in force, superseded, expired) and where their behaviour contradicts it."""
    result = _common.engine_from(store, chroma_url).preference_timeline(user, as_of)
    if as_json:
        print_json(result.to_json())
        return
    table = Table(title=f"Stated preferences of user {user} as of {result.as_of.date().isoformat()}")
    for col in ("statement", "stated", "valid until", "superseded", "status", "source"):
        table.add_column(col)
    for s in result.statements:
        table.add_row(
            s.describe(),
            s.stated_at.date().isoformat(),
            "" if s.valid_until is None else s.valid_until.date().isoformat(),
            "" if s.superseded_at is None else s.superseded_at.date().isoformat(),
            s.status.replace("_", " "),
            s.source or "",
        )
    out.print(table)
    for c in result.conflicts:
        out.print(f"[bold]conflict:[/] {c.message}", highlight=False)
