"""Find where a user's interests changed: change points in their sequence of window category profiles.

Method (binary segmentation with a permutation test), on one user's windows in time order:

* Each window ``t`` is a category distribution ``p_t`` with a weight ``n_t`` (its event count). A segment of
  windows is pooled by those weights: ``sum(n_t * p_t) / sum(n_t)``.
* A split of a segment at window ``k`` is scored by how much better two pooled distributions fit than one:
  the multinomial log-likelihood gain ``N * H(pooled) - N_L * H(left) - N_R * H(right)`` (``N`` times the
  weighted Jensen-Shannon divergence of the two sides; ``H`` is entropy). The best split maximises it.
* Significance: the same maximum is computed for random orders of the segment's windows (each window keeps
  its events and weight). The split is significant when the observed maximum beats all but a fraction
  ``alpha`` of them. Window order is what is permuted, so month-to-month noise of any size (not just
  multinomial noise) is calibrated: a steady user whose months vary a lot is still steady.
* Support rules: each side has at least ``min_segment_windows`` windows and ``min_events_per_side`` events,
  and the pooled sides differ by at least ``min_magnitude`` in total variation distance.
* Accepted splits cut their segment in two and each part is searched again, largest change first, up to
  ``max_shifts``. Finally boundaries whose neighbouring segments (after all cuts) differ by less than
  ``min_magnitude`` are merged away.

A short history has few distinct window orders, so its smallest possible p-value is large: with the default
``alpha=0.01`` about 10 windows are needed before even a perfectly clean change can be called a shift. That is
deliberate: with fewer windows a change cannot be told apart from month-to-month noise.
"""

from __future__ import annotations

import itertools
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from interest_tools.windows import Window

_BATCH = 100  # permutations evaluated per vectorised batch


class ExplainConfig(BaseModel):
    """How shifts are detected and described."""

    model_config = ConfigDict(extra="forbid")

    min_segment_windows: int = Field(default=2, ge=1, description="Fewest windows on each side of a shift.")
    min_events_per_side: int = Field(default=10, ge=1, description="Fewest events on each side of a shift.")
    min_magnitude: float = Field(
        default=0.1, ge=0.0, le=1.0, description="Smallest total variation distance between the pooled sides."
    )
    min_excess: float = Field(
        default=0.02,
        ge=0.0,
        le=1.0,
        description="Smallest excess of that distance over its mean at the best split of random window orders.",
    )
    alpha: float = Field(
        default=0.005, gt=0.0, lt=1.0, description="Significance level of the permutation test of each split."
    )
    permutations: int = Field(
        default=1999, ge=19, le=100_000, description="Random window orders per test (stops early when hopeless)."
    )
    max_shifts: int = Field(default=3, ge=0, description="Most shifts reported per user.")
    min_change: float = Field(
        default=0.03, ge=0.0, le=1.0, description="Smallest share change for a category to count as rising/falling."
    )
    max_listed: int = Field(default=5, ge=1, description="Most categories listed as rising (and as falling).")
    present_share: float = Field(
        default=0.02, ge=0.0, le=1.0, description="Share at which a category counts as present (new/faded)."
    )
    absent_share: float = Field(
        default=0.005, ge=0.0, le=1.0, description="Share below which a category counts as absent (new/faded)."
    )
    stable_min_share: float = Field(
        default=0.1, ge=0.0, le=1.0, description="Stable core: lowest pooled share allowed in every segment."
    )
    stable_min_coverage: float = Field(
        default=0.6,
        ge=0.0,
        le=1.0,
        description="Stable core: smallest event-weighted fraction of windows where the category reaches "
        "half of stable_min_share.",
    )
    evidence_per_category: int = Field(default=2, ge=0, description="Evidence items per rising/falling category.")
    max_evidence: int = Field(default=8, ge=0, description="Most evidence item ids per shift.")
    trend_windows: int = Field(default=3, ge=1, description="history --as-of: windows shown up to the date.")
    seed: int = Field(default=0, description="Seed of the permutation test (mixed with the user id).")


class CategoryChange(BaseModel):
    """A category's pooled share before and after a shift (rounded to 4 decimals)."""

    category: str = Field(description="Category name.")
    before: float = Field(description="Pooled share before, in [0, 1].")
    after: float = Field(description="Pooled share after, in [0, 1].")


class Span(BaseModel):
    """A stretch of time covered by pooled windows: start of the first, exclusive end of the last (UTC)."""

    start: datetime = Field(description="Inclusive start (UTC).")
    end: datetime = Field(description="Exclusive end (UTC).")


class Shift(BaseModel):
    """One change of interests between two pooled segments of windows."""

    before: Span = Field(description="The pooled segment before the shift.")
    after: Span = Field(description="The pooled segment after the shift (its start is the shift).")
    rising: list[CategoryChange] = Field(description="Categories whose share rose, largest rise first.")
    falling: list[CategoryChange] = Field(description="Categories whose share fell, largest fall first.")
    new: list[CategoryChange] = Field(description="Categories absent before and present after.")
    faded: list[CategoryChange] = Field(description="Categories present before and absent after.")
    magnitude: float = Field(description="Total variation distance between the pooled sides, in [0, 1].")
    evidence_item_ids: list[str] = Field(description="Items of the user's history that show the shift.")
    p_value: float = Field(default=1.0, exclude=True, description="Permutation p-value of the split.")
    boundary: int = Field(default=0, exclude=True, description="Position of the first window after the shift.")
    before_windows: tuple[int, int] = Field(default=(0, 0), exclude=True, description="Window positions [lo, hi).")
    after_windows: tuple[int, int] = Field(default=(0, 0), exclude=True, description="Window positions [lo, hi).")


class StableInterest(BaseModel):
    """A category that stays high through the whole history."""

    category: str = Field(description="Category name.")
    share: float = Field(description="Pooled share over the whole history.")
    coverage: float = Field(description="Event-weighted fraction of windows where it is clearly present.")


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


def category_changes(
    cats: list[str], before: np.ndarray, after: np.ndarray, cfg: ExplainConfig
) -> dict[str, list[CategoryChange]]:
    """Return rising, falling, new and faded categories between two pooled share vectors.

    ``rising`` and ``falling`` hold changes of at least ``min_change`` (largest first, at most
    ``max_listed``); ``new`` (absent before, present after) and ``faded`` (present before, absent after)
    may repeat entries of ``rising``/``falling``: they mark categories that appeared or disappeared.
    """

    def change(j: int) -> CategoryChange:
        return CategoryChange(category=cats[j], before=round(float(before[j]), 4), after=round(float(after[j]), 4))

    delta = after - before
    order = sorted(range(len(cats)), key=lambda j: (-abs(float(delta[j])), cats[j]))
    rising = [j for j in order if delta[j] >= cfg.min_change][: cfg.max_listed]
    falling = [j for j in order if -delta[j] >= cfg.min_change][: cfg.max_listed]
    new = [j for j in order if before[j] < cfg.absent_share and after[j] >= cfg.present_share]
    faded = [j for j in order if after[j] < cfg.absent_share and before[j] >= cfg.present_share]
    return {
        "rising": [change(j) for j in rising],
        "falling": [change(j) for j in falling],
        "new": [change(j) for j in new],
        "faded": [change(j) for j in faded],
    }


def stable_core(prof: Profile, boundaries: Sequence[int], cfg: ExplainConfig) -> list[StableInterest]:
    """Return the categories that stay high through the whole history, largest pooled share first.

    Stable means a pooled share of at least ``stable_min_share`` in every segment between shifts, and at least
    ``stable_min_share / 2`` in windows that hold ``stable_min_coverage`` of the events.
    """
    t = len(prof.n_events)
    if t == 0:
        return []
    edges = [0, *sorted(boundaries), t]
    seg_min = np.min([prof.pooled(a, b) for a, b in itertools.pairwise(edges)], axis=0)
    overall = prof.pooled(0, t)
    w = prof.n_events / prof.n_events.sum() if prof.n_events.sum() > 0 else np.full(t, 1.0 / t)
    coverage = w @ (prof.shares >= cfg.stable_min_share / 2)
    keep = np.flatnonzero((seg_min >= cfg.stable_min_share) & (coverage >= cfg.stable_min_coverage))
    keep = keep[np.argsort(-overall[keep], kind="stable")]
    return [
        StableInterest(
            category=prof.categories[j], share=round(float(overall[j]), 4), coverage=round(float(coverage[j]), 4)
        )
        for j in keep
    ]


def detect_shifts(
    windows: Sequence[Window], config: ExplainConfig | None = None, item_categories: dict[str, list[str]] | None = None
) -> list[Shift]:
    """Find one user's shifts of interest, largest magnitude first.

    Args:
        windows: One user's windows (any order; sorted by start here).
        config: Detection rules; defaults when None.
        item_categories: Item id -> categories, for evidence items; no evidence when None.

    Returns:
        Shifts sorted by magnitude (largest first). ``before``/``after`` are the pooled segments between
        neighbouring shifts (or the history's ends), each from its first window's start to its last
        window's exclusive end.
    """
    cfg = config or ExplainConfig()
    if not windows:
        return []
    wins = sorted(windows, key=lambda w: w.start)
    prof = profile_of(wins)
    found = find_change_points(prof, cfg, user_rng(cfg.seed, wins[0].user_id))
    edges = [0, *sorted(found), len(wins)]
    shifts = []
    for i, k in enumerate(edges[1:-1], start=1):
        lo, hi = edges[i - 1], edges[i + 1]
        before, after = prof.pooled(lo, k), prof.pooled(k, hi)
        changes = category_changes(prof.categories, before, after, cfg)
        evidence = evidence_items(wins, (lo, k), (k, hi), changes, item_categories or {}, cfg)
        shifts.append(
            Shift(
                before=prof.span(lo, k),
                after=prof.span(k, hi),
                magnitude=round(tv_distance(before, after), 4),
                evidence_item_ids=evidence,
                p_value=round(found[k], 6),
                boundary=k,
                before_windows=(lo, k),
                after_windows=(k, hi),
                **changes,
            )
        )
    shifts.sort(key=lambda s: (-s.magnitude, s.boundary))
    return shifts


def evidence_items(
    wins: Sequence[Window],
    before: tuple[int, int],
    after: tuple[int, int],
    changes: dict[str, list[CategoryChange]],
    item_categories: dict[str, list[str]],
    cfg: ExplainConfig,
) -> list[str]:
    """Pick items of the user's history that show a shift.

    For each rising (then new) category: its first items after the shift (windows nearest the shift first,
    each window's items by weight); for each falling (then faded) category: its last items before the shift.
    Rising and falling categories alternate; ``evidence_per_category`` each, ``max_evidence`` in all.
    """
    picked: list[str] = []

    def take(category: str, positions: range) -> None:
        got = 0
        for pos in positions:
            for item in wins[pos].item_ids:
                if got >= cfg.evidence_per_category or len(picked) >= cfg.max_evidence:
                    return
                if item not in picked and category in item_categories.get(item, ()):
                    picked.append(item)
                    got += 1

    after_pos = range(after[0], after[1])
    before_pos = range(before[1] - 1, before[0] - 1, -1)
    rise = list(dict.fromkeys(c.category for c in changes["rising"] + changes["new"]))
    fall = list(dict.fromkeys(c.category for c in changes["falling"] + changes["faded"]))
    plan: list[tuple[str, range]] = []
    for i in range(max(len(rise), len(fall))):  # alternate, so both sides get evidence
        plan += [(rise[i], after_pos)] if i < len(rise) else []
        plan += [(fall[i], before_pos)] if i < len(fall) else []
    for category, positions in plan:
        take(category, positions)
    return picked
