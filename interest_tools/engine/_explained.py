"""What ``recommend`` follows of a user's explanation: shifts, stable core and recent trend, kept per user.

Explaining a long history takes a few hundred milliseconds (the permutation test), so the result is kept until
the windows table changes (a reload builds a new one) or the engine's cache is reset.
"""

from __future__ import annotations

import threading

from interest_tools.data import Catalog
from interest_tools.explain import CategoryChange, Explanation, Shift, StableInterest, explain_user, recent_changes
from interest_tools.windows import WindowTable

Trend = dict[str, list[CategoryChange]]  # recent_changes: rising, falling, new, faded


class ExplainedCache:
    """Per-user shifts, stable core and recent trend, valid for one windows table."""

    def __init__(self) -> None:
        self._hits: dict[str, tuple[WindowTable, Explanation, Trend]] = {}
        self._lock = threading.Lock()

    def get(
        self, user_id: str, table: WindowTable, catalog: Catalog, recent_windows: int
    ) -> tuple[list[Shift], list[StableInterest], Trend]:
        """The user's shifts and stable core (as ``explain`` finds them) and the trend of the last windows."""
        with self._lock:
            hit = self._hits.get(user_id)
        if hit is None or hit[0] is not table:
            wins = table.for_user(user_id)
            hit = (table, explain_user(wins, catalog), recent_changes(wins, recent_windows))
            with self._lock:
                self._hits[user_id] = hit
        return hit[1].shifts, hit[1].stable, hit[2]

    def clear(self) -> None:
        """Forget everything (after a write or a forget)."""
        with self._lock:
            self._hits.clear()
