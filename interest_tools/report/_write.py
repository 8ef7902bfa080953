"""Explainability report of one user: share chart, window summaries, shifts, forecast and recommendations.

:func:`render_html` gives one self-contained HTML page (charts as base64 PNG, CSS inline, a Content Security
Policy that forbids any network load and any script). :func:`write_report` writes it, or a Markdown report
with the charts as PNG files beside it. Every text that comes from data or a model (titles, categories,
summaries, reasons, narrative) is escaped, so a title like ``<script>`` stays text.

The pieces are read by attribute (or key), so the results of the stages are used as they are; a missing
piece (no explanation, no forecast, ...) leaves its section out with a note.

What a report shows is in ``_data``, the rendering in ``_render``; this module writes the files.
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
    "check_report_target",
    "report_files",
    "write_report",
]


def report_files(out_path: str | Path, fmt: str) -> list[Path]:
    """Every file a report at ``out_path`` may write: the page, and for Markdown its two chart PNGs beside it."""
    out = Path(out_path)
    if fmt == "html":
        return [out]
    return [out, *(out.with_name(f"{out.stem}_{name}.png") for name in ("shares", "forecast"))]


def check_report_target(out_path: str | Path, fmt: str, *, overwrite: bool) -> None:
    """Refuse an output path that cannot be written, or whose files exist when ``overwrite`` is False.

    Raises:
        ConfigError: The folder does not exist, the path is a folder, or a report file exists already.
    """
    out = Path(out_path)
    if out.is_dir():
        raise ConfigError(f"--out {out} is a folder: give a file path such as {out / ('report.' + fmt)}")
    if not out.parent.is_dir():
        raise ConfigError(f"report folder {out.parent} does not exist: create it or choose another --out path")
    if not overwrite:
        existing = [str(f) for f in report_files(out, fmt) if f.exists()]
        if existing:
            raise ConfigError(
                f"{', '.join(existing)} exist(s) already: choose another --out path, or pass --force to overwrite"
            )


def write_report(
    data: ReportData, out_path: str | Path, config: ReportConfig | None = None, *, overwrite: bool = True
) -> list[Path]:
    """Write the report (HTML, or Markdown with PNG charts beside it) and return the files written.

    Everything is rendered in memory first; if writing then fails, the files this call wrote are removed, so a
    failed report leaves no partial page and no stray charts.

    Args:
        data: What the report shows.
        out_path: The HTML or Markdown file.
        config: Format and limits.
        overwrite: Replace existing report files (the CLI passes ``--force``); when False they are refused.

    Raises:
        ConfigError: The output folder does not exist, the path is a folder or not writable, or (with
            ``overwrite=False``) a report file exists.
    """
    config = config or ReportConfig()
    out = Path(out_path)
    check_report_target(out, config.format, overwrite=overwrite)
    contents: dict[Path, bytes] = {}
    if config.format == "html":
        contents[out] = render_html(data, config).encode("utf-8")
    else:
        charts = build_charts(data, config)
        names: dict[str, str] = {}
        for name, png in (("shares", charts.shares_png), ("forecast", charts.forecast_png)):
            if png is not None:
                path = out.with_name(f"{out.stem}_{name}.png")
                contents[path] = png
                names[name] = quote(path.name)
        page = render_markdown(data, config, names, charts).encode("utf-8")
        contents = {out: page, **contents}
    written: list[Path] = []
    try:
        for path, body in contents.items():
            written.append(path)
            path.write_bytes(body)
    except OSError as exc:
        for path in written:
            if path.is_file():  # a folder in the way is not ours to remove
                path.unlink()
        raise ConfigError(f"cannot write the report to {out}: {exc}; choose a writable --out path") from exc
    return list(contents)
