"""Why interests shifted: change points, rising / falling / new / faded categories with evidence, history.

:func:`explain_user` finds change points over a user's category-distribution sequence (checked by a
permutation test), describes each shift with evidence items and writes a narrative that names only the facts it
was given; :func:`history_as_of` answers what the user was into at a date.
"""

from __future__ import annotations

from interest_tools.explain._explain import Explanation, HistoryAsOf, explain_user, history_as_of
from interest_tools.explain._models import CategoryChange, ExplainConfig, Shift, StableInterest
from interest_tools.explain._shifts import recent_changes

__all__ = [
    "CategoryChange",
    "ExplainConfig",
    "Explanation",
    "HistoryAsOf",
    "Shift",
    "StableInterest",
    "explain_user",
    "history_as_of",
    "recent_changes",
]
