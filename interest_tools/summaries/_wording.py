"""How the summary stage words periods and windows in English, and the template summary of a window.

:func:`period_intro` and :func:`period_this` word a window's period in a sentence (names come from
:func:`interest_tools.windows.period_name`); :func:`template_text` writes the deterministic summary from the
window's own numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Protocol

from interest_tools.data import UNKNOWN_CATEGORY
from interest_tools.summaries._grounding import display_title, sanitize_text
from interest_tools.windows import Window, percent, period_name, window_period


def period_intro(start: datetime, end: datetime) -> str:
    """Open a sentence about a window: ``In March 2015``, ``In Q1 2015``, ``Between 2 and 9 March 2015``."""
    kind = window_period(start, end)
    if kind != "window":
        return f"In {period_name(start, end)}"
    name = period_name(start, end)
    if " to " not in name:
        return f"On {name}"
    return "Between " + name.replace(" to ", " and ", 1)


def period_this(start: datetime, end: datetime) -> str:
    """Refer to a window from inside it: ``this month``, ``this week``, ... or ``in this window``."""
    kind = window_period(start, end)
    return "in this window" if kind == "window" else f"this {kind}"


class WordingOptions(Protocol):
    """The template's wording options (``SummaryConfig`` has them)."""

    @property
    def noun(self) -> str:
        """Plural noun."""
        ...

    @property
    def singular(self) -> str:
        """Singular noun."""
        ...

    @property
    def max_categories(self) -> int:
        """Categories named at most."""
        ...

    @property
    def min_category_share(self) -> float:
        """Share needed to be named after the first category."""
        ...

    @property
    def max_new_categories(self) -> int:
        """New categories named at most."""
        ...

    @property
    def max_field_chars(self) -> int:
        """Cap per displayed title or name."""
        ...


def _join(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _number(value: float) -> str:
    r = round(value, 2)
    return f"{r:.1f}" if round(r, 1) == r else f"{r:.2f}"


def template_text(
    window: Window,
    titles: Mapping[str, str],
    item_ratings: Mapping[str, float] | None,
    *,
    first: bool,
    config: WordingOptions,
) -> tuple[str, list[str], list[str]]:
    """Write the template summary of a window; return (text, categories named, item ids named)."""
    cfg = config

    def show(text: str) -> str:
        return sanitize_text(text, cfg.max_field_chars, escape_markup=False)

    def title(item: str) -> str:
        return show(display_title(titles[item])) if item in titles else show(item)

    n = len(window.item_ids)
    verb = "rated" if window.mean_rating is not None else "interacted with"
    text = f"{period_intro(window.start, window.end)} you {verb} {n} {cfg.noun if n != 1 else cfg.singular}"
    shares = [(c, s) for c, s in window.category_weights.items() if c != UNKNOWN_CATEGORY]
    named = [c for i, (c, s) in enumerate(shares[: cfg.max_categories]) if i == 0 or s >= cfg.min_category_share]
    if len(shares) == 1 and shares[0][1] >= 0.995:
        text += f", all {show(named[0])}"
    elif named:
        share = dict(shares)
        text += ", mostly " + _join([f"{show(c)} ({percent(share[c])})" for c in named])
    sentences = [text + "."]
    new = [c for c in window.new_categories if c != UNKNOWN_CATEGORY]
    if not first and new:
        shown = new[: cfg.max_new_categories]
        more = [f"{len(new) - len(shown)} more"] if len(new) > len(shown) else []
        sentences.append(f"New {period_this(window.start, window.end)}: {_join([show(c) for c in shown] + more)}.")
        named += shown
    item_ids: list[str] = []
    rated = [(i, float(item_ratings[i])) for i in window.item_ids if item_ratings and i in item_ratings]
    if rated:
        best, rating = max(rated, key=lambda p: p[1])  # ties: the first in window order (weight, then id)
        sentences.append(f"Highest rated: {title(best)}, {_number(rating)}.")
        item_ids = [best]
    elif window.top_items:
        top = window.top_items[0]
        sentences.append(f"Top {cfg.singular}: {title(top)}.")
        item_ids = [top]
    return " ".join(sentences), [c for c in window.category_weights if c in set(named)], item_ids
