"""The one table of agent operations, from which the LangChain tools, the MCP tools and the CLI all work.

The LangChain and MCP tools are generated from it, and the CLI commands that have a tool validate and run through
it, so all three refuse the same arguments alike.

Each :class:`Operation` has a name, a description that tells a model *when* to use it, a pydantic args model
(a description on every field, no ``user_id``: who the user is never comes from the model), an engine call
that returns the same JSON as the CLI's ``--json``, the type of that JSON (the MCP output schema; see
``_operation_outputs``), and a renderer of a short text for the model.
:class:`ToolContext` binds the operations to one :class:`~interest_tools.engine.Engine` and either one user
(per-user tools) or none (operator tools, which take ``user_id`` as an argument on purpose).

This module holds the table (:data:`OPERATIONS`) with its engine calls and renderers; the argument models are
in ``_operation_args``, and :class:`Operation`, :class:`ToolContext` and :func:`engine_lock` in
``_operation_context``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from interest_tools.adapters._operation_args import (
    AsOfArgs,
    FeedbackArgs,
    ForgetArgs,
    IngestArgs,
    LastArgs,
    NoArgs,
    PreferencesArgs,
    RecommendArgs,
    ReportArgs,
    SearchArgs,
    ToolArgumentError,
)
from interest_tools.adapters._operation_context import Operation, ToolContext
from interest_tools.adapters._operation_outputs import FeedbackResult, ForgetResult, IngestResult, ReportResult
from interest_tools.explain import Explanation, HistoryAsOf
from interest_tools.forecast import Forecast
from interest_tools.recommend import FEEDBACK_KINDS, PreferenceTimeline, Recommendations
from interest_tools.report import REPORTS, forget_reports, report_path
from interest_tools.store import WindowHit
from interest_tools.summaries import WindowSummary
from interest_tools.windows import Window, percent, share_change

__all__ = [
    "OPERATIONS",
    "OPERATIONS_BY_NAME",
    "select",
]


def _check_categories(ctx: ToolContext, names: list[str]) -> None:
    known = ctx.categories()
    unknown = sorted(set(names) - set(known))
    if unknown:
        more = f" ... ({len(known)} in all)" if len(known) > 60 else ""
        raise ToolArgumentError(f"unknown categor(ies) {unknown}; valid categories: {', '.join(known[:60])}{more}")


def _date(value: str) -> str:
    return value[:10]


def _shares(weights: Mapping[str, float], n: int = 3) -> str:
    return ", ".join(f"{c} {percent(s)}" for c, s in list(weights.items())[:n]) or "no categories"


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
            text += f" {label}: " + ", ".join(share_change(c["category"], c["before"], c["after"]) for c in f[key][:4])
            text += "."
    return text


def _recommend(ctx: ToolContext, user: str, args: RecommendArgs) -> dict[str, Any]:
    _check_categories(ctx, args.categories)
    _check_categories(ctx, args.exclude_categories)
    recs = ctx.engine.recommend(
        user, args.k, categories=args.categories or None, exclude_categories=args.exclude_categories or None
    )
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
    return text + _render_conflicts(e.get("conflicts") or [])


def _render_conflicts(conflicts: list[dict[str, Any]]) -> str:
    if not conflicts:
        return ""
    return "\nStated vs observed:" + "".join(f"\n- {c['message']}" for c in conflicts)


def _preferences(ctx: ToolContext, user: str, args: PreferencesArgs) -> dict[str, Any]:
    return ctx.engine.preference_timeline(user, args.as_of).to_json()


def _statement_text(s: dict[str, Any]) -> str:
    what = {"more_like_item": "more like item {item_id}", "not_this_item": "not item {item_id}",
            "more_category": "more {category}", "no_more_category": "no more {category}"}[s["kind"]]  # fmt: skip
    text = f"{what.format(**s)}: said {_date(s['stated_at'])}"
    if s["valid_until"]:
        text += f", valid until {_date(s['valid_until'])}"
    if s["superseded_at"]:
        text += f", superseded {_date(s['superseded_at'])}"
    return text + ("" if not s["text"] else f' ("{s["text"]}")')


def _render_preferences(r: dict[str, Any]) -> str:
    if not r["statements"]:
        return f"The person has stated no preferences as of {_date(r['as_of'])}." + _render_conflicts(r["conflicts"])
    lines = [f"Stated preferences as of {_date(r['as_of'])}, oldest first:"]
    for label, status in (("In force", "in_force"), ("Superseded", "superseded"), ("Expired", "expired")):
        rows = [s for s in r["statements"] if s["status"] == status]
        lines += [f"{label}:", *(f"- {_statement_text(s)}" for s in rows)] if rows else []
    return "\n".join(lines) + _render_conflicts(r["conflicts"])


def _report(ctx: ToolContext, user: str, args: ReportArgs) -> dict[str, Any]:
    folder = ctx.report_dir or ctx.engine.root / REPORTS
    folder.mkdir(parents=True, exist_ok=True)
    files = ctx.engine.report(user, report_path(folder, user, args.format), args.format)
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
    return ctx.engine.add_feedback(
        user, args.kind, item_id=args.item_id, category=args.category, text=args.text, stated_at=args.stated_at,
        valid_until=args.valid_until, source=ctx.source,  # type: ignore[arg-type]
    )  # fmt: skip


def _render_feedback(r: dict[str, Any]) -> str:
    what = {"more_like_item": "more like item {item_id}", "not_this_item": "not item {item_id}",
            "more_category": "more {category}", "no_more_category": "no more {category}"}[r["kind"]]  # fmt: skip
    until = f" until {_date(r['valid_until'])}" if r.get("valid_until") else ""
    return f"Noted: {what.format(**r)}{until}. It applies from the next recommendation on."


def _forget(ctx: ToolContext, user: str, args: ForgetArgs) -> dict[str, Any]:
    if not args.confirm:
        raise ToolArgumentError("nothing deleted: set confirm=true only after the person explicitly asked")
    counts = ctx.engine.forget_user(user)  # also the reports under <store>/reports
    if ctx.report_dir is not None:  # reports this tool wrote elsewhere
        counts["reports"] = counts.get("reports", 0) + forget_reports(ctx.report_dir, user)
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
        _render_windows, output=list[Window]),
    Operation("interest_summaries", (
        "A short written summary of each time window of the person's history, oldest first. Use when you want "
        "a readable period-by-period account of what they were into."), LastArgs, _summaries, _render_summaries,
        output=list[WindowSummary]),
    Operation("interest_search_history", (
        "Find the periods of the person's past that match a topic, e.g. 'when was I into horror?' or 'my "
        "documentary phase'. Use when they ask about a period by subject rather than by date."), SearchArgs,
        _search, _render_search, output=list[WindowHit]),
    Operation("interest_history_as_of", (
        "What the person was into at a given date, and the trend leading up to it. Use when they ask about a "
        "specific time ('in March 2019', 'last summer'); convert it to an ISO date first."), AsOfArgs, _as_of,
        lambda r: str(r["narrative"]), output=HistoryAsOf),
    Operation("interest_forecast", (
        "Forecast the person's interests in their next period: category shares, which interests are rising and "
        "which are fading. Use when asked what they are likely to get into next."), NoArgs, _forecast,
        _render_forecast, output=Forecast),
    Operation("interest_recommend", (
        "Suggest items for the person's next period, each with a reason. Use when they ask for suggestions. "
        "What they said earlier (interest_feedback) is applied automatically while in force; pass categories or "
        "exclude_categories only to narrow this one request."), RecommendArgs, _recommend, _render_recommend,
        output=Recommendations),
    Operation("interest_explain_shift", (
        "Explain how and why the person's interests shifted over time, with evidence items, their stable core "
        "interests, the preferences they stated, and where what they said and what they did disagree (with a "
        "question to ask). Use when they ask how or why their tastes changed."),
        NoArgs, _explain, _render_explain, output=Explanation),
    Operation("interest_preferences", (
        "The timeline of what the person said they want more or less of: each statement with the date it was "
        "said, whether it is in force, superseded by a later one or expired, and where their behaviour since "
        "contradicts it (with the evidence and a question to ask). Use when you need to quote what they said and "
        "when, or before acting on an old statement; pass as_of for the timeline at a past date."), PreferencesArgs,
        _preferences, _render_preferences, output=PreferenceTimeline),
    Operation("interest_report", (
        "Write a shareable report file (charts of category shares with shifts, summaries, forecast, "
        "recommendations) and return its path. Use only when the person asks for a report or document; it "
        "is not needed to answer questions."), ReportArgs, _report,
        lambda r: "Wrote the report: " + ", ".join(r["files"]), output=ReportResult),
    Operation("interest_ingest_events", (
        "Record new things the person watched, read or rated, by catalog item id. Use when they tell you about "
        "them ('I just watched X and loved it'), so that their windows, summaries, search and forecast include "
        "them. For likes or dislikes about suggestions use interest_feedback instead."), IngestArgs, _ingest,
        _render_ingest, writes=True, output=IngestResult),
    Operation("interest_feedback", (
        "Record what the person wants more or less of. Use when they say so in the chat: 'more like this' "
        "(more_like_item + item_id), 'not this one' (not_this_item + item_id), 'more comedies' (more_category + "
        "category), 'no more horror' (no_more_category + category). It applies to the very next recommendation "
        "and shows in explanations as a stated preference. A later statement about the same item or category "
        "ends the earlier one (both stay on the timeline: interest_preferences). For 'no horror for a month' "
        f"pass valid_until. Kinds: {', '.join(FEEDBACK_KINDS)}."), FeedbackArgs, _feedback, _render_feedback,
        writes=True, output=FeedbackResult),
    Operation("interest_forget_user", (
        "Permanently delete everything stored about the person (events, windows, summaries, vectors, feedback, "
        "reports). Use only when the person explicitly asks to delete their data, with confirm=true. Cannot be "
        "undone."),
        ForgetArgs, _forget, _render_forget, writes=True, output=ForgetResult),
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
