"""Names of the report files that ``interest_report`` writes, and their removal when a user is forgotten.

A report is written as ``<folder>/<slug>-<key>-<time>.<html|md>`` (plus ``<same stem>_<chart>.png`` beside a
Markdown report), where ``slug`` is the user id made safe for a file name and ``key`` the first 12 hex digits
of the id's SHA-256: two users whose slugs agree (``a b`` and ``a_b``) never share a prefix, so forgetting one
removes exactly that user's reports (:func:`forget_reports`).
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import re
from datetime import datetime
from pathlib import Path

#: Folder under the store where ``interest_report`` writes by default.
REPORTS = "reports"


def _slug(user_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", user_id).strip("._") or "user"


def user_prefix(user_id: str) -> str:
    """The start of every report file name of ``user_id`` (``<slug>-<key>-``)."""
    return f"{_slug(user_id)}-{hashlib.sha256(user_id.encode()).hexdigest()[:12]}-"


def report_path(folder: Path, user_id: str, fmt: str, when: datetime | None = None) -> Path:
    """Where a new report of ``user_id`` in format ``fmt`` ("html" or "md") goes."""
    stamp = (when or datetime.now()).strftime("%Y%m%dT%H%M%S")
    return folder / f"{user_prefix(user_id)}{stamp}.{fmt}"


def _legacy_reports(folder: Path, user_id: str) -> list[Path]:
    """Reports named ``<slug>-<time>.*`` (before the key was added) whose text names ``user_id``, and their charts."""
    named = re.compile(re.escape(_slug(user_id)) + r"-(?P<stamp>\d{8}T\d{6})(?P<rest>\.html|\.md|_[a-z]+\.png)")
    found = [(p, m) for p in folder.iterdir() if (m := named.fullmatch(p.name)) and p.is_file()]
    stamps = set()
    for path, match in found:
        if match["rest"] in (".html", ".md"):
            text = path.read_text(errors="replace")
            if user_id in text or html.escape(user_id) in text:
                stamps.add(match["stamp"])
    return [p for p, m in found if m["stamp"] in stamps]


def forget_reports(folder: Path, user_id: str) -> int:
    """Delete every report file of ``user_id`` in ``folder`` (and reports of older versions naming the user).

    Returns:
        How many files were deleted.
    """
    if not folder.is_dir():
        return 0
    doomed = {p for p in folder.glob(f"{user_prefix(user_id)}*") if p.is_file()}  # slugs hold no glob characters
    doomed |= set(_legacy_reports(folder, user_id))
    removed = 0
    for path in doomed:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed += 1
    return removed
