"""The explainability report: one self-contained HTML file (charts embedded), or Markdown with PNG charts."""

from __future__ import annotations

from interest_tools.report._data import ReportConfig, ReportData
from interest_tools.report._write import write_report

__all__ = ["ReportConfig", "ReportData", "write_report"]
