"""Where each category stands for one user, and the reason given for a recommended item.

A reason says only what the user's explanation (``explain``) and forecast (``forecast``) say too:

* "X is rising" only when the forecast lists X as rising *and* the user's own windows moved toward X at their
  latest shift (``explain``: rising or new there);
* "you moved toward X in <month> (a → b)" when the latest shift lists X as rising and the forecast does not
  expect X to fall;
* "X is one of your steady interests" only for a category of the explanation's stable core that neither the
  latest shift nor the forecast sees falling;
* "you asked for X" when the person filtered on X or said "more X";
* otherwise X's share of the forecast, which is what the forecast says.

A category the user left at the latest shift is never called rising or steady. The "like T" evidence is the
item of the user's history most similar to the pick: cosine of the text vectors plus the overlap (Jaccard) of
the categories, so a comedy is matched with a comedy the user rated rather than with one hub item. A past item
that shares no category with the pick is evidence only when its text is close (cosine at least
``LIKE_MIN_COSINE``); otherwise the reason names no past item.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np

from interest_tools.windows import month_name, percent

if TYPE_CHECKING:
    from interest_tools.explain import CategoryChange, Shift, StableInterest
    from interest_tools.forecast import Forecast


@dataclass
class Standing:
    """What the user's explanation and forecast say about categories (empty: nothing is known)."""

    moved_to: dict[str, tuple[float, float]] = field(default_factory=dict)  # latest shift: rising (before, after)
    moved_from: dict[str, tuple[float, float]] = field(default_factory=dict)  # latest shift: falling/faded
    shift_start: datetime | None = None  # when the latest shift happened
    steady: dict[str, float] = field(default_factory=dict)  # stable core: pooled share of the history
    forecast_rising: set[str] = field(default_factory=set)
    forecast_falling: set[str] = field(default_factory=set)
    recent_fell: dict[str, tuple[float, float]] = field(default_factory=dict)  # last windows vs before: fell


def standing_of(
    forecast: Forecast,
    shifts: Sequence[Shift] = (),
    stable: Sequence[StableInterest] = (),
    recent: Mapping[str, Sequence[CategoryChange]] | None = None,
) -> Standing:
    """Combine the forecast with the explanation's shifts (any order), stable core and recent trend."""
    recent = recent or {}
    out = Standing(
        steady={s.category: s.share for s in stable},
        recent_fell={c.category: (c.before, c.after) for c in [*recent.get("faded", []), *recent.get("falling", [])]},
        forecast_rising={c.category for c in forecast.rising},
        forecast_falling={c.category for c in forecast.falling},
    )
    if shifts:
        latest = max(shifts, key=lambda s: s.after.start)
        out.shift_start = latest.after.start
        out.moved_to = {c.category: (c.before, c.after) for c in latest.rising}
        out.moved_from = {c.category: (c.before, c.after) for c in [*latest.faded, *latest.falling]}
    return out


def ranking_weights(weights: Mapping[str, float], standing: Standing) -> dict[str, float]:
    """Category weights for re-ranking: the forecast's, held to the latest shift's direction.

    A category the user left weighs at most its share after the shift; one they moved to at least its share
    after the shift (the level they have kept since, even when the forecast expects less than their last few
    windows). When the forecast already follows the shift this changes nothing.
    """
    out = dict(weights)
    for cat, (_, after) in standing.moved_from.items():
        out[cat] = min(out.get(cat, 0.0), after)
    for cat, (_, after) in standing.moved_to.items():
        out[cat] = max(out.get(cat, 0.0), after)
    return out


def left_fraction(item_cats: Sequence[str], standing: Standing) -> float:
    """How much of the item's interest the user left at the latest shift, in [0, 1].

    A category that fell from ``b`` to ``a`` was left by ``1 - a / b``; an item counts by its least-left category
    (an item that is also of a kept or new category is not left at all). Without a shift, a fall of the last
    windows (``recent_fell``: too recent for the shift test, the same share rules) counts instead.
    """
    if not item_cats:
        return 0.0
    left = standing.moved_from if standing.shift_start is not None else standing.recent_fell
    fractions = []
    for cat in item_cats:
        before, after = left.get(cat, (0.0, 0.0))
        fractions.append(max(0.0, 1.0 - after / before) if before > 0 else 0.0)
    return min(fractions)


def category_reason(
    item_cats: Sequence[str],
    standing: Standing,
    weights: Mapping[str, float],
    asked: Collection[str],
) -> str:
    """The part of a reason that names the item's category and what is true of it for this user."""
    asked_for = [c for c in item_cats if c in asked]
    if asked_for:
        return f"you asked for {asked_for[0]}"
    moved = [c for c in item_cats if c in standing.moved_to and c not in standing.forecast_falling]
    rising = [c for c in moved if c in standing.forecast_rising]
    if rising:
        return f"{rising[0]} is rising in your recent windows and in the forecast"
    if moved and standing.shift_start is not None:
        before, after = standing.moved_to[moved[0]]
        when = month_name(standing.shift_start)
        return f"you moved toward {moved[0]} in {when} ({percent(before)} → {percent(after)})"
    left = standing.moved_from.keys() | standing.forecast_falling
    steady = [c for c in item_cats if c in standing.steady and c not in left]
    if steady:
        return f"{steady[0]} is one of your steady interests ({percent(standing.steady[steady[0]])} of your history)"
    fit = sorted(((weights.get(c, 0.0), c) for c in item_cats), reverse=True)
    if fit and fit[0][0] > 0:
        return f"{fit[0][1]} is {percent(fit[0][0])} of your forecast interests"
    return ""


LIKE_MIN_COSINE = 0.5  # a past item of other categories must be at least this close in text to be named


def most_similar_past(
    item_cats: Sequence[str],
    item_vec: np.ndarray | None,
    hist_cats: Sequence[Collection[str]],
    hist_vecs: np.ndarray | None,
) -> int | None:
    """Position of the history item most like the pick (text cosine plus category Jaccard), or None.

    None without history, or when the best item shares no category and its cosine is below ``LIKE_MIN_COSINE``.
    """
    if not hist_cats:
        return None
    cats = set(item_cats)
    jaccard = np.array([len(cats & set(h)) / (len(cats | set(h)) or 1) for h in hist_cats], dtype=float)
    cosine = np.zeros(len(hist_cats))
    if item_vec is not None and hist_vecs is not None and len(hist_vecs) == len(hist_cats):
        norms = np.linalg.norm(hist_vecs, axis=1) * (np.linalg.norm(item_vec) or 1.0)
        cosine = np.divide(hist_vecs @ item_vec, norms, out=np.zeros(len(hist_cats)), where=norms > 0)
    best = int(np.argmax(jaccard + cosine))
    return best if jaccard[best] > 0 or cosine[best] >= LIKE_MIN_COSINE else None
