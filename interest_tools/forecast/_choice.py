"""Honest model choice: the baselines' validation scores on the LSTM's own held-out windows.

Training holds out each user's last window and scores the LSTM on it (NDCG@10, earlier items masked). The same
windows are scored here for ``pop`` (item popularity over the training windows), ``last_window`` (the user's
last window's category shares) and ``ema`` (an exponential moving average of them, alpha 0.5), ranking items
by category-conditioned popularity exactly as :mod:`interest_tools.forecast._baselines` does. When a baseline
beats the LSTM (tiny logs), serving uses it and says so in every answer's ``model`` field.
"""

from __future__ import annotations

import numpy as np

from interest_tools.forecast._batching import Chunk
from interest_tools.forecast._metrics import ranking_metrics
from interest_tools.forecast._profile import ItemSpace, TableView

EMA_ALPHA = 0.5


def _ema_weights(n: int, alpha: float = EMA_ALPHA) -> np.ndarray:
    age = np.arange(n - 1, -1, -1, dtype=np.float64)
    w = alpha * (1.0 - alpha) ** age
    w[0] = (1.0 - alpha) ** (n - 1)
    return w


def baseline_validation(view: TableView, val: list[Chunk], space: ItemSpace) -> dict[str, float]:
    """Validation NDCG@10 of ``pop``, ``last_window`` and ``ema`` on the held-out windows of ``val``.

    Args:
        view: The training table seen through the item space.
        val: One validation chunk per user (its end row is the held-out window), as training uses.
        space: The item space (its category membership weights category-conditioned popularity).
    """
    held = np.array([e for _, e, _ in val], dtype=np.int64)
    row_of = np.repeat(np.arange(len(view.cats)), np.diff(view.item_indptr))
    train_item = ~np.isin(row_of, held)
    counts = np.bincount(view.item_idx[train_item], weights=view.item_w[train_item], minlength=space.n_items)
    cat_pop = space.membership() * counts[:, None]
    col = cat_pop.sum(0)
    p_item_given_cat = cat_pop / np.where(col > 0, col, 1.0)
    out: dict[str, float] = {}
    for name in ("pop", "last_window", "ema"):
        scores, targets = [], []
        for _, row in zip(val, held, strict=True):
            user = str(view.table.frame["user_id"].iat[row])
            lo = view.table.user_rows[user][0]
            target, _ = view.items_of(int(row))
            if not len(target) or row <= lo:
                continue
            if name == "pop":
                s = counts.astype(np.float64).copy()
            else:
                rows = np.arange(max(lo, row - 200), row) if name == "ema" else np.array([row - 1])
                w = _ema_weights(len(rows)) if name == "ema" else np.ones(1)
                share = w @ view.cats[rows].astype(np.float64)
                share = share / max(float(share.sum()), 1e-12)
                s = (p_item_given_cat @ share).astype(np.float64)
            seen = np.unique(view.item_idx[view.item_indptr[lo] : view.item_indptr[row]])
            s[np.setdiff1d(seen, target)] = -np.inf
            scores.append(s)
            targets.append(target)
        out[name] = ranking_metrics(np.stack(scores), targets)["ndcg@10"] if targets else 0.0
    return out


def choose(lstm_val: float, baseline_val: dict[str, float]) -> str:
    """The model to serve: the LSTM unless a baseline's validation NDCG@10 is strictly higher."""
    best = max(sorted(baseline_val), key=lambda k: baseline_val[k], default=None)
    if best is not None and baseline_val[best] > lstm_val:
        return best
    return "lstm"
