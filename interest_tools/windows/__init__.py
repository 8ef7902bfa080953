"""Time windows of each user's history: calendar periods, fixed event counts or session gaps.

:func:`compute_windows` cuts every user's events at once into a :class:`WindowTable`; each :class:`Window`
carries its weighted category profile, top items, and the categories that are new or faded against the
previous window.
"""

from __future__ import annotations

from interest_tools.windows._compute import WindowConfig, compute_windows, user_windows
from interest_tools.windows._labels import (
    MONTHS,
    Period,
    month_name,
    percent,
    period_name,
    share_change,
    window_period,
)
from interest_tools.windows._table import Window, WindowTable

__all__ = [
    "MONTHS",
    "Period",
    "Window",
    "WindowConfig",
    "WindowTable",
    "compute_windows",
    "month_name",
    "percent",
    "period_name",
    "share_change",
    "user_windows",
    "window_period",
]
