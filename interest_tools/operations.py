"""The one table of agent operations; the LangChain tools and the MCP tools are both generated from it.

Each :class:`Operation` has a name, a description that tells a model *when* to use it, a pydantic args model
(a description on every field, no ``user_id``: who the user is never comes from the model), an engine call
that returns the same JSON as the CLI's ``--json``, and a renderer of a short text for the model.
:class:`ToolContext` binds the operations to one :class:`~interest_tools.engine.Engine` and either one user
(per-user tools) or none (operator tools, which take ``user_id`` as an argument on purpose).
"""

from __future__ import annotations

import contextlib
import re
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from interest_tools.engine import Engine
from interest_tools.errors import ConfigError, InterestToolsError, UnknownUserError
from interest_tools.feedback import FEEDBACK_KINDS


class ToolArgumentError(ConfigError):
    """A tool call's arguments are wrong in a way the caller can fix (the message names the valid values)."""


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NoArgs(_Args):
    """No arguments: the operation reads the bound user."""


class LastArgs(_Args):
    """How many of the most recent windows."""

    last: int | None = Field(
        default=None, ge=1, le=1000, description="Only the most recent N windows; omit for the whole history."
    )


class SearchArgs(_Args):
    """A question about the person's past."""

    query: str = Field(
        min_length=1, max_length=500, description="What to look for, in plain words, e.g. 'when was I into horror?'."
    )
    k: int = Field(default=5, ge=1, le=20, description="How many windows to return (1-20), best match first.")


class AsOfArgs(_Args):
    """A date in the person's history."""

    date: str = Field(
        min_length=4, max_length=40, description="ISO 8601 date, e.g. 2020-08-15 (convert 'last summer' first)."
    )


class RecommendArgs(_Args):
    """How many items and which categories."""

    k: int = Field(default=5, ge=1, le=50, description="How many items to suggest (1-50).")
    categories: list[str] | None = Field(
        default=None, description="Only items in at least one of these catalog categories (this request only)."
    )
    exclude_categories: list[str] | None = Field(
        default=None, description="No items in any of these catalog categories (this request only)."
    )


class ReportArgs(_Args):
    """Report format."""

    format: Literal["html", "md"] = Field(
        default="html", description="html: one self-contained file; md: Markdown with chart images beside it."
    )


class EventIn(_Args):
    """One new event of the bound user."""

    item_id: str = Field(min_length=1, description="Catalog item id, e.g. as returned by interest_recommend.")
    timestamp: str = Field(min_length=4, description="When it happened, ISO 8601, e.g. 2021-01-05T20:00:00Z.")
    rating: float | None = Field(default=None, description="The person's rating on the catalog's scale, if any.")
    weight: float | None = Field(default=None, ge=0, description="Strength of the event (default 1; 0 ignores it).")
    event: str | None = Field(default=None, max_length=40, description="Kind of event, e.g. rating, view, purchase.")
    text: str | None = Field(default=None, max_length=2000, description="What the person said about it, if any.")


class IngestArgs(_Args):
    """New events to append."""

    events: list[EventIn] = Field(min_length=1, max_length=500, description="The new events (1-500).")


class FeedbackArgs(_Args):
    """What the person said about what they want next."""

    kind: Literal["more_like_item", "not_this_item", "more_category", "no_more_category"] = Field(
        description="more_like_item / not_this_item need item_id; more_category / no_more_category need category."
    )
    item_id: str | None = Field(default=None, description="Catalog item id the person referred to (item kinds).")
    category: str | None = Field(default=None, description="Catalog category the person referred to (category kinds).")
    text: str = Field(default="", max_length=500, description="The person's words, kept as evidence (optional).")


class ForgetArgs(_Args):
    """Confirmation of a deletion."""

    confirm: bool = Field(description="true only when the person explicitly asked to delete all their data.")


Call = Callable[["ToolContext", str, Any], Any]


@dataclass(frozen=True)
class Operation:
    """One agent operation: what both adapters expose under :attr:`name`."""

    name: str
    description: str
    args: type[BaseModel]
    call: Call
    render: Callable[[Any], str]
    writes: bool = False

    @property
    def operator_args(self) -> type[BaseModel]:
        """The args model plus a required ``user_id`` (operator tools only)."""
        return _with_user(self.args)


@cache
def _with_user(args: type[BaseModel]) -> type[BaseModel]:
    return create_model(  # type: ignore[call-overload,no-any-return]
        f"Operator{args.__name__}",
        __base__=args,
        __doc__=args.__doc__,
        user_id=(str, Field(min_length=1, description="The user the operation is about (operator tools only).")),
    )


# ------------------------------------------------------------------------------------------ locking


class _ReadWriteLock:
    """Many concurrent readers or one writer (writers first); also records whether the engine is loaded."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writing = False
        self._writers_waiting = 0
        self.warm = False

    @contextmanager
    def read(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not self._writing and not self._writers_waiting)
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                self._cond.notify_all()

    @contextmanager
    def write(self) -> Iterator[None]:
        with self._cond:
            self._writers_waiting += 1
            self._cond.wait_for(lambda: not self._writing and not self._readers)
            self._writers_waiting -= 1
            self._writing = True
        try:
            yield
        finally:
            with self._cond:
                self._writing = False
                self._cond.notify_all()


_LOCKS: weakref.WeakKeyDictionary[Engine, _ReadWriteLock] = weakref.WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()


def engine_lock(engine: Engine) -> _ReadWriteLock:
    """The read-write lock shared by every tool over ``engine`` (LangChain and MCP alike)."""
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(engine, _ReadWriteLock())


def _warm(engine: Engine) -> None:
    """Load data, store and models once, so that concurrent reads never race on lazy loading."""
    for name in ("windows", "summaries", "titles", "popularity", "store"):
        getattr(engine, name)
    with contextlib.suppress(InterestToolsError):  # no forecaster: forecast/recommend say so when called
        engine.forecaster  # noqa: B018


# ------------------------------------------------------------------------------------------ context


@dataclass
class ToolContext:
    """Operations bound to one engine and, for per-user tools, one user.

    Args:
        engine: The engine every call goes to.
        user_id: The bound user; ``None`` makes operator tools whose args carry ``user_id``.
        report_dir: Where ``interest_report`` writes (default ``<store>/reports``); never chosen by the model.
    """

    engine: Engine
    user_id: str | None = None
    report_dir: Path | None = None

    def args_model(self, op: Operation) -> type[BaseModel]:
        """The args model the adapters expose for ``op``."""
        return op.args if self.user_id is not None else op.operator_args

    def parse(self, op: Operation, raw: Mapping[str, Any]) -> BaseModel:
        """Validate raw arguments (MCP path).

        Raises:
            ToolArgumentError: Invalid arguments, with the valid values.
        """
        try:
            return self.args_model(op).model_validate(dict(raw))
        except ValidationError as exc:
            raise ToolArgumentError(self.describe_error(op, exc)) from exc

    def describe_error(self, op: Operation, exc: ValidationError) -> str:
        """One line per invalid argument, with what is allowed (pydantic's message plus the field's description)."""
        fields = self.args_model(op).model_fields
        lines = []
        for err in exc.errors(include_url=False):
            loc = ".".join(str(p) for p in err["loc"]) or "arguments"
            top = str(err["loc"][0]) if err["loc"] else ""
            if err["type"] == "extra_forbidden" and top == "user_id" and self.user_id is not None:
                lines.append("user_id: not an argument; these tools always act for the person in this conversation")
            elif err["type"] == "extra_forbidden":
                lines.append(f"{loc}: not an argument; valid arguments: {', '.join(fields) or 'none'}")
            else:
                hint = fields[top].description if top in fields and len(err["loc"]) == 1 else None
                lines.append(f"{loc}: {err['msg']}" + (f" ({hint})" if hint else ""))
        return f"Invalid arguments for {op.name}: " + "; ".join(lines)

    def execute(self, op: Operation, args: BaseModel) -> tuple[str, Any]:
        """Run ``op`` for the bound user (or ``args.user_id``) and return (short text, JSON artifact).

        Raises:
            InterestToolsError: Caller-fixable problems (unknown user, bad date, unknown category, ...).
        """
        user = self.user_id if self.user_id is not None else str(getattr(args, "user_id"))  # noqa: B009
        try:
            result = self._locked(op, user, args)
        except UnknownUserError as exc:
            if self.user_id is None:
                raise
            raise ToolArgumentError(
                "Nothing is stored for this person yet (no events or windows). Add what they watched or read "
                "with interest_ingest_events first."
            ) from exc
        return op.render(result), result

    def _locked(self, op: Operation, user: str, args: BaseModel) -> Any:
        lock = engine_lock(self.engine)
        if op.writes:
            with lock.write():
                try:
                    return op.call(self, user, args)
                finally:
                    lock.warm = False  # the engine dropped its caches
        while True:
            with lock.read():
                if lock.warm:
                    return op.call(self, user, args)
            with lock.write():
                if not lock.warm:
                    _warm(self.engine)
                    lock.warm = True

    def categories(self) -> list[str]:
        """Every catalog category, sorted."""
        return sorted({c for cs in self.engine.dataset.items["categories"] for c in cs})


def _check_categories(ctx: ToolContext, names: list[str] | None) -> None:
    known = ctx.categories()
    unknown = sorted(set(names or ()) - set(known))
    if unknown:
        more = f" ... ({len(known)} in all)" if len(known) > 60 else ""
        raise ToolArgumentError(f"unknown categor(ies) {unknown}; valid categories: {', '.join(known[:60])}{more}")


def _date(value: str) -> str:
    return value[:10]


def _shares(weights: Mapping[str, float], n: int = 3) -> str:
    return ", ".join(f"{c} {s:.0%}" for c, s in list(weights.items())[:n]) or "no categories"


# ------------------------------------------------------------------------------------------ calls


def _windows(ctx: ToolContext, user: str, args: LastArgs) -> list[dict[str, Any]]:
    wins = ctx.engine.user_windows(user)
    return [w.to_json() for w in (wins[-args.last :] if args.last else wins)]


def _render_windows(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "No windows."
    lines = [f"{len(rows)} windows, the first starting {_date(rows[0]['start'])}, the last {_date(rows[-1]['start'])}:"]
    for w in rows[-4:]:
        extra = f"; new: {', '.join(w['new_categories'][:3])}" if w["new_categories"] else ""
        events = f"{w['n_events']} event" + "s" * (w["n_events"] != 1)
        lines.append(f"- {_date(w['start'])}: {events}; {_shares(w['category_weights'])}{extra}")
    return "\n".join(lines)


def _summaries(ctx: ToolContext, user: str, args: LastArgs) -> list[dict[str, Any]]:
    rows = ctx.engine.user_summaries(user)
    return [s.to_json() for s in (rows[-args.last :] if args.last else rows)]


def _render_summaries(rows: list[dict[str, Any]]) -> str:
    shown = rows[-8:]
    head = f"{len(rows)} window summaries" + (f" (latest {len(shown)} shown)" if len(shown) < len(rows) else "")
    return "\n".join([head + ":", *(f"- {_date(r['start'])}: {r['summary']}" for r in shown)])


def _search(ctx: ToolContext, user: str, args: SearchArgs) -> list[dict[str, Any]]:
    return [h.model_dump(mode="json") for h in ctx.engine.search_history(user, args.query, args.k)]


def _render_search(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "No matching windows."
    return "\n".join(f"- {_date(h['start'])} (match {h['score']:.2f}): {h['summary']}" for h in rows)


def _as_of(ctx: ToolContext, user: str, args: AsOfArgs) -> dict[str, Any]:
    return ctx.engine.history_as_of(user, args.date).model_dump(mode="json")


def _forecast(ctx: ToolContext, user: str, args: NoArgs) -> dict[str, Any]:
    return ctx.engine.forecast(user).to_json()


def _render_forecast(f: dict[str, Any]) -> str:
    nxt = f["next_window"]
    text = f"Forecast ({f['model']}) for the next window starting {_date(nxt['start'])}: "
    text += _shares(f["category_weights"], 5) + "."
    for label, key in (("Rising", "rising"), ("Falling", "falling")):
        if f[key]:
            text += f" {label}: " + ", ".join(f"{c['category']} {c['before']:.0%}→{c['after']:.0%}" for c in f[key][:4])
            text += "."
    return text


def _recommend(ctx: ToolContext, user: str, args: RecommendArgs) -> dict[str, Any]:
    _check_categories(ctx, args.categories)
    _check_categories(ctx, args.exclude_categories)
    recs = ctx.engine.recommend(user, args.k, categories=args.categories, exclude_categories=args.exclude_categories)
    return recs.model_dump(mode="json")


def _render_recommend(r: dict[str, Any]) -> str:
    if not r["items"]:
        return "No items fit (every candidate was seen, excluded or filtered out)."
    lines = [f"{i}. {it['title']} [item_id {it['item_id']}] ({', '.join(it['categories'])}): {it['reason']}"
             for i, it in enumerate(r["items"], 1)]  # fmt: skip
    return "\n".join(lines)


def _explain(ctx: ToolContext, user: str, args: NoArgs) -> dict[str, Any]:
    return ctx.engine.explain(user).to_json()


def _render_explain(e: dict[str, Any]) -> str:
    text = str(e["narrative"])
    if e.get("stated_preferences"):
        text += "\nStated preferences: " + "; ".join(e["stated_preferences"]) + "."
    return text


def _report(ctx: ToolContext, user: str, args: ReportArgs) -> dict[str, Any]:
    folder = ctx.report_dir or ctx.engine.root / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", user).strip("._") or "user"
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
    files = ctx.engine.report(user, folder / f"{slug}-{stamp}.{args.format}", args.format)
    return {"user_id": user, "files": [str(f) for f in files]}


def _ingest(ctx: ToolContext, user: str, args: IngestArgs) -> dict[str, Any]:
    known = set(ctx.engine.titles)
    unknown = sorted({e.item_id for e in args.events} - known)
    if unknown:
        raise ToolArgumentError(
            f"item_id(s) {unknown[:10]} are not in the catalog of {len(known):,} items; use item ids returned by "
            "interest_recommend, interest_windows or interest_search_history"
        )
    frame = pd.DataFrame([{**e.model_dump(), "user_id": user} for e in args.events])
    report = ctx.engine.ingest(frame)
    return {"user_id": user, **report.model_dump()}


def _render_ingest(r: dict[str, Any]) -> str:
    return (f"Recorded the new events: {r['windows_embedded']} window summaries updated; {r['n_events']:,} events "
            "stored in all." + (f" Warnings: {'; '.join(r['warnings'])}" if r["warnings"] else ""))  # fmt: skip


def _feedback(ctx: ToolContext, user: str, args: FeedbackArgs) -> dict[str, Any]:
    return ctx.engine.add_feedback(user, args.kind, item_id=args.item_id, category=args.category, text=args.text)


def _render_feedback(r: dict[str, Any]) -> str:
    what = {"more_like_item": "more like item {item_id}", "not_this_item": "not item {item_id}",
            "more_category": "more {category}", "no_more_category": "no more {category}"}[r["kind"]]  # fmt: skip
    return f"Noted: {what.format(**r)}. It applies from the next recommendation on."


def _forget(ctx: ToolContext, user: str, args: ForgetArgs) -> dict[str, Any]:
    if not args.confirm:
        raise ToolArgumentError("nothing deleted: set confirm=true only after the person explicitly asked")
    counts = ctx.engine.forget_user(user)
    if hasattr(ctx.engine, "compact"):
        ctx.engine.compact()
    return {"user_id": user, "deleted": counts}


def _render_forget(r: dict[str, Any]) -> str:
    d = r["deleted"]
    return f"Deleted everything stored about the person: {d.get('events', 0)} events, {d.get('windows', 0)} windows."


OPERATIONS: tuple[Operation, ...] = (
    Operation("interest_windows", (
        "The person's interest profile per time window (e.g. month): event count, category shares, top items, "
        "categories that appeared or faded. Use when you need the raw timeline of what they engaged with; "
        "for a narrative of how their tastes changed use interest_explain_shift."), LastArgs, _windows,
        _render_windows),
    Operation("interest_summaries", (
        "A short written summary of each time window of the person's history, oldest first. Use when you want "
        "a readable period-by-period account of what they were into."), LastArgs, _summaries, _render_summaries),
    Operation("interest_search_history", (
        "Find the periods of the person's past that match a topic, e.g. 'when was I into horror?' or 'my "
        "documentary phase'. Use when they ask about a period by subject rather than by date."), SearchArgs,
        _search, _render_search),
    Operation("interest_history_as_of", (
        "What the person was into at a given date, and the trend leading up to it. Use when they ask about a "
        "specific time ('in March 2019', 'last summer'); convert it to an ISO date first."), AsOfArgs, _as_of,
        lambda r: str(r["narrative"])),
    Operation("interest_forecast", (
        "Forecast the person's interests in their next period: category shares, which interests are rising and "
        "which are fading. Use when asked what they are likely to get into next."), NoArgs, _forecast,
        _render_forecast),
    Operation("interest_recommend", (
        "Suggest items for the person's next period, each with a reason. Use when they ask for suggestions. "
        "What they said earlier (interest_feedback) is applied automatically; pass categories or "
        "exclude_categories only to narrow this one request."), RecommendArgs, _recommend, _render_recommend),
    Operation("interest_explain_shift", (
        "Explain how and why the person's interests shifted over time, with evidence items, their stable core "
        "interests and the preferences they stated. Use when they ask how or why their tastes changed."),
        NoArgs, _explain, _render_explain),
    Operation("interest_report", (
        "Write a shareable report file (charts of category shares with shifts, summaries, forecast, "
        "recommendations) and return its path. Use only when the person asks for a report or document; it "
        "is not needed to answer questions."), ReportArgs, _report,
        lambda r: "Wrote the report: " + ", ".join(r["files"])),
    Operation("interest_ingest_events", (
        "Record new things the person watched, read or rated, by catalog item id. Use when they tell you about "
        "them ('I just watched X and loved it'), so that their windows, summaries, search and forecast include "
        "them. For likes or dislikes about suggestions use interest_feedback instead."), IngestArgs, _ingest,
        _render_ingest, writes=True),
    Operation("interest_feedback", (
        "Record what the person wants more or less of. Use when they say so in the chat: 'more like this' "
        "(more_like_item + item_id), 'not this one' (not_this_item + item_id), 'more comedies' (more_category + "
        "category), 'no more horror' (no_more_category + category). It applies to the very next recommendation, "
        "shows in explanations as a stated preference, and later statements override earlier ones. Kinds: "
        f"{', '.join(FEEDBACK_KINDS)}."), FeedbackArgs, _feedback, _render_feedback, writes=True),
    Operation("interest_forget_user", (
        "Permanently delete everything stored about the person (events, windows, summaries, vectors, feedback). "
        "Use only when the person explicitly asks to delete their data, with confirm=true. Cannot be undone."),
        ForgetArgs, _forget, _render_forget, writes=True),
)  # fmt: skip

OPERATIONS_BY_NAME: dict[str, Operation] = {op.name: op for op in OPERATIONS}


def select(include: list[str] | None = None) -> list[Operation]:
    """The operations named in ``include`` (all by default), in table order.

    Raises:
        ToolArgumentError: An unknown name (the valid names are listed).
    """
    if include is None:
        return list(OPERATIONS)
    unknown = sorted(set(include) - set(OPERATIONS_BY_NAME))
    if unknown:
        raise ToolArgumentError(f"unknown tool name(s) {unknown}; valid names: {', '.join(OPERATIONS_BY_NAME)}")
    return [op for op in OPERATIONS if op.name in include]
