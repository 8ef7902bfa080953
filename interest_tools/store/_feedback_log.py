"""The stated-feedback log (``data/feedback.jsonl``), read by user and cached until the file changes.

Every statement is one JSON line (see :mod:`interest_tools.recommend._timeline` for the fields); writes append by
rewriting the file atomically (:func:`interest_tools.store._state.append_jsonl`), so its (inode, size, mtime)
changes with every write of any process. Reading it on every recommend call would cost a parse of every
user's statements; :class:`FeedbackLog` parses it once per change instead (a ``stat`` per call).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import interest_tools.store._state as state

__all__ = [
    "FeedbackLog",
]


class FeedbackLog:
    """The feedback records of a store directory, by user.

    Args:
        root: The store directory.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._cache: tuple[tuple[int, int, int] | None, dict[str, list[dict[str, Any]]]] | None = None

    def _key(self) -> tuple[int, int, int] | None:
        try:
            st = (self.root / state.FEEDBACK).stat()
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    def by_user(self) -> dict[str, list[dict[str, Any]]]:
        """Every record by user id, in file order (re-read only when the file changed)."""
        key = self._key()
        cached = self._cache
        if cached is not None and cached[0] == key:
            return cached[1]
        grouped: dict[str, list[dict[str, Any]]] = {}
        for rec in state.read_jsonl(self.root, state.FEEDBACK):
            grouped.setdefault(str(rec.get("user_id")), []).append(rec)
        self._cache = (key, grouped)
        return grouped

    def records(self, user_id: str) -> list[dict[str, Any]]:
        """The user's records, in file order (a new list)."""
        return list(self.by_user().get(user_id, ()))

    def append(self, record: dict[str, Any]) -> None:
        """Append one record atomically; call under the store's writer lock."""
        try:
            state.append_jsonl(self.root, state.FEEDBACK, record)
        finally:
            self.invalidate()

    def invalidate(self) -> None:
        """Drop the cache (after this process rewrote the file, e.g. ``forget``)."""
        self._cache = None
