"""Explain a user's history: when and how their interests shifted, their stable core, and a narrative.

:func:`explain_user` runs :func:`interest_tools.explain._shifts.detect_shifts` (see there for the method), adds the
stable core interests and writes a plain-English narrative. The narrative comes from a template (offline), or
from any LangChain-style chat model (anything with ``invoke(prompt) -> message.content``) under the same
grounding rule as window summaries: it may name only the categories, items and dates of the facts. An LLM text
that breaks the rule, fails, or is empty is replaced by the template, and ``narrative_note`` says why (the
narrative is written by :mod:`interest_tools.explain._narrative`).

:func:`history_as_of` answers "what was I into at that date?": the window covering the date (or the latest one
before it, flagged) and the trend over the windows up to it.

JSON of ``interest-tools explain USER --json`` (``Explanation.model_dump(mode="json")``)::

    {"user_id": "1",
     "shifts": [{"before": {"start": ISO, "end": ISO}, "after": {"start": ISO, "end": ISO},
                 "rising": [{"category", "before", "after"}], "falling": [...], "new": [...], "faded": [...],
                 "magnitude": 0.42, "evidence_item_ids": ["296", ...]}],      # largest magnitude first
     "stable": [{"category", "share", "coverage"}],
     "narrative": "...", "stated_preferences": [], "conflicts": []}

``before``/``after`` are the pooled segments on either side of the shift (between neighbouring shifts or the
ends of the history): start of the first window, exclusive end of the last; the shift is at ``after.start``.
``new``/``faded`` use the same ``{category, before, after}`` shape as ``rising``/``falling``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, Field

from interest_tools.data import Catalog
from interest_tools.errors import DataValidationError, DateRangeError
from interest_tools.explain._change_points import profile_of
from interest_tools.explain._models import CategoryChange, ExplainConfig, Shift, Span, StableInterest
from interest_tools.explain._narrative import llm_narrative, template_narrative
from interest_tools.explain._shifts import category_changes, detect_shifts, stable_core
from interest_tools.summaries import display_title
from interest_tools.windows import Window, percent, share_change

__all__ = [
    "Explanation",
    "HistoryAsOf",
    "explain_user",
    "history_as_of",
]


class Explanation(BaseModel):
    """Shifts, stable core and narrative of one user's history."""

    user_id: str = Field(description="The user explained.")
    shifts: list[Shift] = Field(default_factory=list, description="Shifts of interest, largest magnitude first.")
    stable: list[StableInterest] = Field(default_factory=list, description="Stable core interests.")
    narrative: str = Field(default="", description="Plain-English account built only from the facts above.")
    stated_preferences: list[str] = Field(default_factory=list, description="What the user said (engine).")
    conflicts: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Where what the user said and what they did disagree, with evidence and a question (engine).",
    )
    narrative_source: Literal["template", "llm"] = Field(default="template", exclude=True, description="Writer.")
    narrative_note: str = Field(default="", exclude=True, description="Why an LLM narrative was replaced.")
    titles: dict[str, str] = Field(default_factory=dict, exclude=True, description="Evidence item id -> title.")
    history: Span | None = Field(default=None, exclude=True, description="First window start, last window end.")
    n_windows: int = Field(default=0, exclude=True, description="Windows in the history.")
    n_events: int = Field(default=0, exclude=True, description="Events in the history.")

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form of ``interest-tools explain --json``."""
        return self.model_dump(mode="json")


class ShareEntry(BaseModel):
    """A category and its share."""

    category: str = Field(description="Category name.")
    share: float = Field(description="Share in [0, 1].")


class ItemRef(BaseModel):
    """An item and its title."""

    item_id: str = Field(description="Item id.")
    title: str = Field(description="Catalog title (the id when the item is not in the catalog).")


class WindowView(BaseModel):
    """One window, as shown by ``history --as-of``."""

    start: datetime = Field(description="Inclusive start (UTC).")
    end: datetime = Field(description="Exclusive end (UTC).")
    n_events: int = Field(description="Events in the window.")
    categories: list[ShareEntry] = Field(description="Category shares, largest first.")
    top_items: list[ItemRef] = Field(description="Top items by weight.")


class HistoryAsOf(BaseModel):
    """What a user was into at a date, and the trend up to it."""

    user_id: str = Field(description="The user.")
    as_of: datetime = Field(description="The date asked about (UTC).")
    covered: bool = Field(description="True: a window contains the date. False: `window` is the latest before.")
    window: WindowView = Field(description="The window at (or latest before) the date.")
    trend: list[WindowView] = Field(description="Up to trend_windows windows ending with `window`, oldest first.")
    rising: list[CategoryChange] = Field(description="`window` vs the pooled earlier trend windows: rose.")
    falling: list[CategoryChange] = Field(description="`window` vs the pooled earlier trend windows: fell.")
    narrative: str = Field(description="Plain-English answer built from the fields above.")
    stated_preferences: list[dict[str, Any]] = Field(
        default_factory=list, description="The statements in force at the date, as in the timeline (engine)."
    )

    @property
    def text(self) -> str:
        """The narrative (what the CLI prints)."""
        return self.narrative


def _check_windows(windows: Sequence[Window]) -> list[Window]:
    if not windows:
        raise DataValidationError(
            "no windows to explain", source="<windows>", fix="pass the user's windows (WindowTable.for_user)"
        )
    users = {w.user_id for w in windows}
    if len(users) > 1:
        raise DataValidationError(
            f"windows of {len(users)} users ({', '.join(sorted(users)[:5])}) given together",
            source="<windows>",
            fix="explain one user at a time",
        )
    return sorted(windows, key=lambda w: w.start)


def explain_user(
    windows: Sequence[Window],
    items: pd.DataFrame | Catalog,
    config: ExplainConfig | None = None,
    chat_model: Any = None,
) -> Explanation:
    """Explain one user's history: shifts (largest first), stable core and a grounded narrative.

    Args:
        windows: The user's windows (one user, any order).
        items: Canonical items frame (titles, categories) or a prepared :class:`Catalog`.
        config: Detection and description rules; defaults when None.
        chat_model: Optional LangChain-style chat model for the narrative (template when None or rejected).

    Raises:
        DataValidationError: No windows, or windows of several users.
    """
    cfg = config or ExplainConfig()
    wins = _check_windows(windows)
    catalog = Catalog.of(items, (i for w in wins for i in w.item_ids))
    shifts = detect_shifts(wins, cfg, catalog.categories)
    stable = stable_core(profile_of(wins), [s.boundary for s in shifts], cfg)
    evidence = {i for s in shifts for i in s.evidence_item_ids}
    result = Explanation(
        user_id=wins[0].user_id,
        shifts=shifts,
        stable=stable,
        titles={i: catalog.titles.get(i, i) for i in sorted(evidence)},
        history=Span(start=wins[0].start, end=wins[-1].end),
        n_windows=len(wins),
        n_events=sum(w.n_events for w in wins),
    )
    result.narrative = template_narrative(result, result.titles)
    if chat_model is not None:
        full = Catalog.of(items)  # every title and category of the catalog, to catch names from outside the facts
        all_titles = full.titles.values()
        all_cats = {c for cs in full.categories.values() for c in cs} | {c for w in wins for c in w.category_weights}
        text, note = llm_narrative(result, chat_model, all_categories=sorted(all_cats), all_titles=list(all_titles))
        if text:
            result.narrative, result.narrative_source = text, "llm"
        result.narrative_note = note
    return result


# ------------------------------------------------------------------------------------------- as of


def _as_instant(as_of: date | datetime | str) -> datetime:
    if isinstance(as_of, str):
        try:
            as_of = datetime.fromisoformat(as_of)
        except ValueError as exc:
            raise DateRangeError(f"cannot read the date '{as_of}'; use ISO 8601 such as 2015-03-31") from exc
    if not isinstance(as_of, datetime):
        as_of = datetime(as_of.year, as_of.month, as_of.day)
    return as_of if as_of.tzinfo else as_of.replace(tzinfo=UTC)


def _view(w: Window, titles: dict[str, str], top: int = 5) -> WindowView:
    return WindowView(
        start=w.start,
        end=w.end,
        n_events=w.n_events,
        categories=[ShareEntry(category=c, share=round(v, 4)) for c, v in w.category_weights.items()],
        top_items=[ItemRef(item_id=i, title=titles.get(i, i)) for i in w.top_items[:top]],
    )


def history_as_of(
    windows: Sequence[Window],
    as_of: date | datetime | str,
    items: pd.DataFrame | Catalog,
    config: ExplainConfig | None = None,
) -> HistoryAsOf:
    """What the user was into at ``as_of``: the window covering it, and the trend up to it.

    A date (or a naive datetime) is read as midnight UTC. When no window covers the instant (no activity
    then), the latest window before it is shown with ``covered=False``.

    Raises:
        DateRangeError: ``as_of`` is before the user's first window or at/after the end of the last one; the
            message gives the valid range.
        DataValidationError: No windows, or windows of several users.
    """
    cfg = config or ExplainConfig()
    wins = _check_windows(windows)
    t = _as_instant(as_of)
    first, last = wins[0].start, wins[-1].end
    if not first <= t < last:
        when = "before the start" if t < first else "after the end"
        raise DateRangeError(
            f"{t.date().isoformat()} is {when} of user {wins[0].user_id}'s history: valid dates are "
            f"{first.date().isoformat()} to {(last - timedelta(microseconds=1)).date().isoformat()}"
        )
    covering = [i for i, w in enumerate(wins) if w.start <= t < w.end]
    pos = covering[-1] if covering else max(i for i, w in enumerate(wins) if w.end <= t)
    trend_wins = wins[max(0, pos - cfg.trend_windows + 1) : pos + 1]
    catalog = Catalog.of(items, (i for w in trend_wins for i in w.top_items[:5]))
    prof = profile_of(trend_wins)
    changes: dict[str, list[CategoryChange]] = {"rising": [], "falling": []}
    if len(trend_wins) > 1:
        changes = category_changes(prof.categories, prof.pooled(0, len(trend_wins) - 1), prof.shares[-1], cfg)
    w = wins[pos]
    view = _view(w, catalog.titles)
    result = HistoryAsOf(
        user_id=w.user_id,
        as_of=t,
        covered=bool(covering),
        window=view,
        trend=[_view(x, catalog.titles) for x in trend_wins],
        rising=changes["rising"],
        falling=changes["falling"],
        narrative="",
    )
    result.narrative = _as_of_narrative(result)
    return result


def _as_of_narrative(h: HistoryAsOf) -> str:
    w = h.window
    cats = ", ".join(f"{c.category} {percent(c.share)}" for c in w.categories[:4])
    lead = (
        f"On {h.as_of.date().isoformat()} user {h.user_id} was in the window "
        if h.covered
        else f"User {h.user_id} had no activity on {h.as_of.date().isoformat()}; the latest window before it is "
    )
    span = f"{w.start.date().isoformat()} to {(w.end - timedelta(microseconds=1)).date().isoformat()}"
    parts = [f"{lead}{span} ({w.n_events} events): {cats}"]
    if w.top_items:
        parts.append("Top items: " + ", ".join(f'"{display_title(i.title)}"' for i in w.top_items[:3]))
    if len(h.trend) > 1:
        ups = ", ".join(share_change(c.category, c.before, c.after) for c in h.rising) or "nothing"
        downs = ", ".join(share_change(c.category, c.before, c.after) for c in h.falling) or "nothing"
        parts.append(f"Compared with the {len(h.trend) - 1} window(s) before it, rising: {ups}; falling: {downs}")
    return ". ".join(parts) + "."
