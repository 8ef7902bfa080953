"""The explainability report: one self-contained HTML file (charts embedded), or Markdown with PNG charts."""

from __future__ import annotations

from interest_tools.report._data import ReportConfig, ReportData
from interest_tools.report._files import REPORTS, forget_reports, report_path
from interest_tools.report._write import check_report_target, report_files, write_report

__all__ = [
    "REPORTS",
    "ReportConfig",
    "ReportData",
    "check_report_target",
    "forget_reports",
    "report_files",
    "report_path",
    "write_report",
]
