"""Recommend items from the forecast: retrieve candidates, re-rank, and give every item a reason.

Candidates come from two places: the item store searched with the forecast's interest vector (text space, so
items nobody has touched yet are recommendable from their text: cold start), and the forecaster's own item
scores when it has them (the learned item tower ranks best on history). They are re-ranked by a weighted sum
of the model score, similarity to the forecast vector, fit to the forecast category distribution and a small
popularity prior, then optionally diversified with maximal marginal relevance (MMR). Items the user already
has, and stated dislikes, are excluded. When the user's explanation is given, the category weights follow the
latest shift (a category the user left weighs no more than after the shift; see
:func:`interest_tools.recommend._reasons.ranking_weights`). Each reason says what the explanation and forecast
say of the item's category and names the past item of the user it most resembles
(:mod:`interest_tools.recommend._reasons`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from interest_tools.data import Catalog
from interest_tools.recommend._reasons import (
    Standing,
    category_reason,
    left_fraction,
    most_similar_past,
    ranking_weights,
    standing_of,
)

if TYPE_CHECKING:
    from interest_tools.explain import CategoryChange, Shift, StableInterest
    from interest_tools.forecast import Forecast


_HISTORY = 300  # past items searched for the "like X" evidence (best rated, then newest, first)


class ItemIndex(Protocol):
    """What recommending needs of the item store (:class:`interest_tools.store.InterestStore`)."""

    def query_items(
        self,
        vector: Sequence[float] | None = None,
        text: str | None = None,
        k: int = 10,
        exclude_ids: Collection[str] = (),
        categories_any: Collection[str] | None = None,
        categories_none: Collection[str] | None = None,
    ) -> list[Any]:
        """Nearest items (objects with item_id, score)."""
        ...

    def get_item_vectors(self, item_ids: Sequence[str]) -> np.ndarray:
        """Vectors of the given items, in order."""
        ...


class RecommendConfig(BaseModel):
    """How candidates are gathered and re-ranked."""

    model_config = ConfigDict(extra="forbid")

    k: int = Field(default=10, ge=1, le=200, description="How many items to return.")
    n_candidates: int = Field(default=200, ge=10, description="Candidates gathered from each source before re-ranking.")
    w_model: float = Field(default=1.0, ge=0, description="Weight of the forecaster's item score (rank-normalised).")
    w_similarity: float = Field(default=0.5, ge=0, description="Weight of cosine similarity to the forecast vector.")
    w_category: float = Field(default=0.5, ge=0, description="Weight of the item's fit to the forecast categories.")
    w_popularity: float = Field(default=0.1, ge=0, description="Weight of the log-popularity prior (0..1 scaled).")
    w_left: float = Field(
        default=1.0,
        ge=0,
        description="Penalty for an item of categories the user left at the latest shift, times the fraction left "
        "(explain: 90% -> 4% is 0.96 left); not applied to categories asked for.",
    )
    mmr_lambda: float | None = Field(
        default=None, ge=0, le=1, description="MMR trade-off (1 = relevance only); None turns diversity off."
    )
    exclude_seen: bool = Field(default=True, description="Leave out items the user already interacted with.")


class RecommendedItem(BaseModel):
    """One recommended item with the evidence behind it."""

    item_id: str = Field(description="Item id.")
    title: str = Field(description="Item title.")
    categories: list[str] = Field(description="Item categories.")
    score: float = Field(description="Re-ranking score (higher is better).")
    reason: str = Field(description="Why: the forecast interest it serves and the past item it resembles.")


class Recommendations(BaseModel):
    """The JSON of ``interest-tools recommend``."""

    user_id: str = Field(description="The user.")
    items: list[RecommendedItem] = Field(description="Recommended items, best first.")


@dataclass
class Preferences:
    """What the person said in the chat, applied on top of what they did."""

    liked_items: list[str] = field(default_factory=list)
    rejected_items: list[str] = field(default_factory=list)
    excluded_categories: list[str] = field(default_factory=list)
    boosted_categories: list[str] = field(default_factory=list)


@dataclass
class UserContext:
    """The evidence about one user that re-ranking and reasons need."""

    user_id: str
    seen: set[str]
    history: list[tuple[str, float | None]]  # (item_id, rating) most telling first
    category_weights: Mapping[str, float]  # forecast next-window distribution
    rising: list[str]
    interest_vector: np.ndarray | None
    model_scores: pd.Series | None = None  # item_id -> score from the forecaster
    standing: Standing = field(default_factory=Standing)  # what explain and forecast say of each category


def user_context(
    forecast: Forecast,
    events: pd.DataFrame,
    item_scores: np.ndarray | None,
    item_ids: pd.Index,
    shifts: Sequence[Shift] = (),
    stable: Sequence[StableInterest] = (),
    recent: Mapping[str, Sequence[CategoryChange]] | None = None,
) -> UserContext:
    """The evidence recommend needs: the user's events, one forecaster pass and the user's explanation.

    Args:
        forecast: The (framed) forecast of the user's next window.
        events: The user's canonical events.
        item_scores: The forecaster's score of every catalog item (catalog order), if any.
        item_ids: The catalog's item ids in catalog order (an object-dtype index is fastest to look up).
        shifts: The user's shifts (``explain``), so that ranking and reasons follow the latest one.
        stable: The user's stable core (``explain``), the only categories a reason calls steady.
        recent: The user's last windows against the ones before (``recent_changes``), steering the ranking
            when no shift has been found yet.
    """
    ids = events["item_id"].tolist()
    ratings = events["rating"].to_numpy(dtype=float)
    times = events["timestamp"].array.asi8  # type: ignore[attr-defined]
    # highest rated first, newest first among equals, unrated last (as sort_values with na_position="last")
    order = np.lexsort((-times, -np.nan_to_num(ratings, nan=-np.inf)))
    history: list[tuple[str, float | None]] = []
    taken: set[str] = set()
    for i in order.tolist():  # each item once, at its best rating
        if ids[i] not in taken:
            taken.add(ids[i])
            history.append((ids[i], None if np.isnan(ratings[i]) else float(ratings[i])))
            if len(history) == _HISTORY:
                break
    return UserContext(
        user_id=forecast.user_id,
        seen=set(ids),
        history=history,
        category_weights=forecast.category_weights,
        rising=[c.category for c in forecast.rising],
        interest_vector=np.asarray(forecast.interest_vector, dtype=np.float32) if forecast.interest_vector else None,
        model_scores=None if item_scores is None else pd.Series(item_scores, index=item_ids),
        standing=standing_of(forecast, shifts, stable, recent),
    )


def rank_normalise(scores: pd.Series) -> pd.Series:
    """Map scores to (0, 1] by rank, so that sources on different scales can be added."""
    if scores.empty:
        return scores
    return scores.rank(method="average", pct=True)


def _mmr(candidates: list[str], relevance: np.ndarray, vectors: np.ndarray, k: int, lam: float) -> list[int]:
    chosen: list[int] = []
    left = list(range(len(candidates)))
    sims = vectors @ vectors.T
    while left and len(chosen) < k:
        penalty = sims[np.ix_(left, chosen)].max(axis=1) if chosen else np.zeros(len(left))
        mmr = lam * relevance[left] - (1 - lam) * penalty
        best = left[int(np.argmax(mmr))]
        chosen.append(best)
        left.remove(best)
    return chosen


def _reason(
    item_cats: list[str],
    item_vec: np.ndarray | None,
    ctx: UserContext,
    past: tuple[list[list[str]], np.ndarray | None],
    titles: Mapping[str, str],
    asked: Collection[str],
) -> str:
    parts = [category_reason(item_cats, ctx.standing, ctx.category_weights, asked)]  # the forecast's own shares
    best = most_similar_past(item_cats, item_vec, *past)
    if best is not None:
        past_id, rating = ctx.history[best]
        title = titles.get(past_id, past_id)
        parts.append(f"like {title}" + (f", which you rated {rating:g}" if rating is not None else ", which you chose"))
    text = "; ".join(p for p in parts if p) or "close to your forecast interests"
    return text[0].upper() + text[1:] + "."


def recommend(
    ctx: UserContext,
    *,
    index: ItemIndex,
    items: pd.DataFrame,
    popularity: pd.Series,
    config: RecommendConfig | None = None,
    preferences: Preferences | None = None,
    categories_any: Collection[str] | None = None,
    categories_none: Collection[str] | None = None,
    catalog: Catalog | None = None,
) -> Recommendations:
    """Recommend items for one user.

    Args:
        ctx: The user's forecast, history and (optional) model scores.
        index: The item store.
        items: Canonical catalog (titles and categories).
        popularity: Interaction counts by item id (missing items count 0).
        config: Re-ranking weights.
        preferences: Stated likes and dislikes from the chat.
        categories_any: Only items with at least one of these categories.
        categories_none: No items with any of these categories.
        catalog: ``Catalog.of(items)`` computed once by a long-lived caller (saves rebuilding it per call).

    Returns:
        Up to ``k`` items, best first, each with a reason.
    """
    config = config or RecommendConfig()
    prefs = preferences or Preferences()
    excluded_cats = set(categories_none or ()) | set(prefs.excluded_categories)
    blocked = set(prefs.rejected_items) | (ctx.seen if config.exclude_seen else set())
    catalog = catalog or Catalog.of(items)
    cats_of, titles = catalog.categories, catalog.titles

    def allowed(item_id: str) -> bool:
        cats = cats_of.get(item_id, [])
        if item_id in blocked or item_id not in cats_of or excluded_cats.intersection(cats):
            return False
        return not categories_any or bool(set(categories_any).intersection(cats))

    query = ctx.interest_vector
    if prefs.liked_items:
        liked = index.get_item_vectors(prefs.liked_items)
        liked = liked[~np.isnan(liked).any(axis=1)]
        if len(liked):
            base = query if query is not None else np.zeros(liked.shape[1], dtype=np.float32)
            query = base + liked.mean(axis=0)
    similarity: dict[str, float] = {}
    if query is not None:
        hits = index.query_items(
            vector=(query / (np.linalg.norm(query) or 1.0)).tolist(),
            k=config.n_candidates,
            exclude_ids=sorted(blocked)[:5000],
            categories_any=categories_any,
            categories_none=sorted(excluded_cats) or None,
        )
        similarity = {h.item_id: float(h.score) for h in hits}
    model = pd.Series(dtype=float)
    if ctx.model_scores is not None and len(ctx.model_scores):
        model = rank_normalise(_top_allowed(ctx.model_scores, allowed, config.n_candidates))
    candidates = [i for i in dict.fromkeys([*model.index, *similarity]) if allowed(i)]
    if not candidates:
        return Recommendations(user_id=ctx.user_id, items=[])
    pop = np.log1p(popularity.reindex(candidates).fillna(0).to_numpy(dtype=float))
    pop = pop / (pop.max() or 1.0)
    weights = ranking_weights(ctx.category_weights, ctx.standing)
    cat_fit = np.array([_category_fit(cats_of[i], weights, prefs) for i in candidates])
    sim = np.array([similarity.get(i, 0.0) for i in candidates])
    mod = model.reindex(candidates).fillna(0.0).to_numpy()
    relevance = config.w_model * mod + config.w_similarity * sim + config.w_category * cat_fit
    asked = {*(categories_any or ()), *prefs.boosted_categories}
    left = np.array([0.0 if asked & set(cats_of[i]) else left_fraction(cats_of[i], ctx.standing) for i in candidates])
    relevance = relevance + config.w_popularity * pop - config.w_left * left
    order = list(np.argsort(-relevance, kind="stable"))
    vectors = index.get_item_vectors(candidates)
    if config.mmr_lambda is not None:
        top = order[: max(config.k * 5, 50)]
        picked = _mmr(
            [candidates[i] for i in top], relevance[top], np.nan_to_num(vectors[top]), config.k, config.mmr_lambda
        )
        order = [top[i] for i in picked]
    hist_ids = [h for h, _ in ctx.history]
    hist_vecs = np.nan_to_num(index.get_item_vectors(hist_ids)) if hist_ids else None
    past = ([list(cats_of.get(h, [])) for h in hist_ids], hist_vecs)
    out = []
    for i in order[: config.k]:
        item_id = candidates[i]
        reason = _reason(cats_of[item_id], np.nan_to_num(vectors[i]), ctx, past, titles, asked)
        out.append(
            RecommendedItem(
                item_id=item_id,
                title=titles[item_id],
                categories=list(cats_of[item_id]),
                score=round(float(relevance[i]), 6),
                reason=reason,
            )
        )
    return Recommendations(user_id=ctx.user_id, items=out)


def _top_allowed(scores: pd.Series, allowed: Callable[[str], bool], n: int) -> pd.Series:
    """The ``n`` largest allowed scores, largest first (ties in index order), like filter-then-``nlargest``.

    Walks the scores in descending order and stops after ``n`` allowed items instead of testing every item.
    """
    values = scores.to_numpy(dtype=float)
    index = scores.index
    picked: list[int] = []
    head = min(len(values), 4 * n)  # most of the best are allowed: sort a head first, everything only if needed
    while True:
        part = np.argpartition(-np.nan_to_num(values, nan=-np.inf), head - 1)[:head] if head < len(values) else None
        # every score at least the head's smallest (so that ties at the cut are all kept), or everything
        order = np.arange(len(values)) if part is None else np.flatnonzero(values >= np.nanmin(values[part]))
        order = order[np.lexsort((order, -values[order]))]  # descending, ties in index order (a stable sort)
        order = order[~np.isnan(values[order])]
        picked = []
        for pos in order.tolist():
            if allowed(index[pos]):
                picked.append(pos)
                if len(picked) == n:
                    break
        if len(picked) == n or part is None:
            return scores.iloc[picked]
        head = min(len(values), head * 4)


def _category_fit(cats: list[str], weights: Mapping[str, float], prefs: Preferences) -> float:
    if not cats:
        return 0.0
    fit = sum(weights.get(c, 0.0) for c in cats) / len(cats) ** 0.5
    return fit + 0.5 * any(c in prefs.boosted_categories for c in cats)
