"""What the summary stage needs besides a window: the item catalog and, per window, ratings and texts of events.

:class:`SummaryCatalog` holds titles, categories and the grounding index of all names; :func:`build_contexts` turns
windows into :class:`WindowContext` objects, reading ratings and texts through one :class:`EventLookup`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from interest_tools.data import Catalog, utc_ns
from interest_tools.summaries._grounding import GroundingIndex, display_title, grounding_index, sanitize_text
from interest_tools.windows import Window


@dataclass(frozen=True)
class SummaryCatalog(Catalog):
    """What the summary stage needs of the items: titles, categories, and the grounding index of all names."""

    index: GroundingIndex

    @classmethod
    def from_items(cls, items: pd.DataFrame) -> SummaryCatalog:
        """Build from canonical items (the grounding index is cached per catalog)."""
        base = Catalog.of(items)
        index = grounding_index(tuple(base.all_categories()), tuple(base.titles.values()))
        return cls(base.titles, base.categories, index)


@dataclass
class WindowContext:
    """One window with what its summary needs from the events."""

    window: Window
    first: bool
    item_ratings: dict[str, float] | None = None
    item_texts: dict[str, list[str]] | None = None

    def allowed_titles(self, catalog: SummaryCatalog, max_chars: int = 200) -> list[str]:
        """Titles a summary of this window may name: catalog and displayed (sanitised) forms."""
        raw = [catalog.titles[i] for i in self.window.item_ids if i in catalog.titles]
        shown = [sanitize_text(display_title(t), max_chars, escape_markup=False) for t in raw]
        return list(dict.fromkeys(raw + shown))


def _ns(value: datetime) -> int:
    ts = pd.Timestamp(value)
    return int((ts.tz_localize("UTC") if ts.tzinfo is None else ts).value)


class EventLookup:
    """Per-window access to events (ratings, texts) after one sort; windows are ``[start, end)`` per user."""

    def __init__(self, events: pd.DataFrame, users: Iterable[str] | None = None) -> None:
        ev = events if users is None else events[events["user_id"].isin(list(users))]
        ev = ev.sort_values(["user_id", "timestamp"], kind="stable")
        n = len(ev)
        self._user = ev["user_id"].astype(str).to_numpy(dtype=object)
        self._ts = utc_ns(ev["timestamp"])
        self._item = ev["item_id"].astype(str).to_numpy(dtype=object)
        self._rating = ev["rating"].to_numpy(dtype=np.float64) if "rating" in ev else np.full(n, np.nan)
        self._text = ev["text"].fillna("").astype(str).to_numpy(dtype=object) if "text" in ev else np.full(n, "")
        cuts = np.flatnonzero(self._user[1:] != self._user[:-1]) + 1 if n else np.empty(0, dtype=np.int64)
        lo = np.concatenate([[0], cuts]).astype(int)
        hi = np.concatenate([cuts, [n]]).astype(int)
        self._rows = {str(self._user[a]): (int(a), int(b)) for a, b in zip(lo, hi, strict=True) if n}

    def _span(self, window: Window) -> range:
        lo, hi = self._rows.get(window.user_id, (0, 0))
        ts = self._ts[lo:hi]
        a = lo + int(np.searchsorted(ts, _ns(window.start), "left"))
        b = lo + int(np.searchsorted(ts, _ns(window.end), "left"))
        return range(a, b)

    def ratings(self, window: Window) -> dict[str, float]:
        """Return the mean rating per rated item of the window."""
        mine = set(window.item_ids)
        sums: dict[str, list[float]] = {}
        for i in self._span(window):
            r = self._rating[i]
            if r == r and self._item[i] in mine:
                sums.setdefault(self._item[i], []).append(float(r))
        return {k: sum(v) / len(v) for k, v in sums.items()}

    def texts(self, window: Window, max_texts: int = 3) -> dict[str, list[str]]:
        """Return up to ``max_texts`` distinct non-empty texts (tags, reviews) per item of the window."""
        mine = set(window.item_ids)
        out: dict[str, list[str]] = {}
        for i in self._span(window):
            text = self._text[i].strip()
            item = self._item[i]
            if text and item in mine:
                seen = out.setdefault(item, [])
                if text not in seen and len(seen) < max_texts:
                    seen.append(text)
        return out


def build_contexts(windows: Sequence[Window], events: pd.DataFrame | None, *, max_texts: int) -> list[WindowContext]:
    """Prepare windows for summarising; a user's first window in the list, when all its categories are new, is first."""
    first_index: dict[str, int] = {}
    for w in windows:
        first_index[w.user_id] = min(first_index.get(w.user_id, w.index), w.index)
    lookup = EventLookup(events, first_index) if events is not None and len(events) else None
    out = []
    for w in windows:
        first = w.index == first_index[w.user_id] and set(w.new_categories) >= set(w.category_weights)
        ratings = lookup.ratings(w) if lookup is not None and w.mean_rating is not None else None
        texts = lookup.texts(w, max_texts) if lookup is not None and max_texts > 0 else None
        out.append(WindowContext(w, first, ratings, texts))
    return out
