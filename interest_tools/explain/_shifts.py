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

The models and config are in :mod:`interest_tools.explain._models`, the change-point search in
:mod:`interest_tools.explain._change_points` (both re-exported here).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from interest_tools.explain._change_points import Profile, find_change_points, profile_of, tv_distance, user_rng
from interest_tools.explain._models import CategoryChange, ExplainConfig, Shift, StableInterest
from interest_tools.windows import Window

__all__ = [
    "category_changes",
    "change_noise",
    "detect_shifts",
    "evidence_items",
    "recent_changes",
    "stable_core",
]


def category_changes(
    cats: list[str], before: np.ndarray, after: np.ndarray, cfg: ExplainConfig, noise: np.ndarray | None = None
) -> dict[str, list[CategoryChange]]:
    """Return rising, falling, new and faded categories between two pooled share vectors.

    ``rising`` and ``falling`` hold the changes that matter (largest first, at most ``max_listed``): at least
    ``min_change`` in share, at least ``min_relative_change`` of the larger of the two shares, and, when
    ``noise`` (the standard error of each category's change, from :func:`change_noise`) is given, at least
    ``min_change_z`` standard errors unless the category appeared or vanished. A smaller move is the category's
    ordinary variation: it stays steady. When no category clears that bar (a significant shift spread thinly over
    many categories), the bar is one standard error lower, so the shift still names its clearest movers.
    ``new`` (absent before, present after) and ``faded`` (present before, absent after) may repeat entries of
    ``rising``/``falling``: they mark categories that appeared or disappeared.
    """

    def change(j: int) -> CategoryChange:
        return CategoryChange(category=cats[j], before=round(float(before[j]), 4), after=round(float(after[j]), 4))

    delta = after - before
    size = np.abs(delta)
    appeared = (before < cfg.absent_share) & (after >= cfg.present_share)
    vanished = (after < cfg.absent_share) & (before >= cfg.present_share)
    matters = (size >= cfg.min_change) & (size >= cfg.min_relative_change * np.maximum(before, after))
    if noise is not None:  # appearing or vanishing is itself the evidence; otherwise beat the own variation
        beyond = (size >= cfg.min_change_z * noise) | appeared | vanished
        if not (matters & beyond).any():  # a shift spread thinly: name its clearest movers, one error lower
            beyond = size >= (cfg.min_change_z - 1) * noise
        matters &= beyond
    order = sorted(range(len(cats)), key=lambda j: (-abs(float(delta[j])), cats[j]))
    rising = [j for j in order if matters[j] and delta[j] > 0][: cfg.max_listed]
    falling = [j for j in order if matters[j] and delta[j] < 0][: cfg.max_listed]
    new = [j for j in order if appeared[j]]
    faded = [j for j in order if vanished[j]]
    return {
        "rising": [change(j) for j in rising],
        "falling": [change(j) for j in falling],
        "new": [change(j) for j in new],
        "faded": [change(j) for j in faded],
    }


def change_noise(prof: Profile, before: tuple[int, int], after: tuple[int, int]) -> np.ndarray:
    """Standard error of each category's change of pooled share between two runs of windows.

    Each side's windows are read as draws around the side's pooled share ``p`` with variance ``s2 / n_t``
    (``n_t`` the window's events): ``s2`` is estimated from the windows' own spread
    (``sum n_t (p_t - p)^2 / (T - 1)``) and is never below the multinomial ``p (1 - p)``, so a category that
    swings from month to month needs a larger change to count. The pooled share then has variance ``s2 / N``.
    """
    var = np.zeros(len(prof.categories))
    for lo, hi in (before, after):
        n = prof.n_events[lo:hi]
        total = float(n.sum())
        if hi <= lo or total <= 0:
            continue
        p = prof.pooled(lo, hi)
        spread = n @ (prof.shares[lo:hi] - p) ** 2 / max(hi - lo - 1, 1)
        var += np.maximum(spread, p * (1 - p)) / total
    return np.asarray(np.sqrt(var))


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
        changes = category_changes(prof.categories, before, after, cfg, change_noise(prof, (lo, k), (k, hi)))
        sides: dict[str, str] = {}
        evidence = evidence_items(wins, (lo, k), (k, hi), changes, item_categories or {}, cfg, sides)
        shifts.append(
            Shift(
                before=prof.span(lo, k),
                after=prof.span(k, hi),
                magnitude=round(tv_distance(before, after), 4),
                evidence_item_ids=evidence,
                evidence_after=[i for i in evidence if sides.get(i) == "after"],
                p_value=round(found[k], 6),
                boundary=k,
                before_windows=(lo, k),
                after_windows=(k, hi),
                **changes,
            )
        )
    shifts.sort(key=lambda s: (-s.magnitude, s.boundary))
    return shifts


def recent_changes(
    windows: Sequence[Window], recent: int = 3, config: ExplainConfig | None = None
) -> dict[str, list[CategoryChange]]:
    """Rising, falling, new and faded categories of the last ``recent`` windows against the windows before them.

    The same rules as a shift's lists (:func:`category_changes` with the windows' own variation), without the
    permutation test: a trend too recent to be called a shift yet. Empty lists with fewer than ``recent + 2``
    windows.
    """
    cfg = config or ExplainConfig()
    wins = sorted(windows, key=lambda w: w.start)
    if len(wins) < recent + 2:
        return {"rising": [], "falling": [], "new": [], "faded": []}
    prof, k, t = profile_of(wins), len(wins) - recent, len(wins)
    noise = change_noise(prof, (0, k), (k, t))
    return category_changes(prof.categories, prof.pooled(0, k), prof.pooled(k, t), cfg, noise)


def evidence_items(
    wins: Sequence[Window],
    before: tuple[int, int],
    after: tuple[int, int],
    changes: dict[str, list[CategoryChange]],
    item_categories: dict[str, list[str]],
    cfg: ExplainConfig,
    sides: dict[str, str] | None = None,
) -> list[str]:
    """Pick items of the user's history that show a shift.

    For each rising (then new) category: its first items after the shift (windows nearest the shift first,
    each window's items by weight); for each falling (then faded) category: its last items before the shift.
    Rising and falling categories alternate; ``evidence_per_category`` each, ``max_evidence`` in all.
    ``sides``, when given, receives each picked item's side of the shift: "before" or "after".
    """
    picked: list[str] = []
    side_of = sides if sides is not None else {}

    def take(category: str, positions: range, side: str) -> None:
        got = 0
        for pos in positions:
            for item in wins[pos].item_ids:
                if got >= cfg.evidence_per_category or len(picked) >= cfg.max_evidence:
                    return
                if item not in picked and category in item_categories.get(item, ()):
                    picked.append(item)
                    side_of[item] = side
                    got += 1

    after_pos = range(after[0], after[1])
    before_pos = range(before[1] - 1, before[0] - 1, -1)
    rise = list(dict.fromkeys(c.category for c in changes["rising"] + changes["new"]))
    fall = list(dict.fromkeys(c.category for c in changes["falling"] + changes["faded"]))
    plan: list[tuple[str, range, str]] = []
    for i in range(max(len(rise), len(fall))):  # alternate, so both sides get evidence
        plan += [(rise[i], after_pos, "after")] if i < len(rise) else []
        plan += [(fall[i], before_pos, "before")] if i < len(fall) else []
    for category, positions, side in plan:
        take(category, positions, side)
    return picked
