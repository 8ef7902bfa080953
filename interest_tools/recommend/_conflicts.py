"""Stated against observed: where what a person said and what they did disagree, with evidence and a question.

Two directions:

- **Behaviour against a statement** (``kind="behaviour_against_statement"``): a statement in force whose
  period (from ``stated_at`` until the time asked about) holds events that contradict it. ``no_more_category``
  C: events on items in C; ``not_this_item`` X: events on X; ``more_category`` C: events, none of them in C.
  A category statement needs at least ``min_events`` such events (3), an item statement one.
  ``more_like_item`` has no contradicting behaviour of its own and is never reported.
- **A shift no statement covers** (``kind="unstated_shift"``): the latest observed shift (from
  :func:`interest_tools.explain.explain_user`) whose main rising or falling categories no statement covers (a
  statement about the category still in force at, or made after, the start of the shift covers it).

Each conflict carries the statement (or None), the evidence item ids with their event dates, a message an
agent can quote and the question it should ask ("should I lift it?").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from interest_tools.data import Catalog
from interest_tools.explain import Shift
from interest_tools.recommend._timeline import Statement, timeline

__all__ = [
    "MIN_EVENTS",
    "Conflict",
    "PreferenceTimeline",
    "conflict_json",
    "preference_timeline",
    "shift_conflicts",
    "statement_conflicts",
]

#: Fewest contradicting events before a category statement is reported as contradicted.
MIN_EVENTS = 3
_MAX_EVIDENCE = 10


class Conflict(BaseModel):
    """One disagreement between the stated and the observed (the ``conflicts`` entries of the JSON)."""

    kind: Literal["behaviour_against_statement", "unstated_shift"] = Field(description="Which direction.")
    statement: Statement | None = Field(description="The statement contradicted (None for an unstated shift).")
    event_item_ids: list[str] = Field(description="Items of the evidence events, oldest first.")
    event_dates: list[str] = Field(description="ISO dates of those events, in the same order.")
    message: str = Field(description="What happened, with dates, for the agent to quote.")
    question: str = Field(description="The question the agent should ask the person.")


class PreferenceTimeline(BaseModel):
    """The JSON of ``interest-tools preferences USER --json`` and of the ``interest_preferences`` tool."""

    user_id: str = Field(description="The user.")
    as_of: datetime = Field(description="The instant the timeline is seen from (UTC; now by default).")
    statements: list[Statement] = Field(description="Every statement made by then, oldest first.")
    conflicts: list[Conflict] = Field(description="Where what they said and what they did disagree.")

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form."""
        return self.model_dump(mode="json")


def _day(t: datetime | pd.Timestamp) -> str:
    return t.date().isoformat()


def _items_phrase(ids: Sequence[str], titles: Mapping[str, str], n: int = 3) -> str:
    names = [titles.get(i, i) for i in dict.fromkeys(ids)]
    return ", ".join(names[:n]) + (f" and {len(names) - n} more" if len(names) > n else "")


def statement_conflicts(
    statements: Sequence[Statement],
    events: pd.DataFrame,
    cats_of: Mapping[str, Sequence[str]],
    titles: Mapping[str, str],
    at: datetime,
    min_events: int = MIN_EVENTS,
) -> list[Conflict]:
    """Statements in force at ``at`` that the person's behaviour since contradicts.

    Args:
        statements: The user's timeline at ``at`` (:func:`interest_tools.recommend._timeline.timeline`).
        events: The user's canonical events (``item_id``, ``timestamp``, ``rating``).
        cats_of: Item id to categories.
        titles: Item id to title.
        at: The instant asked about (UTC); events after it are not evidence.
        min_events: Fewest contradicting events for a category statement.
    """
    if events.empty:
        return []
    times = pd.DatetimeIndex(events["timestamp"])
    ids = events["item_id"].astype(str).to_numpy()
    ratings = pd.to_numeric(events["rating"], errors="coerce").to_numpy(dtype=float) if "rating" in events else None
    out: list[Conflict] = []
    for s in statements:
        if not s.in_force or s.kind == "more_like_item":
            continue
        since = (times >= pd.Timestamp(s.stated_at)) & (times <= pd.Timestamp(at))
        in_cat = np.array([s.category in cats_of.get(i, ()) for i in ids], dtype=bool)
        if s.kind == "no_more_category":
            against, need = since & in_cat, min_events
        elif s.kind == "not_this_item":
            against, need = since & (ids == s.item_id), 1
        else:  # more_category: they kept going, but not to C
            against = since if not (since & in_cat).any() else np.zeros(len(ids), dtype=bool)
            need = min_events
        rows = np.flatnonzero(against)
        if len(rows) < need:
            continue
        rows = rows[np.argsort(times[rows].asi8, kind="stable")]
        ev_ids = [str(ids[r]) for r in rows.tolist()]
        dates = [_day(times[r]) for r in rows.tolist()]
        said, what = _day(s.stated_at), s.describe(titles)
        span = dates[0] if dates[0] == dates[-1] else f"{dates[0]} to {dates[-1]}"
        events_n = f"{len(rows)} event" + "s" * (len(rows) != 1)
        if s.kind == "more_category":
            did = f"{events_n}, none of them in {s.category} ({span})"
        else:
            target = s.category if s.kind == "no_more_category" else titles.get(s.item_id or "", s.item_id)
            did = f"{events_n} on {target} ({span}: {_items_phrase(ev_ids, titles)})"
        rated = ratings[rows][~np.isnan(ratings[rows])] if ratings is not None else np.array([])
        if len(rated):
            did += f"; {len(rated)} rated, {rated.mean():.1f} on average"
        question = (
            f"You asked for more {s.category} on {said} but have not picked any since. Should I keep boosting it?"
            if s.kind == "more_category"
            else f"You said '{what}' on {said}, but you have gone back to it since. Should I lift it?"
        )
        out.append(
            Conflict(
                kind="behaviour_against_statement",
                statement=s,
                event_item_ids=ev_ids[:_MAX_EVIDENCE],
                event_dates=dates[:_MAX_EVIDENCE],
                question=question,
                message=f'They said "{what}" on {said} (still in force); since then they had {did}. Ask: "{question}"',
            )
        )
    return out


def shift_conflicts(
    shifts: Sequence[Shift], statements: Sequence[Statement], events: pd.DataFrame, at: datetime, n: int = 2
) -> list[Conflict]:
    """The latest shift, when no statement covers its main rising or falling categories (at most one conflict).

    Args:
        shifts: Observed shifts (any order).
        statements: The user's timeline at ``at``.
        events: The user's canonical events (for the evidence dates).
        at: The instant asked about (UTC).
        n: Rising (new first) and falling (faded first) categories looked at.
    """
    if not shifts:
        return []
    shift = max(shifts, key=lambda sh: sh.after.start)
    start = shift.after.start

    def covered(category: str) -> bool:
        return any(s.category == category and ((end := s.ends()) is None or end > start) for s in statements)

    ups = [c for c in dict.fromkeys(c.category for c in [*shift.new, *shift.rising]) if not covered(c)][:n]
    downs = [c for c in dict.fromkeys(c.category for c in [*shift.faded, *shift.falling]) if not covered(c)][:n]
    if not ups and not downs:
        return []
    share = {c.category: c for c in [*shift.new, *shift.rising, *shift.faded, *shift.falling]}
    moved = [f"toward {c} ({share[c].before:.0%} to {share[c].after:.0%})" for c in ups]
    moved += [f"away from {c} ({share[c].before:.0%} to {share[c].after:.0%})" for c in downs]
    last_seen: dict[str, str] = {}
    if not events.empty:
        upto = events[pd.DatetimeIndex(events["timestamp"]) <= pd.Timestamp(at)]
        for item, when in zip(upto["item_id"].astype(str), upto["timestamp"], strict=True):
            last_seen[item] = _day(when)
    ev_ids = sorted((i for i in shift.evidence_item_ids if i in last_seen), key=lambda i: last_seen[i])[:_MAX_EVIDENCE]
    question = (
        f"You seem to be into {' and '.join(ups)} lately. Would you like more of it?"
        if ups
        else f"You seem to have moved away from {' and '.join(downs)}. Should I show less of it?"
    )
    message = (
        f"Since {_day(start)} their interests moved {' and '.join(moved)}, and no statement of theirs covers it. "
        f'Ask: "{question}"'
    )
    return [
        Conflict(
            kind="unstated_shift",
            statement=None,
            event_item_ids=ev_ids,
            event_dates=[last_seen[i] for i in ev_ids],
            message=message,
            question=question,
        )
    ]


def preference_timeline(
    user_id: str,
    records: Sequence[Mapping[str, Any]],
    at: datetime,
    events: pd.DataFrame,
    catalog: Catalog,
    shifts: Sequence[Shift] = (),
) -> PreferenceTimeline:
    """The user's timeline at ``at`` with the conflicts then, in both directions.

    Args:
        user_id: The user.
        records: The user's feedback records (file order).
        at: The instant the timeline is seen from (UTC).
        events: The user's canonical events.
        catalog: Item id to categories and to title (``Catalog.of(items)``).
        shifts: The user's observed shifts in the history up to ``at``.
    """
    statements = timeline(records, at)
    cats_of, titles = catalog.categories, catalog.titles
    conflicts = [
        *statement_conflicts(statements, events, cats_of, titles, at),
        *shift_conflicts(shifts, statements, events, at),
    ]
    return PreferenceTimeline(user_id=user_id, as_of=at, statements=statements, conflicts=conflicts)


def conflict_json(conflicts: Sequence[Conflict]) -> list[dict[str, Any]]:
    """The JSON form of conflicts (``statement`` as in the timeline)."""
    return [c.model_dump(mode="json") for c in conflicts]
