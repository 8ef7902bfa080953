"""What a person says in the chat ("more like this", "no more horror", "not this one"), as preferences.

Feedback is stored as records (see :mod:`interest_tools.store._state`), applied from the very next
recommendation while in force, and shown in explanations as stated preferences beside the observed ones. A
later statement about the same item or category ends an earlier one; the timeline of statements (times,
supersession, expiry) is :mod:`interest_tools.recommend._timeline`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

from interest_tools.errors import ConfigError
from interest_tools.recommend._recommend import Preferences

FeedbackKind = Literal["more_like_item", "not_this_item", "more_category", "no_more_category"]
FEEDBACK_KINDS: tuple[str, ...] = ("more_like_item", "not_this_item", "more_category", "no_more_category")
_ITEM_KINDS = ("more_like_item", "not_this_item")


def check_feedback(
    kind: str, item_id: str | None, category: str | None, titles: Mapping[str, str], categories: Iterable[str]
) -> None:
    """Check one statement against the catalog.

    Raises:
        ConfigError: Unknown kind, or a missing or unknown item or category; the message names valid values.
    """
    if kind in _ITEM_KINDS:
        if not item_id or item_id not in titles:
            raise ConfigError(f"feedback '{kind}' needs a catalog item_id; '{item_id}' is not in the catalog")
    elif kind in ("more_category", "no_more_category"):
        known = sorted(set(categories))
        if not category:
            raise ConfigError(f"feedback '{kind}' needs a category; valid categories: {', '.join(known)}")
        if category not in known:
            raise ConfigError(f"unknown category '{category}'; valid categories: {', '.join(known)}")
    else:
        raise ConfigError(f"unknown feedback kind '{kind}'; valid kinds: {', '.join(FEEDBACK_KINDS)}")


def preferences_from(records: Iterable[Mapping[str, Any]]) -> Preferences:
    """Fold feedback records (oldest first) into preferences; later statements win."""
    items: dict[str, bool] = {}
    cats: dict[str, bool] = {}
    for rec in records:
        kind = rec["kind"]
        if kind in _ITEM_KINDS:
            items[rec["item_id"]] = kind == "more_like_item"
        elif kind in ("more_category", "no_more_category"):
            cats[rec["category"]] = kind == "more_category"
    return Preferences(
        liked_items=[i for i, ok in items.items() if ok],
        rejected_items=[i for i, ok in items.items() if not ok],
        boosted_categories=[c for c, ok in cats.items() if ok],
        excluded_categories=[c for c, ok in cats.items() if not ok],
    )


def describe(prefs: Preferences, titles: Mapping[str, str]) -> list[str]:
    """Plain-English stated preferences, for explanations."""
    return [
        *(f"more like {titles.get(i, i)}" for i in prefs.liked_items),
        *(f"not {titles.get(i, i)}" for i in prefs.rejected_items),
        *(f"more {c}" for c in prefs.boosted_categories),
        *(f"no more {c}" for c in prefs.excluded_categories),
    ]
