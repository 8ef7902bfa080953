"""What a report shows (:class:`ReportData`), how it is written (:class:`ReportConfig`), and how it names periods.

The pieces are read by attribute (or key) with :func:`attr`, so the results of the stages are used as they
are (a model or its JSON); :func:`period_label` and :func:`span_label` name windows and stretches of windows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from interest_tools.report._charts import ReportCharts, report_charts
from interest_tools.windows import period_name

if TYPE_CHECKING:
    import pandas as pd

    from interest_tools.explain import Explanation
    from interest_tools.forecast import Forecast
    from interest_tools.recommend import Recommendations
    from interest_tools.summaries import WindowSummary
    from interest_tools.windows import Window


class ReportConfig(BaseModel):
    """What the report shows and how it is written."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["html", "md"] = Field(default="html", description="html: one self-contained file; md: Markdown.")
    title: str | None = Field(default=None, description="Report title; None gives 'Interests of user USER'.")
    max_categories: int = Field(
        default=8, ge=1, le=17, description="Categories drawn in their own colour; the rest are summed as 'other'."
    )
    max_windows_listed: int = Field(default=24, ge=1, description="Most recent windows listed with their summary.")
    max_evidence: int = Field(default=8, ge=0, description="Evidence items listed per shift.")
    max_forecast_categories: int = Field(default=10, ge=1, le=40, description="Categories in the forecast chart.")
    chart_width: float = Field(default=10.0, ge=4.0, le=30.0, description="Share chart width in inches.")
    chart_height: float = Field(default=4.0, ge=2.0, le=20.0, description="Share chart height in inches.")
    dpi: int = Field(default=100, ge=50, le=300, description="Resolution of the charts (dots per inch).")


@dataclass
class ReportData:
    """Everything one report shows. Only ``user_id`` is required; missing pieces leave their section out.

    ``explanation`` may also be its JSON (a dict) or any object with ``shifts``, ``stable`` and ``narrative``.
    ``titles`` maps item ids to titles (window top items, evidence); the explanation's own ``titles`` are used
    for evidence items missing there.
    """

    user_id: str
    windows: Sequence[Window] = ()
    summaries: Sequence[WindowSummary] = ()
    explanation: Explanation | dict[str, Any] | None = None
    forecast: Forecast | None = None
    recommendations: Recommendations | None = None
    titles: dict[str, str] = field(default_factory=dict)

    def needed_item_ids(self) -> list[str]:
        """Return the item ids whose titles the report shows (window top items and shift evidence)."""
        ids = [i for w in self.windows for i in w.top_items]
        ids += [i for s in attr(self.explanation, "shifts") or [] for i in attr(s, "evidence_item_ids") or []]
        return list(dict.fromkeys(ids))

    def title(self, item_id: str) -> str:
        """Return an item's title, or its id when unknown."""
        return self.titles.get(item_id) or (attr(self.explanation, "titles") or {}).get(item_id, item_id)


def titles_from_items(items: pd.DataFrame, item_ids: Sequence[str]) -> dict[str, str]:
    """Return ``{item_id: title}`` for the given ids found in a canonical items frame."""
    found = items[items["item_id"].isin(list(item_ids))]
    return dict(zip(found["item_id"].astype(str), found["title"].astype(str), strict=True))


def attr(obj: Any, name: str, default: Any = None) -> Any:
    """Return ``obj.name`` or ``obj[name]`` (a model or its JSON); ``default`` when absent or ``obj`` is None."""
    if obj is None:
        return default
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def as_dt(value: Any) -> datetime:
    """Return a datetime, parsing an ISO 8601 string (JSON form) when needed."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def shifts_of(data: ReportData) -> list[Any]:
    """Return the explanation's shifts in time order (by the start of the segment after each)."""
    return sorted(attr(data.explanation, "shifts", []) or [], key=lambda s: as_dt(attr(attr(s, "after"), "start")))


def _aligned(t: datetime) -> bool:
    return t.day == 1 and (t.hour, t.minute, t.second, t.microsecond) == (0, 0, 0, 0)


def period_label(start: Any, end: Any) -> str:
    """Name a window compactly: 'Mar 2020', 'Q1 2020', '2020', 'week of 2020-03-02', or a date range."""
    return period_name(as_dt(start), as_dt(end), short=True)


def span_label(start: Any, end: Any) -> str:
    """Name a stretch of windows: 'Jan 2020 – Jun 2020' (month-aligned) or '2020-01-03 – 2020-06-17'."""
    s, e = as_dt(start), as_dt(end)
    last = e - timedelta(microseconds=1)
    fmt = "%b %Y" if _aligned(s) and _aligned(e) else "%Y-%m-%d"
    a, b = f"{s:{fmt}}", f"{last:{fmt}}"
    if a == b and fmt == "%Y-%m-%d" and s.date() == last.date():
        return f"{a} {s:%H:%M}–{last:%H:%M}"
    return a if a == b else f"{a} – {b}"


def named_categories(data: ReportData) -> list[str]:
    """Every category the explanation's shifts name (rising, falling, new or faded), in time order of the shifts."""
    names = []
    for s in shifts_of(data):
        for kind in ("rising", "falling", "new", "faded"):
            names += [str(attr(c, "category")) for c in attr(s, kind, []) or []]
    return list(dict.fromkeys(names))


def build_charts(data: ReportData, config: ReportConfig) -> ReportCharts:
    """Draw the share chart (when there are windows) and the forecast chart (when there is a forecast)."""
    return report_charts(
        data.windows,
        [as_dt(attr(attr(s, "after"), "start")) for s in shifts_of(data)],
        data.forecast,
        named=named_categories(data),
        max_categories=config.max_categories,
        max_forecast_categories=config.max_forecast_categories,
        size=(config.chart_width, config.chart_height),
        dpi=config.dpi,
    )
