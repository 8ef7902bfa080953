"""Synthetic users with planted interest changes, for the shift-explanation tests.

Every user gets one window per calendar month. Each window's events draw categories from the user's current
distribution (multinomial noise); "noisy" users also redraw that distribution every month from a Dirichlet
around their base (month-to-month noise beyond multinomial) and have few, varying events per month.
Each item has exactly one category, so a window's category shares are its sampled category frequencies.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from interest_tools.windows import Window, WindowConfig, compute_windows

CATEGORIES = ["Sci-Fi", "Comedy", "Horror", "Documentary", "Romance", "Western"]
ITEMS_PER_CATEGORY = 10


def make_catalog(items_per_category: int = ITEMS_PER_CATEGORY) -> pd.DataFrame:
    """Single-category items (ten per category by default), canonical items frame (item ids c<cat>i<n>)."""
    rows = []
    for c, name in enumerate(CATEGORIES):
        for i in range(items_per_category):
            rows.append(
                {
                    "item_id": f"c{c}i{i}",
                    "title": f"{name} Story {i} ({2000 + i})",
                    "categories": [name],
                    "description": "",
                }
            )
    return pd.DataFrame(rows).sort_values("item_id", ignore_index=True)


@dataclass
class SynthUser:
    """One synthetic user: its phases and where the planted change is."""

    user_id: str
    phases: list[tuple[int, dict[str, float]]]  # (windows, category distribution) in time order
    events_per_window: tuple[int, int]  # inclusive range of events per window
    concentration: float | None = None  # Dirichlet month-to-month noise (None: none)
    boundaries: list[int] = field(default_factory=list)  # window positions where a phase starts (planted)


def _vector(dist: dict[str, float]) -> np.ndarray:
    v = np.array([dist.get(c, 0.0) for c in CATEGORIES], dtype=float)
    return v / v.sum()


def user_events(
    user: SynthUser, rng: np.random.Generator, start_month: int = 0, items_per_category: int = ITEMS_PER_CATEGORY
) -> list[tuple]:
    """Sample one user's events: (user_id, item_id, timestamp, rating) rows, window after window."""
    rows = []
    month = start_month
    for n_windows, dist in user.phases:
        base = _vector(dist)
        for _ in range(n_windows):
            p = base
            if user.concentration is not None:
                p = rng.dirichlet(base * user.concentration + 1e-3)
            n = int(rng.integers(user.events_per_window[0], user.events_per_window[1] + 1))
            cats = rng.choice(len(CATEGORIES), size=n, p=p)
            picks = rng.integers(0, items_per_category, size=n)
            first = (np.datetime64("2015-01", "M") + month).astype("datetime64[ns]")
            stamps = first + (1 + 7 * np.arange(n)).astype("timedelta64[h]")
            ratings = rng.integers(1, 6, size=n)
            rows += [
                (user.user_id, f"c{c}i{i}", ts, float(r)) for c, i, ts, r in zip(cats, picks, stamps, ratings, strict=True)
            ]
            month += 1
    return rows


def shifted(uid: str, n_before: int, n_after: int, a: dict[str, float], b: dict[str, float], epw=(15, 25)):
    """A user with distribution ``a`` for ``n_before`` windows, then ``b`` for ``n_after`` windows."""
    return SynthUser(uid, [(n_before, a), (n_after, b)], epw, boundaries=[n_before])


def steady(uid: str, n: int, a: dict[str, float], epw=(15, 25), concentration: float | None = None):
    """A user with one distribution throughout (optionally with Dirichlet month-to-month noise)."""
    return SynthUser(uid, [(n, a)], epw, concentration)


A = {"Sci-Fi": 0.6, "Comedy": 0.3, "Horror": 0.1}
B = {"Documentary": 0.6, "Comedy": 0.3, "Romance": 0.1}
MIXED = {"Sci-Fi": 0.3, "Comedy": 0.25, "Horror": 0.2, "Documentary": 0.15, "Romance": 0.1}


def population(seed: int, n_each: int = 10) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, SynthUser]]:
    """Shifted, steady and noisy-but-steady users. Returns (events, items, users by id)."""
    rng = np.random.default_rng(seed)
    users: list[SynthUser] = []
    for i in range(n_each):
        n_before, n_after = int(rng.integers(5, 13)), int(rng.integers(5, 13))
        users.append(shifted(f"shift{i}", n_before, n_after, A, B))
        users.append(steady(f"steady{i}", int(rng.integers(6, 30)), MIXED))
        users.append(steady(f"noisy{i}", int(rng.integers(6, 30)), MIXED, epw=(1, 8), concentration=8.0))
    return frame_of(users, rng), make_catalog(), {u.user_id: u for u in users}


def frame_of(
    users: list[SynthUser], rng: np.random.Generator, items_per_category: int = ITEMS_PER_CATEGORY
) -> pd.DataFrame:
    """Canonical events frame of several synthetic users."""
    rows = [r for u in users for r in user_events(u, rng, items_per_category=items_per_category)]
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp", "rating"])
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True).astype("datetime64[ns, UTC]")
    frame["weight"] = 1.0
    frame["event"] = "rating"
    frame["text"] = ""
    return frame.sort_values(["user_id", "timestamp", "item_id"], ignore_index=True)


def windows_of(users: list[SynthUser], seed: int = 0) -> tuple[dict[str, list[Window]], pd.DataFrame]:
    """Monthly windows of each user, and the catalog."""
    items = make_catalog()
    table = compute_windows(frame_of(users, np.random.default_rng(seed)), items, WindowConfig(freq="month"))
    return {u: table.for_user(u) for u in table.users()}, items
