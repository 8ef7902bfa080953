"""Top-k ranking metrics over full catalog rankings.

Ranks are by descending score; ties are broken by catalog order (lower index first), so results are
deterministic. ``-inf`` scores (masked items) rank last.

For a user with target set ``T`` and relevance ``rel_r`` (1 when the item at rank ``r`` is in ``T``):

* ``ndcg@10`` = ``sum_{r<=10} rel_r / log2(r + 1)`` divided by the same sum for an ideal ranking of
  ``min(|T|, 10)`` targets;
* ``hit@10`` = 1 when any target is in the top 10;
* ``recall@20`` = targets in the top 20 divided by ``|T|``;
* ``mrr@10`` = ``1 / rank`` of the first target when it is in the top 10, else 0.
"""

from __future__ import annotations

import numpy as np

METRIC_NAMES = ("ndcg@10", "hit@10", "recall@20", "mrr@10")


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Return the indices of the ``k`` best items per row, best first (ties by lower index).

    Args:
        scores: (users, items) scores; NaN counts as ``-inf``.
        k: How many to keep (at most the number of items).
    """
    scores = np.nan_to_num(np.asarray(scores, dtype=np.float64), nan=-np.inf, posinf=np.finfo(np.float64).max)
    k = min(k, scores.shape[1])
    if k < scores.shape[1]:
        # Everything strictly above the k-th best value is in; fill the rest by index among ties.
        part = np.partition(-scores, k - 1, axis=1)[:, k - 1 : k]
        out = np.empty((scores.shape[0], k), dtype=np.int64)
        for i in range(scores.shape[0]):
            cand = np.flatnonzero(-scores[i] <= part[i, 0])
            order = np.lexsort((cand, -scores[i, cand]))
            out[i] = cand[order][:k]
        return out
    return np.lexsort((np.broadcast_to(np.arange(scores.shape[1]), scores.shape), -scores), axis=1)


def per_user_metrics(ranked: np.ndarray, targets: list[np.ndarray]) -> dict[str, np.ndarray]:
    """Per-user metrics from top-20 (or longer) ranked lists and target sets."""
    n = len(targets)
    out = {name: np.zeros(n) for name in METRIC_NAMES}
    discounts = 1.0 / np.log2(np.arange(2, 12))
    for i, target in enumerate(targets):
        target = np.unique(np.asarray(target, dtype=np.int64))
        if len(target) == 0:
            continue
        rel = np.isin(ranked[i, :20], target).astype(np.float64)
        rel10 = rel[:10]
        ideal = discounts[: min(len(target), 10)].sum()
        out["ndcg@10"][i] = float(rel10 @ discounts[: len(rel10)]) / ideal
        out["hit@10"][i] = float(rel10.any())
        out["recall@20"][i] = rel.sum() / len(target)
        first = np.flatnonzero(rel10)
        out["mrr@10"][i] = 1.0 / (first[0] + 1) if len(first) else 0.0
    return out


def ranking_metrics(scores: np.ndarray, targets: list[np.ndarray]) -> dict[str, float]:
    """Mean NDCG@10, Hit@10, Recall@20 and MRR@10 over users.

    Args:
        scores: (users, items) scores; higher is better.
        targets: Per user, the catalog indices of the relevant items (non-empty).

    Returns:
        ``{"ndcg@10", "hit@10", "recall@20", "mrr@10"}`` means (0.0 each when there are no users).
    """
    if len(targets) == 0:
        return {name: 0.0 for name in METRIC_NAMES}
    per = per_user_metrics(top_k(scores, 20), targets)
    return {name: float(values.mean()) for name, values in per.items()}


def catalog_coverage(ranked: np.ndarray, n_items: int, k: int = 10) -> float:
    """Share of the catalog that appears in at least one user's top ``k``."""
    if n_items == 0 or len(ranked) == 0:
        return 0.0
    return float(len(np.unique(ranked[:, :k])) / n_items)
