"""How windows are named and how shares are written, in one place for summaries, explanations, reports and adapters.

:func:`period_name` names a window's period from its bounds: ``March 2015``, ``Q1 2015``, ``2015``, ``the week of
2 March 2015``, or a range; ``short=True`` gives the compact form a table or chart label wants (``Mar 2015``,
``Q1 2015``, ``week of 2015-03-02``). :func:`percent` writes a share as a whole percentage.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

Period = Literal["week", "month", "quarter", "year", "window"]
MONTHS = (
    *("January", "February", "March", "April", "May", "June"),
    *("July", "August", "September", "October", "November", "December"),
)


def percent(share: float) -> str:
    """A share as a whole percentage: ``41%``; ``<1%`` for a share above 0 that rounds to 0; ``0%`` for 0."""
    whole = round(share * 100)
    return f"{whole}%" if whole > 0 or share <= 0 else "<1%"


def share_change(category: str, before: float, after: float) -> str:
    """A category's move between two shares: ``Drama 23% → 27%``."""
    return f"{category} {percent(before)} → {percent(after)}"


def month_name(d: datetime) -> str:
    """``March 2015``."""
    return f"{MONTHS[d.month - 1]} {d.year}"


def _day(d: datetime) -> str:
    return f"{d.day} {MONTHS[d.month - 1]} {d.year}"


def window_period(start: datetime, end: datetime) -> Period:
    """Recognise a calendar window (week from Monday, month, quarter, year) by its bounds; else ``"window"``."""
    midnight = start.hour == start.minute == start.second == start.microsecond == 0
    if not midnight:
        return "window"
    months = (end.year - start.year) * 12 + end.month - start.month
    if start.day == 1 and end.day == 1 and end.time() == start.time():
        if months == 1:
            return "month"
        if months == 3 and start.month % 3 == 1:
            return "quarter"
        if months == 12 and start.month == 1:
            return "year"
    if end - start == timedelta(days=7) and start.weekday() == 0:
        return "week"
    return "window"


def period_name(start: datetime, end: datetime, *, short: bool = False) -> str:
    """Name a window's period (``end`` is exclusive).

    Args:
        start: The window's first instant.
        end: The instant after it.
        short: Compact form for tables and charts (``Mar 2015``, ``week of 2015-03-02``, ISO dates for ranges).
    """
    kind = window_period(start, end)
    quarter = f"Q{(start.month - 1) // 3 + 1} {start.year}"
    if kind == "week":
        return f"week of {start:%Y-%m-%d}" if short else f"the week of {_day(start)}"
    if kind == "month":
        return f"{start:%b %Y}" if short else month_name(start)
    if kind == "quarter":
        return quarter
    if kind == "year":
        return str(start.year)
    last = end - timedelta(seconds=1) if end > start else start
    if short:
        a, b = f"{start:%Y-%m-%d}", f"{last:%Y-%m-%d}"
        return f"{a} {start:%H:%M}–{last:%H:%M}" if a == b else f"{a} – {b}"
    if last.date() == start.date():
        return _day(start)
    if (last.year, last.month) == (start.year, start.month):
        return f"{start.day} to {_day(last)}"
    if last.year == start.year:
        return f"{start.day} {MONTHS[start.month - 1]} to {_day(last)}"
    return f"{_day(start)} to {_day(last)}"
