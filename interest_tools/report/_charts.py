r"""Charts of the report, drawn with matplotlib's Agg backend into PNG bytes (no display, no files).

* :func:`share_chart`: one stacked bar per window (placed at its dates) of the top categories plus "other",
  the forecast next window as a hatched bar, and the shifts as dashed lines labelled at the top.
* :func:`forecast_chart`: horizontal bars of the forecast category shares, with the recent share of rising
  and falling categories marked.
* :func:`report_charts`: both, from a user's windows, shift dates and forecast. Beyond ``MAX_BARS`` windows the
  share chart pools them into quarters (or years), so a long history stays readable.

Colours come from :func:`category_colors`, so one category has the same colour in every chart and table; every
category a shift names gets its own colour (never "other"). The catalog's ``unknown`` category (items without
a category) is left out of the forecast chart.
Every text is plain (mathtext off, :data:`PLAIN_TEXT`): a category such as ``$10-$20`` or ``$\undefinedcmd$`` is drawn
as written rather than parsed as TeX, which would garble it or fail the whole report.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.dates as mdates
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import PercentFormatter

from interest_tools.data import UNKNOWN_CATEGORY

if TYPE_CHECKING:
    from interest_tools.forecast import Forecast
    from interest_tools.windows import Window

#: rcParams the charts are drawn under: data such as category names is text, never TeX math.
PLAIN_TEXT: dict[Any, Any] = {"text.parse_math": False, "text.usetex": False}
OTHER = "other"
OTHER_COLOR = "#c8ccd2"
MAX_BARS = 40  # more windows than this are pooled into quarters (or years) in the share chart
MAX_POOLED = 60  # quarters when there are at most this many, else years
# fmt: off
_PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f",
            "#d37295", "#499894", "#a0cbe8", "#8cd17d", "#b6992d", "#79706e", "#fabfd2", "#86bcb6", "#bab0ac"]
# fmt: on


@dataclass
class Bar:
    """One stacked bar: a time span and its category shares (summing to about 1)."""

    start: datetime
    end: datetime
    shares: Mapping[str, float]


@dataclass
class Marker:
    """A shift marked on the time axis."""

    at: datetime
    label: str


def top_categories(bars: Sequence[Bar], weights: Sequence[float], limit: int) -> list[str]:
    """Return the ``limit`` categories with the largest weighted share over the bars (ties by name)."""
    total: dict[str, float] = {}
    for bar, w in zip(bars, weights, strict=True):
        for cat, share in bar.shares.items():
            total[cat] = total.get(cat, 0.0) + share * w
    ranked = sorted(total.items(), key=lambda kv: (-kv[1], kv[0]))
    return [cat for cat, value in ranked[:limit] if value > 0]


def category_colors(categories: Sequence[str]) -> dict[str, str]:
    """Map categories (in order) to palette colours; ``other`` is grey."""
    colors = {cat: _PALETTE[i % len(_PALETTE)] for i, cat in enumerate(c for c in categories if c != OTHER)}
    colors[OTHER] = OTHER_COLOR
    return colors


def _png(fig: Figure, dpi: int) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", facecolor="white")
    return buf.getvalue()


def _bar_geometry(bars: Sequence[Bar], extra: Sequence[Bar]) -> tuple[list[float], list[float]]:
    """Left edges and widths (matplotlib date numbers) with a small gap; tiny windows stay visible."""
    every = [*bars, *extra]
    lo = mdates.date2num(min(b.start for b in every))
    hi = mdates.date2num(max(b.end for b in every))
    min_width = max(hi - lo, 1.0) / 250
    lefts, widths = [], []
    for bar in every:
        left, right = mdates.date2num(bar.start), mdates.date2num(bar.end)
        width = max((right - left) * 0.88, min_width)
        lefts.append(left + ((right - left) - width) / 2)
        widths.append(width)
    return lefts, widths


@matplotlib.rc_context(PLAIN_TEXT)
def share_chart(
    bars: Sequence[Bar],
    categories: Sequence[str],
    colors: Mapping[str, str],
    *,
    markers: Sequence[Marker] = (),
    forecast: Bar | None = None,
    size: tuple[float, float] = (10.0, 4.0),
    dpi: int = 100,
) -> bytes:
    """Draw category shares over time as stacked bars and return PNG bytes.

    Args:
        bars: One bar per window, in time order.
        categories: Categories drawn in their own colour (bottom first); the rest are summed into ``other``.
        colors: Colour per category (see :func:`category_colors`).
        markers: Shifts, drawn as dashed vertical lines labelled above the plot.
        forecast: The forecast next window, drawn hatched and lighter; None leaves it out.
        size: Figure size in inches.
        dpi: Resolution.
    """
    fig = Figure(figsize=size)
    ax = fig.add_subplot()
    extra = [forecast] if forecast is not None else []
    lefts, widths = _bar_geometry(bars, extra)
    stack = [*categories, OTHER]
    bottoms = [0.0] * len(lefts)
    for cat in stack:
        heights = []
        for bar in [*bars, *extra]:
            if cat == OTHER:
                heights.append(max(0.0, 1.0 - sum(bar.shares.get(c, 0.0) for c in categories)))
            else:
                heights.append(bar.shares.get(cat, 0.0))
        if not any(h > 0 for h in heights):
            continue
        n = len(bars)
        ax.bar(
            lefts[:n],
            heights[:n],
            widths[:n],
            bottom=bottoms[:n],
            align="edge",
            color=colors[cat],
            edgecolor="white",
            linewidth=0.3,
        )
        if extra:
            ax.bar(
                lefts[n:],
                heights[n:],
                widths[n:],
                bottom=bottoms[n:],
                align="edge",
                color=colors[cat],
                alpha=0.55,
                hatch="///",
                edgecolor="white",
                linewidth=0.3,
            )
        bottoms = [b + h for b, h in zip(bottoms, heights, strict=True)]
    if forecast is not None:
        mid = lefts[-1] + widths[-1] / 2
        ax.annotate(
            "forecast",
            (mid, 1.0),
            xytext=(0, 3),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=8,
            color="#555555",
        )
    span = lefts[-1] + widths[-1] - lefts[0]
    level, last_x = 0, None
    for marker in markers:
        x = mdates.date2num(marker.at)
        level = 1 - level if last_x is not None and x - last_x < span * 0.08 else 0  # stagger only when close
        last_x = x
        ax.axvline(x, color="#222222", linestyle="--", linewidth=1.2)
        ax.annotate(
            marker.label,
            (x, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(0, 4 + 11 * level),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=8.5,
            fontweight="bold",
            color="#222222",
        )
    ax.set_ylim(0, 1.0)
    ax.set_ylabel("share of activity")
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    pad = max(span * 0.01, 1.0)
    ax.set_xlim(lefts[0] - pad, lefts[-1] + widths[-1] + pad)
    locator = mdates.AutoDateLocator(minticks=3, maxticks=10)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.grid(axis="y", color="#e5e7eb", linewidth=0.8)
    ax.set_axisbelow(True)
    handles = [Patch(facecolor=colors[c], label=c) for c in reversed(stack)]
    ax.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        frameon=False,
        fontsize=9,
        title="category",
        title_fontsize=9,
        alignment="left",
    )
    fig.tight_layout()
    return _png(fig, dpi)


@matplotlib.rc_context(PLAIN_TEXT)
def forecast_chart(
    shares: Mapping[str, float],
    recent: Mapping[str, float],
    colors: Mapping[str, str],
    *,
    arrows: Mapping[str, str] | None = None,
    size: tuple[float, float] = (6.0, 3.0),
    dpi: int = 100,
) -> bytes:
    """Draw forecast category shares as horizontal bars (largest on top) and return PNG bytes.

    Args:
        shares: Category to forecast share, in display order.
        recent: Category to recent share, drawn as a black tick where known.
        colors: Colour per category; unknown ones are grey.
        arrows: Category to a suffix for its label (e.g. rising or falling arrows).
        size: Figure size in inches (the height grows with the number of categories).
        dpi: Resolution.
    """
    cats = list(shares)
    height = max(size[1], 0.36 * len(cats) + 0.8)
    fig = Figure(figsize=(size[0], height))
    ax = fig.add_subplot()
    ys = list(range(len(cats)))[::-1]
    ax.barh(ys, [shares[c] for c in cats], color=[colors.get(c, OTHER_COLOR) for c in cats], height=0.65)
    for y, cat in zip(ys, cats, strict=True):
        ax.annotate(
            f"{shares[cat]:.0%}",
            (shares[cat], y),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            fontsize=8.5,
            color="#333333",
        )
    marked = [(y, recent[c]) for y, c in zip(ys, cats, strict=True) if c in recent]
    if marked:
        ax.scatter(
            [r for _, r in marked],
            [y for y, _ in marked],
            marker="|",
            s=260,
            color="#111111",
            linewidths=2,
            zorder=3,
            label="recent share",
        )
        ax.legend(loc="lower right", frameon=False, fontsize=8.5)
    arrows = arrows or {}
    ax.set_yticks(ys, [f"{c} {arrows.get(c, '')}".strip() for c in cats], fontsize=9)
    top = max([*shares.values(), *recent.values(), 0.05])
    ax.set_xlim(0, min(1.0, top * 1.18 + 0.02))
    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_xlabel("forecast share of the next window")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.grid(axis="x", color="#e5e7eb", linewidth=0.8)
    ax.set_axisbelow(True)
    fig.tight_layout()
    return _png(fig, dpi)


@dataclass
class ReportCharts:
    """The report's charts as PNG bytes (None when there is nothing to draw) and the category colours."""

    colors: dict[str, str]
    shares_png: bytes | None
    forecast_png: bytes | None


def pooled_bars(
    windows: Sequence[Window], max_bars: int = MAX_BARS, max_pooled: int = MAX_POOLED
) -> tuple[list[Bar], list[float], str]:
    """One bar per window; beyond ``max_bars`` windows, one per quarter (or year), pooled by events.

    Years are used when the history spans more than ``max_pooled`` quarters. A pooled bar covers its whole
    quarter or year.

    Returns:
        The bars, their weights (events) and what one bar is: "window", "quarter" or "year".
    """
    wins = sorted(windows, key=lambda w: w.start)
    bars = [Bar(w.start, w.end, w.category_weights) for w in wins]
    weights = [float(max(w.n_events, 1)) for w in wins]
    if len(wins) <= max_bars:
        return bars, weights, "window"
    for unit, freq in (("quarter", "Q"), ("year", "Y")):
        keys = [pd.Timestamp(w.start).tz_convert("UTC").tz_localize(None).to_period(freq) for w in wins]
        if (keys[-1] - keys[0]).n + 1 <= max_pooled or unit == "year":  # periods spanned, active or not
            break
    pooled: list[Bar] = []
    pooled_weights: list[float] = []
    for key in dict.fromkeys(keys):
        group = [(b, w) for b, w, k in zip(bars, weights, keys, strict=True) if k == key]
        total = sum(w for _, w in group)
        shares: dict[str, float] = {}
        for bar, w in group:
            for cat, share in bar.shares.items():
                shares[cat] = shares.get(cat, 0.0) + share * w / total
        ordered = dict(sorted(shares.items(), key=lambda kv: -kv[1]))
        start = key.start_time.tz_localize("UTC").to_pydatetime()
        end = (key + 1).start_time.tz_localize("UTC").to_pydatetime()
        pooled.append(Bar(start, end, ordered))  # the whole quarter or year, so bars have one width
        pooled_weights.append(total)
    return pooled, pooled_weights, unit


def report_charts(
    windows: Sequence[Window],
    shift_starts: Sequence[datetime],
    forecast: Forecast | None,
    *,
    named: Sequence[str] = (),
    max_categories: int = 8,
    max_forecast_categories: int = 10,
    size: tuple[float, float] = (10.0, 4.0),
    dpi: int = 100,
) -> ReportCharts:
    """Draw the share chart of a user's windows (shifts marked, forecast appended) and the forecast chart.

    The ``named`` categories (those the shifts name) and the top ``max_categories`` categories (by
    event-weighted share over the windows and the forecast) get their own colour in both charts; the next ten
    get colours too (forecast chart and tables), the rest grey.
    """
    bars, weights, _ = pooled_bars(windows)
    fc_bar = None
    if forecast is not None and forecast.category_weights:
        fc_bar = Bar(forecast.next_window.start, forecast.next_window.end, forecast.category_weights)
        bars_all, weights_all = [*bars, fc_bar], [*weights, sum(weights) / max(len(weights), 1)]
    else:
        bars_all, weights_all = bars, weights
    ranked = top_categories(bars_all, weights_all, max_categories + 10)
    everywhere = {c for b in bars_all for c in b.shares}
    shown_named = [c for c in dict.fromkeys(named) if c in everywhere]
    top = [*shown_named, *(c for c in ranked if c not in shown_named)][: max(max_categories, len(shown_named))]
    top.sort(key=lambda c: ranked.index(c) if c in ranked else len(ranked))  # largest at the bottom, as before
    colors = category_colors([*top, *(c for c in ranked if c not in top)])
    shares_png = None
    if bars:
        markers = [Marker(at, f"Shift {i}") for i, at in enumerate(sorted(shift_starts), 1)]
        shares_png = share_chart(bars, top, colors, markers=markers, forecast=fc_bar, size=size, dpi=dpi)
    forecast_png = None
    if fc_bar is not None and forecast is not None:
        known = [(c, v) for c, v in forecast.category_weights.items() if c != UNKNOWN_CATEGORY]
        shown = dict(known[:max_forecast_categories])
        recent = {c.category: c.before for c in [*forecast.rising, *forecast.falling] if c.category in shown}
        arrows = {c.category: "▲" for c in forecast.rising} | {c.category: "▼" for c in forecast.falling}
        forecast_png = forecast_chart(shown, recent, colors, arrows=arrows, dpi=dpi)
    return ReportCharts(colors, shares_png, forecast_png)
