"""Rendering of a report as HTML or Markdown: escaping, the sections, the page around them.

Every text that comes from data or a model (titles, categories, summaries, reasons, narrative) goes through
``_Text.esc``, so a title like ``<script>`` stays text; the HTML page is self-contained, with a Content Security
Policy that forbids any network load and any script.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from interest_tools._version import __version__
from interest_tools.data import UNKNOWN_CATEGORY
from interest_tools.report._charts import ReportCharts, pooled_bars
from interest_tools.report._data import (
    ReportConfig,
    ReportData,
    as_dt,
    attr,
    build_charts,
    period_label,
    shifts_of,
    span_label,
)
from interest_tools.windows import percent


def _change(c: Any) -> tuple[str, float | None, float | None]:
    if isinstance(c, str):
        return c, None, None
    return str(attr(c, "category")), attr(c, "before"), attr(c, "after")


def _pct(x: float | None) -> str:
    return "–" if x is None else percent(x)


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
    """One row per category: "new" or "faded" when it appeared or vanished, else "rising" or "falling"."""
    rows = []
    listed: set[str] = set()
    appeared = {_change(c)[0]: "new" for c in attr(shift, "new", []) or []}
    appeared |= {_change(c)[0]: "faded" for c in attr(shift, "faded", []) or []}
    for listed_as in ("rising", "falling", "new", "faded"):
        for c in attr(shift, listed_as, []) or []:
            cat, before, after = _change(c)
            if cat in listed:
                continue
            listed.add(cat)
            kind = appeared.get(cat, listed_as)
            delta = f"{(after - before) * 100:+.0f} pts" if before is not None and after is not None else ""
            rows.append([kind, t.chip(cat), _pct(before), _pct(after), delta])
    return rows


def _evidence(t: _Text, data: ReportData, shift: Any, limit: int) -> list[tuple[str, list[str]]]:
    """Evidence titles grouped by side of the shift (by the first window each item appears in)."""
    ids = list(attr(shift, "evidence_item_ids", []) or [])[:limit]
    boundary = as_dt(attr(attr(shift, "after"), "start"))
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
    shifts = shifts_of(data)
    narrative = str(attr(data.explanation, "narrative", "") or "")
    body = "".join(t.p(t.esc(para)) for para in narrative.split("\n\n") if para.strip())
    if narrative and attr(data.explanation, "narrative_source") == "llm" and t.fmt == "html":
        body += t.p(
            'Narrative written by an LLM, checked against the facts below. <span class="tag">LLM</span>', "note"
        )
    said = [t.esc(x) for x in attr(data.explanation, "stated_preferences") or []]
    body += t.p(t.b("What you said:") + " " + "; ".join(said)) if said else ""
    if data.explanation is None:
        body += t.p("No explanation was given.", "note")
    elif not shifts:
        body += t.p("No significant shift of interests was found.", "note")
    for i, s in enumerate(shifts, 1):
        before, after = attr(s, "before"), attr(s, "after")
        spans = [t.esc(span_label(attr(x, "start"), attr(x, "end"))) for x in (before, after)]
        body += t.h3(f"Shift {i}: {spans[0]} → {spans[1]} (magnitude {float(attr(s, 'magnitude', 0.0)):.2f})")
        body += t.table(["change", "category", "before", "after", "difference"], _change_rows(t, s), "changes")
        for label, titles in _evidence(t, data, s, config.max_evidence):
            body += t.p(t.b(f"Evidence {label}:".replace(" :", ":")) + " " + "; ".join(titles))
    stable = attr(data.explanation, "stable", []) or []
    names = [x if isinstance(x, str) else str(attr(x, "category")) for x in stable]
    shares = [None if isinstance(x, str) else attr(x, "share") for x in stable]
    return body + (t.p(t.b("Stable interests:") + " " + t.chips(names, shares)) if stable else "")


def _window_section(t: _Text, data: ReportData, config: ReportConfig) -> str:
    wins = sorted(data.windows, key=lambda w: w.start)
    by_key = {(s.index, as_dt(s.start)): s for s in data.summaries}
    by_index = {s.index: s for s in data.summaries}
    starts = {as_dt(attr(attr(s, "after"), "start")): i for i, s in enumerate(shifts_of(data), 1)}
    listed = wins[-config.max_windows_listed :]
    rows = []
    for w in listed:
        s = by_key.get((w.index, w.start)) or by_index.get(w.index)
        summary = t.esc(s.summary) if s is not None else ""
        if attr(s, "source") == "llm" and t.fmt == "html":
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
    rising = [c for c in fc.rising if c.category != UNKNOWN_CATEGORY]
    falling = [c for c in fc.falling if c.category != UNKNOWN_CATEGORY]
    moves = [["rising ▲", t.chip(c.category), _pct(c.before), _pct(c.after)] for c in rising]
    moves += [["falling ▼", t.chip(c.category), _pct(c.before), _pct(c.after)] for c in falling]
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
        unit = pooled_bars(wins)[2]
        pooled = f" One bar per {unit} (windows pooled by events)." if unit != "window" else ""
        over_time += t.p(
            f"{len(wins)} windows, {t.esc(span_label(wins[0].start, wins[-1].end))}, "
            f"{sum(w.n_events for w in wins)} events.{pooled} Dashed lines mark shifts; the hatched bar is the "
            "forecast.",
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
