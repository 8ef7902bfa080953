"""Recommendation against the forecast, with a reason for every item, and the person's stated feedback.

:func:`recommend` takes candidates from the forecaster's item scores and from the item vectors (so items never
seen in training are recommendable from their text), re-ranks them, excludes seen items and stated dislikes,
and says for each item which forecast interest it serves and which past item it resembles.
"""

from __future__ import annotations

from interest_tools.recommend._conflicts import (
    Conflict,
    PreferenceTimeline,
    conflict_json,
    preference_timeline,
    shift_conflicts,
    statement_conflicts,
)
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
from interest_tools.recommend._timeline import (
    SOURCES,
    Statement,
    StatementSource,
    in_force_at,
    parse_instant,
    preferences_at,
    statement_record,
    timeline,
)

__all__ = [
    "FEEDBACK_KINDS",
    "SOURCES",
    "Conflict",
    "FeedbackKind",
    "PreferenceTimeline",
    "Preferences",
    "RecommendConfig",
    "Recommendations",
    "RecommendedItem",
    "Statement",
    "StatementSource",
    "UserContext",
    "check_feedback",
    "conflict_json",
    "describe",
    "in_force_at",
    "parse_instant",
    "preference_timeline",
    "preferences_at",
    "preferences_from",
    "recommend",
    "shift_conflicts",
    "statement_conflicts",
    "statement_record",
    "timeline",
    "user_context",
]
