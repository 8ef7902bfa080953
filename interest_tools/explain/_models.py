"""The shift detection config (:class:`ExplainConfig`) and the models of its results (shifts, changes, stable core)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


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
    min_relative_change: float = Field(
        default=0.25,
        ge=0.0,
        le=1.0,
        description="Smallest share change, as a fraction of the larger of the two shares, for a category to count "
        "as rising/falling (a 46% -> 41% move is steady).",
    )
    min_change_z: float = Field(
        default=3.0,
        ge=0.0,
        description="Smallest share change in standard errors of the category's own window-to-window variation "
        "for it to count as rising/falling.",
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
    evidence_after: list[str] = Field(
        default_factory=list, exclude=True, description="The evidence items taken from after the shift (rest: before)."
    )
    p_value: float = Field(default=1.0, exclude=True, description="Permutation p-value of the split.")
    boundary: int = Field(default=0, exclude=True, description="Position of the first window after the shift.")
    before_windows: tuple[int, int] = Field(default=(0, 0), exclude=True, description="Window positions [lo, hi).")
    after_windows: tuple[int, int] = Field(default=(0, 0), exclude=True, description="Window positions [lo, hi).")


class StableInterest(BaseModel):
    """A category that stays high through the whole history."""

    category: str = Field(description="Category name.")
    share: float = Field(description="Pooled share over the whole history.")
    coverage: float = Field(description="Event-weighted fraction of windows where it is clearly present.")
