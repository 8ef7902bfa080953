"""What the person said, on a timeline: the engine's stated-preference calls (see :mod:`interest_tools.recommend`).

Statements keep their time: a later statement about the same item or category ends the earlier one, an expired
one no longer applies, and only forgetting the user deletes them.
"""

from __future__ import annotations

import threading
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from interest_tools.data import Catalog, Dataset
from interest_tools.explain import explain_user
from interest_tools.recommend import (
    FeedbackKind,
    Preferences,
    PreferenceTimeline,
    StatementSource,
    check_feedback,
    parse_instant,
    preference_timeline,
    preferences_at,
    statement_record,
)
from interest_tools.store import FeedbackLog, state
from interest_tools.windows import WindowTable


class PreferencesMixin:
    """Stated preferences for :class:`~interest_tools.engine.Engine` (it provides the attributes declared here)."""

    feedback_log: FeedbackLog
    lock: threading.RLock
    root: Path

    @property
    def windows(self) -> WindowTable:
        """Every user's windows (the engine's)."""
        raise NotImplementedError

    @property
    def dataset(self) -> Dataset:
        """The stored events and items (the engine's)."""
        raise NotImplementedError

    @property
    def catalog(self) -> Catalog:
        """The catalog lookups (the engine's)."""
        raise NotImplementedError

    @property
    def titles(self) -> dict[str, str]:
        """Item id to title (the engine's)."""
        raise NotImplementedError

    def check_user(self, user_id: str) -> None:
        """Raise UnknownUserError for an unknown user (the engine's)."""
        raise NotImplementedError

    def user_events(self, user_id: str) -> pd.DataFrame:
        """The user's events (the engine's)."""
        raise NotImplementedError

    def preferences(self, user_id: str, at: datetime | date | str | None = None) -> Preferences:
        """What the user said in the chat that is in force at ``at`` (now by default).

        A later statement about the same item or category ends the earlier one; an expired one (past its
        ``valid_until``) no longer applies. See :mod:`interest_tools.recommend._timeline`.
        """
        when = state.now() if at is None else parse_instant(at, "at")
        return preferences_at(self.feedback_records(user_id), when)

    def preference_timeline(self, user_id: str, as_of: datetime | date | str | None = None) -> PreferenceTimeline:
        """Every statement made by ``as_of`` (now by default) with its state then, and the conflicts then.

        Conflicts: statements in force that the behaviour since contradicts, and the latest observed shift (in
        the windows up to ``as_of``) that no statement covers.
        """
        self.check_user(user_id)
        at = state.now() if as_of is None else parse_instant(as_of, "as_of")
        wins = [w for w in self.windows.for_user(user_id) if w.start <= at]
        shifts = explain_user(wins, self.dataset.items).shifts if wins else []
        records, events = self.feedback_records(user_id), self.user_events(user_id)
        return preference_timeline(user_id, records, at, events, self.catalog, shifts)

    def feedback_records(self, user_id: str) -> list[dict[str, Any]]:
        """The user's stated feedback records, in file order (the timeline orders them by ``stated_at``)."""
        return self.feedback_log.records(user_id)

    def add_feedback(
        self, user_id: str, kind: FeedbackKind, *, item_id: str | None = None, category: str | None = None,
        text: str = "", stated_at: datetime | date | str | None = None,
        valid_until: datetime | date | str | None = None, source: StatementSource = "tool",
    ) -> dict[str, Any]:  # fmt: skip
        """Record what the person said; from the next recommendation on it applies while it is in force.

        The statement is appended to the timeline: a later statement about the same item or category ends an
        earlier one (which stays on the timeline as superseded); only :meth:`forget_user` deletes.

        Args:
            user_id: The person.
            kind: more_like_item, not_this_item, more_category or no_more_category.
            item_id: The item (item kinds).
            category: The category (category kinds).
            text: The person's words, kept as evidence.
            stated_at: When the person said it (default now; a past date backfills it into its place).
            valid_until: When it lapses by itself (e.g. "for a month"); default never.
            source: Where it was said: tool (LangChain), cli or mcp.

        Raises:
            ConfigError: Unknown kind, a missing or unknown item or category (the message names valid ones), a
                future ``stated_at`` or a ``valid_until`` not after it.
        """
        self.check_user(user_id)
        check_feedback(kind, item_id, category, self.titles, self.catalog.all_categories())
        record = statement_record(user_id, kind, item_id=item_id, category=category, text=text, now=state.now(),
                                  stated_at=stated_at, valid_until=valid_until, source=source)  # fmt: skip
        with self.lock, state.writer_lock(self.root):
            self.feedback_log.append(record)
        return record
