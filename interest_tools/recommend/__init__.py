"""Recommendation against the forecast, with a reason for every item, and the person's stated feedback.

:func:`recommend` takes candidates from the forecaster's item scores and from the item vectors (so items never
seen in training are recommendable from their text), re-ranks them, excludes seen items and stated dislikes,
and says for each item which forecast interest it serves and which past item it resembles.
"""

from __future__ import annotations

from interest_tools.recommend._feedback import FEEDBACK_KINDS, FeedbackKind, check_feedback, describe, preferences_from
from interest_tools.recommend._recommend import (
    Preferences,
    Recommendations,
    RecommendConfig,
    RecommendedItem,
    UserContext,
    recommend,
    user_context,
)

__all__ = [
    "FEEDBACK_KINDS",
    "FeedbackKind",
    "Preferences",
    "RecommendConfig",
    "Recommendations",
    "RecommendedItem",
    "UserContext",
    "check_feedback",
    "describe",
    "preferences_from",
    "recommend",
    "user_context",
]
