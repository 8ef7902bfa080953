"""Explainability report of one user: share chart, window summaries, shifts, forecast and recommendations.

:func:`render_html` gives one self-contained HTML page (charts as base64 PNG, CSS inline, a Content Security
Policy that forbids any network load and any script). :func:`write_report` writes it, or a Markdown report
with the charts as PNG files beside it. Every text that comes from data or a model (titles, categories,
summaries, reasons, narrative) is escaped, so a title like ``<script>`` stays text.

The pieces are read by attribute (or key), so the results of the stages are used as they are; a missing
piece (no explanation, no forecast, ...) leaves its section out with a note.

What a report shows is in :mod:`interest_tools.report._data`, the rendering in :mod:`interest_tools.report._render`
(both re-exported here); this module writes the files.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from interest_tools.errors import ConfigError
from interest_tools.report._data import (
    ReportConfig,
    ReportData,
    build_charts,
)
from interest_tools.report._render import render_html, render_markdown

__all__ = [
    "write_report",
]


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
