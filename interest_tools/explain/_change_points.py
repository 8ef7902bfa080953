"""Change points of one user's window profiles: binary segmentation with a permutation test.

:func:`find_change_points` runs the method described in :mod:`interest_tools.explain._shifts` on a :class:`Profile`
(one user's windows as arrays, from :func:`profile_of`).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from interest_tools.explain._models import ExplainConfig, Span
from interest_tools.windows import Window

_BATCH = 100  # permutations evaluated per vectorised batch


@dataclass
class Profile:
    """One user's windows as arrays: shares (T x C), event counts, category names, spans."""

    shares: np.ndarray
    n_events: np.ndarray
    categories: list[str]
    starts: list[datetime]
    ends: list[datetime]

    def pooled(self, lo: int, hi: int) -> np.ndarray:
        """Return the event-weighted pooled share vector of windows ``[lo, hi)``."""
        w = self.n_events[lo:hi].astype(np.float64)
        total = w.sum()
        if total <= 0:
            return np.asarray(self.shares[lo:hi].mean(axis=0))
        return np.asarray(w @ self.shares[lo:hi] / total)

    def span(self, lo: int, hi: int) -> Span:
        """Return the time span of windows ``[lo, hi)``."""
        return Span(start=self.starts[lo], end=self.ends[hi - 1])


def profile_of(windows: Sequence[Window]) -> Profile:
    """Stack windows (sorted by start) into a :class:`Profile`; categories sorted by name."""
    wins = sorted(windows, key=lambda w: w.start)
    cats = sorted({c for w in wins for c in w.category_weights})
    col = {c: j for j, c in enumerate(cats)}
    shares = np.zeros((len(wins), len(cats)))
    for i, w in enumerate(wins):
        for c, v in w.category_weights.items():
            shares[i, col[c]] = v
    sums = shares.sum(axis=1, keepdims=True)
    shares = np.divide(shares, sums, out=np.zeros_like(shares), where=sums > 0)
    n = np.array([max(w.n_events, 0) for w in wins], dtype=np.float64)
    return Profile(shares, n, cats, [w.start for w in wins], [w.end for w in wins])


def user_rng(seed: int, user_id: str) -> np.random.Generator:
    """Return a generator seeded by the config seed and the user id (independent of processing order)."""
    return np.random.default_rng([seed & 0xFFFFFFFF, zlib.crc32(user_id.encode())])


def tv_distance(p: np.ndarray, q: np.ndarray) -> float:
    """Return the total variation distance ``0.5 * sum|p - q|`` (in [0, 1] for distributions)."""
    return float(0.5 * np.abs(p - q).sum())


def _xlogx(x: np.ndarray) -> np.ndarray:
    return np.asarray(x * np.log(np.where(x > 0, x, 1.0)))


def _split_scan(counts: np.ndarray, n: np.ndarray, cfg: ExplainConfig) -> tuple[np.ndarray, np.ndarray]:
    """Score every split of a batch of window orders.

    Args:
        counts: (B, L, C) pseudo-counts ``n_t * p_t`` of each window, per order.
        n: (B, L) event counts per order.
        cfg: Support rules (sides' windows and events).

    Returns:
        (gains, tv), each (B, L - 1), for splitting before window ``k = 1 .. L-1``: the log-likelihood gain
        (``-inf`` where a support rule fails) and the total variation distance of the pooled sides.
    """
    left = np.cumsum(counts, axis=1)[:, :-1, :]
    total = counts.sum(axis=1, keepdims=True)
    right = total - left
    n_left = np.cumsum(n, axis=1)[:, :-1]
    n_tot = n.sum(axis=1, keepdims=True)
    n_right = n_tot - n_left

    def f(s: np.ndarray) -> np.ndarray:
        return np.asarray(_xlogx(s).sum(axis=-1) - _xlogx(s.sum(axis=-1)))

    gain = f(left) + f(right) - f(total)
    length = counts.shape[1]
    k = np.arange(1, length)
    ok = (k >= cfg.min_segment_windows) & (length - k >= cfg.min_segment_windows)
    ok = ok[None, :] & (n_left >= cfg.min_events_per_side) & (n_right >= cfg.min_events_per_side)
    with np.errstate(invalid="ignore", divide="ignore"):
        diff = left / np.maximum(n_left, 1e-12)[..., None] - right / np.maximum(n_right, 1e-12)[..., None]
    tv = 0.5 * np.abs(diff).sum(axis=-1)
    return np.where(ok, gain, -np.inf), tv


@dataclass
class _Candidate:
    lo: int
    hi: int
    k: int  # absolute position of the first window after the split
    magnitude: float
    p_value: float


def _best_split(prof: Profile, lo: int, hi: int, cfg: ExplainConfig, rng: np.random.Generator) -> _Candidate | None:
    """Test the best split of windows ``[lo, hi)``; return it when significant and supported."""
    length = hi - lo
    if length < 2 * cfg.min_segment_windows or prof.n_events[lo:hi].sum() < 2 * cfg.min_events_per_side:
        return None
    n = prof.n_events[lo:hi]
    counts = prof.shares[lo:hi] * n[:, None]
    gains, _ = _split_scan(counts[None], n[None], cfg)
    if not np.isfinite(gains[0]).any():
        return None
    k = int(np.argmax(gains[0]))
    observed = float(gains[0, k])
    split = lo + k + 1
    magnitude = tv_distance(prof.pooled(lo, split), prof.pooled(split, hi))
    if magnitude < cfg.min_magnitude or observed <= 0:
        return None
    tol = 1e-9 * max(observed, 1.0)
    exceed, done, null_tv = 0, 0, 0.0
    while done < cfg.permutations:
        b = min(_BATCH, cfg.permutations - done)
        order = rng.permuted(np.tile(np.arange(length), (b, 1)), axis=1)
        g, tv = _split_scan(counts[order], n[order], cfg)
        best = g.argmax(axis=1)
        perm_max = g[np.arange(b), best]
        exceed += int((perm_max >= observed - tol).sum())
        null_tv += float(np.where(np.isfinite(perm_max), tv[np.arange(b), best], 0.0).sum())
        done += b
        if (1 + exceed) / (1 + cfg.permutations) > cfg.alpha:
            return None  # cannot become significant any more
    if magnitude - null_tv / done < cfg.min_excess:
        return None  # significant but not larger than what noise alone gives by enough
    return _Candidate(lo, hi, split, magnitude, (1 + exceed) / (1 + done))


def find_change_points(prof: Profile, cfg: ExplainConfig, rng: np.random.Generator) -> dict[int, float]:
    """Binary segmentation: return ``{boundary position: p-value}`` of the accepted change points."""
    pending: list[tuple[int, int]] = [(0, len(prof.n_events))]
    tested: dict[tuple[int, int], _Candidate | None] = {}
    found: dict[int, float] = {}
    while len(found) < cfg.max_shifts:
        for seg in pending:
            tested[seg] = _best_split(prof, seg[0], seg[1], cfg, rng)
        pending = []
        live = [c for c in tested.values() if c is not None]
        if not live:
            break
        best = max(live, key=lambda c: (c.magnitude, -c.k))
        found[best.k] = best.p_value
        del tested[(best.lo, best.hi)]
        pending = [(best.lo, best.k), (best.k, best.hi)]
    return _prune(prof, found, cfg)


def _prune(prof: Profile, found: dict[int, float], cfg: ExplainConfig) -> dict[int, float]:
    """Merge away boundaries whose neighbouring final segments differ by less than ``min_magnitude``."""
    points = sorted(found)
    while points:
        edges = [0, *points, len(prof.n_events)]
        mags = [
            tv_distance(prof.pooled(edges[i], edges[i + 1]), prof.pooled(edges[i + 1], edges[i + 2]))
            for i in range(len(points))
        ]
        weakest = int(np.argmin(mags))
        if mags[weakest] >= cfg.min_magnitude:
            break
        points.pop(weakest)
    return {p: found[p] for p in points}
