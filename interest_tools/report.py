"""Explainability report of one user: share chart, window summaries, shifts, forecast and recommendations.

:func:`render_html` gives one self-contained HTML page (charts as base64 PNG, CSS inline, a Content Security
Policy that forbids any network load and any script). :func:`write_report` writes it, or a Markdown report
with the charts as PNG files beside it. Every text that comes from data or a model (titles, categories,
summaries, reasons, narrative) is escaped, so a title like ``<script>`` stays text.

The pieces are read by attribute (or key), so the results of the stages are used as they are; a missing
piece (no explanation, no forecast, ...) leaves its section out with a note.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field

from interest_tools import __version__
from interest_tools.charts import ReportCharts, report_charts
from interest_tools.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

    from interest_tools.explain import Explanation
    from interest_tools.forecast.types import Forecast
    from interest_tools.recommend import Recommendations
    from interest_tools.summarize import WindowSummary
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
        ids += [i for s in _get(self.explanation, "shifts") or [] for i in _get(s, "evidence_item_ids") or []]
        return list(dict.fromkeys(ids))

    def title(self, item_id: str) -> str:
        """Return an item's title, or its id when unknown."""
        return self.titles.get(item_id) or (_get(self.explanation, "titles") or {}).get(item_id, item_id)


def titles_from_items(items: pd.DataFrame, item_ids: Sequence[str]) -> dict[str, str]:
    """Return ``{item_id: title}`` for the given ids found in a canonical items frame."""
    found = items[items["item_id"].isin(list(item_ids))]
    return dict(zip(found["item_id"].astype(str), found["title"].astype(str), strict=True))


def _get(obj: Any, name: str, default: Any = None) -> Any:
    if obj is None:
        return default
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _dt(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def _change(c: Any) -> tuple[str, float | None, float | None]:
    if isinstance(c, str):
        return c, None, None
    return str(_get(c, "category")), _get(c, "before"), _get(c, "after")


def _shifts(data: ReportData) -> list[Any]:
    return sorted(_get(data.explanation, "shifts", []) or [], key=lambda s: _dt(_get(_get(s, "after"), "start")))


def _pct(x: float | None) -> str:
    if x is None:
        return "–"
    return f"{round(x * 100)}%" if x >= 0.005 or x == 0 else "<1%"


def _aligned(t: datetime) -> bool:
    return t.day == 1 and (t.hour, t.minute, t.second, t.microsecond) == (0, 0, 0, 0)


def period_label(start: Any, end: Any) -> str:
    """Name a window: 'Mar 2020', 'Q1 2020', '2020', 'week of 2020-03-02', or a date range."""
    s, e = _dt(start), _dt(end)
    months = (e.year * 12 + e.month) - (s.year * 12 + s.month)
    if _aligned(s) and _aligned(e):
        if months == 1:
            return f"{s:%b %Y}"
        if months == 3 and s.month % 3 == 1:
            return f"Q{s.month // 3 + 1} {s.year}"
        if months == 12 and s.month == 1:
            return f"{s.year}"
    if e - s == timedelta(days=7) and s.weekday() == 0 and s.hour == 0:
        return f"week of {s:%Y-%m-%d}"
    return span_label(s, e)


def span_label(start: Any, end: Any) -> str:
    """Name a stretch of windows: 'Jan 2020 – Jun 2020' (month-aligned) or '2020-01-03 – 2020-06-17'."""
    s, e = _dt(start), _dt(end)
    last = e - timedelta(microseconds=1)
    fmt = "%b %Y" if _aligned(s) and _aligned(e) else "%Y-%m-%d"
    a, b = f"{s:{fmt}}", f"{last:{fmt}}"
    if a == b and fmt == "%Y-%m-%d" and s.date() == last.date():
        return f"{a} {s:%H:%M}–{last:%H:%M}"
    return a if a == b else f"{a} – {b}"


def build_charts(data: ReportData, config: ReportConfig) -> ReportCharts:
    """Draw the share chart (when there are windows) and the forecast chart (when there is a forecast)."""
    return report_charts(
        data.windows,
        [_dt(_get(_get(s, "after"), "start")) for s in _shifts(data)],
        data.forecast,
        max_categories=config.max_categories,
        max_forecast_categories=config.max_forecast_categories,
        size=(config.chart_width, config.chart_height),
        dpi=config.dpi,
    )


@dataclass
class _Text:
    """Escapes user text for one output format and renders the few structures the report uses."""

    fmt: Literal["html", "md"]
    colors: dict[str, str] = field(default_factory=dict)

    def esc(self, text: Any) -> str:
        if self.fmt == "html":
            return html.escape(str(text), quote=True)
        out = html.escape(" ".join(str(text).split()), quote=False)
        for ch in "\\`*_[]|":
            out = out.replace(ch, "\\" + ch)
        return "\\" + out if out.startswith(("#", "-", "+", ">", "=")) else out

    def p(self, s: str, cls: str = "") -> str:
        if self.fmt == "md":
            return f"_{s}_\n\n" if cls else s + "\n\n"
        return f'<p class="{cls}">{s}</p>' if cls else f"<p>{s}</p>"

    def b(self, s: str) -> str:
        return f"<b>{s}</b>" if self.fmt == "html" else f"**{s}**"

    def h3(self, s: str) -> str:
        return f"<h3>{s}</h3>" if self.fmt == "html" else f"### {s}\n\n"

    def side_by_side(self, *blocks: str) -> str:
        if self.fmt == "md":
            return "".join(blocks)
        return '<div class="row">' + "".join(f"<div>{x}</div>" for x in blocks if x) + "</div>"

    def chip(self, category: str, share: float | None = None) -> str:
        label = self.esc(category) + (f" {_pct(share)}" if share is not None else "")
        if self.fmt == "md":
            return label
        color = self.colors.get(category, "#c8ccd2")
        return f'<span class="chip"><i style="background:{color}"></i>{label}</span>'

    def chips(self, categories: Sequence[str], shares: Sequence[float | None] | None = None) -> str:
        shares = shares or [None] * len(categories)
        sep = " " if self.fmt == "html" else ", "
        return sep.join(self.chip(c, v) for c, v in zip(categories, shares, strict=True))

    def table(self, head: Sequence[str], rows: Sequence[Sequence[str]], cls: str = "") -> str:
        if self.fmt == "md":
            lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
            return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows]) + "\n\n"
        th = "".join(f"<th>{h}</th>" for h in head)
        body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
        return f'<table class="{cls}"><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>'


def _change_rows(t: _Text, shift: Any) -> list[list[str]]:
    rows = []
    for kind in ("rising", "falling", "new", "faded"):
        for c in _get(shift, kind, []) or []:
            cat, before, after = _change(c)
            delta = f"{(after - before) * 100:+.0f} pts" if before is not None and after is not None else ""
            rows.append([kind, t.chip(cat), _pct(before), _pct(after), delta])
    return rows


def _evidence(t: _Text, data: ReportData, shift: Any, limit: int) -> list[tuple[str, list[str]]]:
    """Evidence titles grouped by side of the shift (by the first window each item appears in)."""
    ids = list(_get(shift, "evidence_item_ids", []) or [])[:limit]
    boundary = _dt(_get(_get(shift, "after"), "start"))
    first_seen: dict[str, datetime] = {}
    for w in sorted(data.windows, key=lambda w: w.start):
        for item in w.item_ids:
            first_seen.setdefault(item, w.start)
    after = [i for i in ids if i in first_seen and first_seen[i] >= boundary]
    before = [i for i in ids if i in first_seen and first_seen[i] < boundary]
    rest = [i for i in ids if i not in first_seen]
    groups = [("after the shift", after), ("before the shift", before), ("", rest)]
    return [(label, [t.esc(data.title(i)) for i in group]) for label, group in groups if group]


def _shift_section(t: _Text, data: ReportData, config: ReportConfig) -> str:
    shifts = _shifts(data)
    narrative = str(_get(data.explanation, "narrative", "") or "")
    body = "".join(t.p(t.esc(para)) for para in narrative.split("\n\n") if para.strip())
    if narrative and _get(data.explanation, "narrative_source") == "llm" and t.fmt == "html":
        body += t.p(
            'Narrative written by an LLM, checked against the facts below. <span class="tag">LLM</span>', "note"
        )
    said = [t.esc(x) for x in _get(data.explanation, "stated_preferences") or []]
    body += t.p(t.b("What you said:") + " " + "; ".join(said)) if said else ""
    if data.explanation is None:
        body += t.p("No explanation was given.", "note")
    elif not shifts:
        body += t.p("No significant shift of interests was found.", "note")
    for i, s in enumerate(shifts, 1):
        before, after = _get(s, "before"), _get(s, "after")
        spans = [t.esc(span_label(_get(x, "start"), _get(x, "end"))) for x in (before, after)]
        body += t.h3(f"Shift {i}: {spans[0]} → {spans[1]} (magnitude {float(_get(s, 'magnitude', 0.0)):.2f})")
        body += t.table(["change", "category", "before", "after", "difference"], _change_rows(t, s), "changes")
        for label, titles in _evidence(t, data, s, config.max_evidence):
            body += t.p(t.b(f"Evidence {label}:".replace(" :", ":")) + " " + "; ".join(titles))
    stable = _get(data.explanation, "stable", []) or []
    names = [x if isinstance(x, str) else str(_get(x, "category")) for x in stable]
    shares = [None if isinstance(x, str) else _get(x, "share") for x in stable]
    return body + (t.p(t.b("Stable interests:") + " " + t.chips(names, shares)) if stable else "")


def _window_section(t: _Text, data: ReportData, config: ReportConfig) -> str:
    wins = sorted(data.windows, key=lambda w: w.start)
    by_key = {(s.index, _dt(s.start)): s for s in data.summaries}
    by_index = {s.index: s for s in data.summaries}
    starts = {_dt(_get(_get(s, "after"), "start")): i for i, s in enumerate(_shifts(data), 1)}
    listed = wins[-config.max_windows_listed :]
    rows = []
    for w in listed:
        s = by_key.get((w.index, w.start)) or by_index.get(w.index)
        summary = t.esc(s.summary) if s is not None else ""
        if _get(s, "source") == "llm" and t.fmt == "html":
            summary += ' <span class="tag">LLM</span>'
        period = t.esc(period_label(w.start, w.end))
        if w.start in starts:
            period += " " + t.b(f"· Shift {starts[w.start]}")
        top = list(w.category_weights.items())[:3]
        cats = t.chips([c for c, _ in top], [v for _, v in top])
        rows.append([period, str(w.n_events), cats, summary])
    if not wins:  # summaries without windows
        rows = [[t.esc(period_label(s.start, s.end)), "", "", t.esc(s.summary)] for s in data.summaries]
    if not rows:
        return t.p("No windows or summaries were given.", "note")
    hidden = len(wins) - len(listed)
    body = t.table(["window", "events", "main categories", "summary"], rows, "windows")
    return body + (t.p(f"{hidden} earlier windows are not listed.", "note") if hidden else "")


def _forecast_section(t: _Text, data: ReportData, image: str) -> str:
    fc = data.forecast
    if fc is None:
        return t.p("No forecast was given.", "note")
    nw = fc.next_window
    code = f"<code>{t.esc(fc.model)}</code>" if t.fmt == "html" else f"`{t.esc(fc.model)}`"
    body = t.p(f"Forecast of {t.esc(period_label(nw.start, nw.end))} by the {code} model.")
    moves = [["rising ▲", t.chip(c.category), _pct(c.before), _pct(c.after)] for c in fc.rising]
    moves += [["falling ▼", t.chip(c.category), _pct(c.before), _pct(c.after)] for c in fc.falling]
    table = t.table(["trend", "category", "recent", "forecast"], moves, "changes") if moves else ""
    return body + t.side_by_side(image, table)


def _recommend_section(t: _Text, data: ReportData) -> str:
    recs = list(data.recommendations.items) if data.recommendations is not None else []
    rows = [
        [str(n), t.esc(r.title), t.chips(r.categories), f"{r.score:.3f}", t.esc(r.reason)]
        for n, r in enumerate(recs, 1)
    ]
    if not rows:
        return t.p("No recommendations were given.", "note")
    return t.table(["#", "title", "categories", "score", "why"], rows, "recs")


def _sections(t: _Text, data: ReportData, config: ReportConfig, images: dict[str, str]) -> list[tuple[str, str]]:
    """Return (heading, body) pairs; ``images`` maps chart names to an <img>/Markdown image string."""
    wins = sorted(data.windows, key=lambda w: w.start)
    over_time = images.get("shares", "") or t.p("No windows to chart.", "note")
    if wins:
        over_time += t.p(
            f"{len(wins)} windows, {t.esc(span_label(wins[0].start, wins[-1].end))}, "
            f"{sum(w.n_events for w in wins)} events. Dashed lines mark shifts; the hatched bar is the forecast.",
            "note",
        )
    return [
        ("Interests over time", over_time),
        ("How interests shifted", _shift_section(t, data, config)),
        ("Next window forecast", _forecast_section(t, data, images.get("forecast", ""))),
        ("Recommendations", _recommend_section(t, data)),
        ("Window by window", _window_section(t, data, config)),  # the long table last
    ]


_CSS = """
body{margin:0;background:#f6f7f9;color:#1f2933;font:15px/1.55 -apple-system,"Segoe UI",Roboto,"Helvetica Neue",
Arial,"Noto Sans","DejaVu Sans",sans-serif}
main{max-width:1080px;margin:0 auto;padding:28px 32px 48px;background:#fff;min-height:100vh;box-sizing:border-box}
h1{font-size:28px;margin:0 0 4px}h2{font-size:21px;margin:36px 0 12px;padding-bottom:6px;
border-bottom:2px solid #e5e7eb}h3{font-size:16px;margin:22px 0 8px}
.sub{color:#616e7c;margin:0 0 8px}.note{color:#616e7c;font-size:13px}
img{max-width:100%;height:auto;display:block;margin:8px 0}
table{border-collapse:collapse;width:100%;margin:8px 0 14px;font-size:14px}
th,td{border:1px solid #e5e7eb;padding:6px 9px;text-align:left;vertical-align:top}
th{background:#f3f4f6;font-weight:600}tbody tr:nth-child(even){background:#fafbfc}
table.changes{width:auto;min-width:55%}.row{display:flex;gap:28px;align-items:flex-start;flex-wrap:wrap}
.row>div:first-child{flex:0 1 560px;min-width:0}.row table.changes{min-width:0}
table.windows td:first-child{white-space:nowrap}
table.windows td:nth-child(2),table.recs td:nth-child(4){text-align:right}
.chip{display:inline-block;white-space:nowrap;margin:1px 4px 1px 0;padding:0 8px;border-radius:10px;
background:#f1f3f5;font-size:12.5px}.chip i{display:inline-block;width:9px;height:9px;border-radius:2px;
margin-right:5px}
.tag{font-size:11px;color:#52606d;border:1px solid #cbd2d9;border-radius:4px;padding:0 4px}
code{background:#f1f3f5;padding:0 4px;border-radius:3px}
footer{margin-top:40px;color:#9aa5b1;font-size:12px}
"""
_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def _title(data: ReportData, config: ReportConfig) -> str:
    return config.title or f"Interests of user {data.user_id}"


def render_html(data: ReportData, config: ReportConfig | None = None) -> str:
    """Render the report as one self-contained HTML page (no network, no script)."""
    config = config or ReportConfig()
    charts = build_charts(data, config)
    t = _Text("html", charts.colors)
    images = {}
    for name, png, alt in [
        ("shares", charts.shares_png, "Category shares per window over time, with shifts marked"),
        ("forecast", charts.forecast_png, "Forecast category shares of the next window"),
    ]:
        if png is not None:
            images[name] = f'<img alt="{alt}" src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}">'
    sections = "".join(f"<section><h2>{h}</h2>{b}</section>" for h, b in _sections(t, data, config, images))
    title = t.esc(_title(data, config))
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title><style>{_CSS}</style></head><body><main>"
        f'<h1>{title}</h1><p class="sub">User <b>{t.esc(data.user_id)}</b>: how their interests changed, '
        f"why, and what may come next.</p>{sections}"
        f"<footer>Made by interest-tools {__version__}.</footer></main></body></html>\n"
    )


def render_markdown(
    data: ReportData,
    config: ReportConfig | None = None,
    chart_names: dict[str, str] | None = None,
    charts: ReportCharts | None = None,
) -> str:
    """Render the report as Markdown; ``chart_names`` maps 'shares'/'forecast' to relative PNG paths."""
    config = config or ReportConfig()
    charts = charts or build_charts(data, config)
    t = _Text("md", charts.colors)
    images = {k: f"![{k} chart]({v})\n\n" for k, v in (chart_names or {}).items()}
    parts = [f"# {t.esc(_title(data, config))}", f"User **{t.esc(data.user_id)}**."]
    parts += [f"## {h}\n\n{b.strip()}" for h, b in _sections(t, data, config, images)]
    return "\n\n".join([*parts, f"---\n_Made by interest-tools {__version__}._"]) + "\n"


def write_report(data: ReportData, out_path: str | Path, config: ReportConfig | None = None) -> list[Path]:
    """Write the report (HTML, or Markdown with PNG charts beside it) and return the files written.

    Raises:
        ConfigError: The output folder does not exist or is not writable.
    """
    config = config or ReportConfig()
    out = Path(out_path)
    if not out.parent.is_dir():
        raise ConfigError(f"report folder {out.parent} does not exist: create it or choose another --out path")
    try:
        if config.format == "html":
            out.write_text(render_html(data, config), encoding="utf-8")
            return [out]
        charts = build_charts(data, config)
        written: dict[str, Path] = {}
        for name, png in (("shares", charts.shares_png), ("forecast", charts.forecast_png)):
            if png is not None:
                written[name] = out.with_name(f"{out.stem}_{name}.png")
                written[name].write_bytes(png)
        names = {k: quote(v.name) for k, v in written.items()}
        out.write_text(render_markdown(data, config, names, charts), encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write the report to {out}: {exc}; choose a writable --out path") from exc
    return [out, *written.values()]
