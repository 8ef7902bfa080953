"""Frame a forecast in the cut a person reads: the next month (for monthly windows), against recent months.

The LSTM may read a finer cut than the summaries (one window per event by default). What a person asks is
"what comes next month?", so the answer names the next window of the stored cut, and rising / falling compare
the forecast shares with the user's last few windows of that cut, pooled by their events.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd

from interest_tools.forecast._types import CategoryShift, Forecast, NextWindow
from interest_tools.windows import Window, WindowConfig

_MONTHS = {"month": 1, "quarter": 3, "year": 12}


def next_window_end(start: datetime, config: WindowConfig, windows: list[Window]) -> datetime:
    """End of the window that starts at ``start``: one calendar period, else the median window length."""
    if config.freq == "week":
        return start + timedelta(days=7)
    if config.freq in _MONTHS:
        return (pd.Timestamp(start) + pd.DateOffset(months=_MONTHS[config.freq])).to_pydatetime()
    lengths = sorted(w.end - w.start for w in windows)
    return start + lengths[len(lengths) // 2]


def pooled_share(windows: list[Window]) -> dict[str, float]:
    """Category shares of ``windows`` pooled by their events."""
    total = sum(w.n_events for w in windows) or 1
    out: dict[str, float] = {}
    for w in windows:
        for cat, share in w.category_weights.items():
            out[cat] = out.get(cat, 0.0) + share * w.n_events / total
    return out


def frame_forecast(
    forecast: Forecast, windows: list[Window], config: WindowConfig, *, recent: int = 3, threshold: float = 0.02
) -> Forecast:
    """Return ``forecast`` with its next window and rising / falling categories in the cut of ``windows``.

    Args:
        forecast: The forecaster's answer (its category shares and interest vector are kept).
        windows: The user's windows of the stored cut, in time order (at least one).
        config: That cut.
        recent: How many of the last windows make the "before" share.
        threshold: Minimum share change to list a category as rising or falling. A category whose share of
            the last ``recent`` windows exceeds its share of the ``recent`` windows before them by at least this
            much is growing and is never listed as falling.
    """
    before = pooled_share(windows[-recent:])
    earlier = pooled_share(windows[-2 * recent : -recent]) if len(windows) > recent else {}
    # A category the user's own recent windows took up more of than the windows before them is growing: a
    # forecast below its recent share must not call it falling (a flat or weak forecast otherwise would).
    growing = {c for c, share in before.items() if earlier and share - earlier.get(c, 0.0) >= threshold}
    after = forecast.category_weights
    changes = [
        CategoryShift(category=c, before=round(before.get(c, 0.0), 4), after=round(after.get(c, 0.0), 4))
        for c in sorted(set(before) | set(after))
    ]
    rising = sorted((c for c in changes if c.after - c.before >= threshold), key=lambda c: c.before - c.after)
    falling = sorted(
        (c for c in changes if c.before - c.after >= threshold and c.category not in growing),
        key=lambda c: c.after - c.before,
    )
    start = windows[-1].end
    window = NextWindow(start=start, end=next_window_end(start, config, windows))
    return forecast.model_copy(update={"next_window": window, "rising": rising, "falling": falling})
