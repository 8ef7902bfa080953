"""Baseline forecasters behind the :class:`~interest_tools.forecast._types.Forecaster` protocol.

* ``pop``: everyone gets the global category mix; items ranked by popularity (summed event weight).
* ``last_window``: the next window repeats the user's last window.
* ``ema``: an exponential moving average of the user's windows (``alpha`` on the newest).

The window-based baselines rank items by category-conditioned popularity: an item's score is
``sum_c P(c) * P(item | c)``, where ``P(c)`` is the forecast category share and ``P(item | c)`` the item's share
of the popularity of category ``c`` (an item's weight split equally among its categories). Their interest vector
is the weighted mean of the item embeddings of the windows they average.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from interest_tools.errors import NotBuiltError
from interest_tools.forecast._profile import (
    ItemSpace,
    TableView,
    check_item_vectors,
    make_forecast,
    next_window,
    unit,
    view_for,
)
from interest_tools.forecast._types import Forecast
from interest_tools.windows import WindowTable


class _ProfileForecaster:
    """Shared fitting and scoring of the baselines; subclasses define :meth:`profile`."""

    name = "profile"

    def __init__(self, recent_windows: int = 3, shift_threshold: float = 0.02) -> None:
        self.recent_windows = recent_windows
        self.shift_threshold = shift_threshold
        self._views: dict[int, TableView] = {}
        self._table: WindowTable | None = None

    def fit(self, windows: WindowTable, items: pd.DataFrame, item_vectors: np.ndarray) -> _ProfileForecaster:
        """Count popularity over every window and keep the table as the default history."""
        self.space = ItemSpace.from_items(items)
        self.item_vectors = check_item_vectors(item_vectors, self.space)
        self._table = windows
        view = self._view(windows)
        raw_w = self._raw_item_weights(windows, view)
        self.popularity = raw_w
        member = self.space.membership()
        self.cat_pop = member * raw_w[:, None]  # (items, categories)
        col = self.cat_pop.sum(0)
        self.p_item_given_cat = self.cat_pop / np.where(col > 0, col, 1.0)
        n = windows.frame["n_events"].to_numpy().astype(np.float64)
        glob = (n[:, None] * view.cats).sum(0)
        self.global_share = glob / max(glob.sum(), 1e-12)
        self.pop_vector = unit(raw_w @ self.item_vectors.astype(np.float64))
        return self

    def _raw_item_weights(self, table: WindowTable, view: TableView) -> np.ndarray:
        """Summed event weight of each catalog item over all windows (event counts when weights are 1)."""
        lookup = pd.Index(self.space.item_ids).get_indexer(np.asarray(table.item_ids, dtype=object).astype(str))
        idx = lookup[table.item_codes]
        keep = idx >= 0
        return np.bincount(idx[keep], weights=table.item_weights[keep], minlength=self.space.n_items)

    def _view(self, windows: WindowTable | None) -> TableView:
        table = windows if windows is not None else self._table
        if table is None or not hasattr(self, "space"):
            raise NotBuiltError(f"the {self.name} forecaster is not fitted: call fit(windows, items, item_vectors)")
        return view_for(self._views, table, self.space)

    def profile(self, user_id: str, view: TableView) -> tuple[np.ndarray, np.ndarray]:
        """Return the forecast (category share, interest vector) of the user's next window."""
        raise NotImplementedError

    def forecast(self, user_id: str, windows: WindowTable | None = None) -> Forecast:
        """Forecast the user's next window."""
        view = self._view(windows)
        share, interest = self.profile(user_id, view)
        return make_forecast(
            user_id,
            share,
            view.recent_share(user_id, self.recent_windows),
            self.space.categories,
            next_window(view.table, user_id),
            self.name,
            interest,
            self.shift_threshold,
        )

    def _scores(self, share: np.ndarray) -> np.ndarray:
        return (self.p_item_given_cat @ share).astype(np.float64)

    def score_items(
        self, user_id: str, windows: WindowTable | None = None, *, exclude_seen: bool = False
    ) -> np.ndarray:
        """Score every catalog item for the user (items already in their windows get ``-inf`` if excluded)."""
        view = self._view(windows)
        share, _ = self.profile(user_id, view)
        scores = self._scores(share)
        if exclude_seen:
            scores[view.seen(user_id)] = -np.inf
        return scores

    def score_users(self, user_ids: list[str], windows: WindowTable | None = None) -> np.ndarray:
        """Score every catalog item for many users: shape ``(len(user_ids), n_items)``."""
        out = np.empty((len(user_ids), self.space.n_items), dtype=np.float32)
        for i, user in enumerate(user_ids):
            out[i] = self.score_items(user, windows)
        return out


class PopularityForecaster(_ProfileForecaster):
    """Everyone's next window looks like the whole population's; items ranked by popularity."""

    name = "pop"

    def profile(self, user_id: str, view: TableView) -> tuple[np.ndarray, np.ndarray]:
        """Global category share and popularity-weighted mean item vector."""
        view.rows(user_id)  # unknown users raise
        return self.global_share.copy(), self.pop_vector.copy()

    def _scores(self, share: np.ndarray) -> np.ndarray:
        return self.popularity.astype(np.float64).copy()


class LastWindowForecaster(_ProfileForecaster):
    """The next window repeats the user's last window."""

    name = "last_window"

    def profile(self, user_id: str, view: TableView) -> tuple[np.ndarray, np.ndarray]:
        """The last window's category share and mean item vector."""
        last = view.rows(user_id).stop - 1
        return view.cats[last].astype(np.float64), view.mean_vector([last], self.item_vectors)


class EMAForecaster(_ProfileForecaster):
    """An exponential moving average of the user's windows, ``alpha`` on the newest."""

    name = "ema"

    def __init__(self, alpha: float = 0.5, recent_windows: int = 3, shift_threshold: float = 0.02) -> None:
        super().__init__(recent_windows, shift_threshold)
        if not 0.0 < alpha <= 1.0:
            raise ValueError("alpha must be in (0, 1]")
        self.alpha = alpha

    def _weights(self, n: int) -> np.ndarray:
        age = np.arange(n - 1, -1, -1, dtype=np.float64)
        w = self.alpha * (1.0 - self.alpha) ** age
        w[0] = (1.0 - self.alpha) ** (n - 1)  # the first window seeds the average
        return w

    def profile(self, user_id: str, view: TableView) -> tuple[np.ndarray, np.ndarray]:
        """EMA of the category shares and of the windows' mean item vectors."""
        rows = list(view.rows(user_id))[-200:]
        w = self._weights(len(rows))
        share = w @ view.cats[rows].astype(np.float64)
        vec = np.zeros(self.item_vectors.shape[1], dtype=np.float64)
        for weight, row in zip(w, rows, strict=True):
            idx, iw = view.items_of(row)
            if len(idx):
                vec += weight * (iw @ self.item_vectors[idx])
        return share / max(share.sum(), 1e-12), unit(vec)


BASELINES: dict[str, type[_ProfileForecaster]] = {
    "pop": PopularityForecaster,
    "last_window": LastWindowForecaster,
    "ema": EMAForecaster,
}
