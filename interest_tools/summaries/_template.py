"""What a window summary is, and the deterministic template summarizer (the offline default).

:class:`SummaryConfig` configures the summary stage (template and LLM); :class:`WindowSummary` is its result.
:class:`TemplateSummarizer` writes from the window's own numbers ("In March 2015 you rated 14 movies, mostly
Sci-Fi (41%) and Thriller (22%). New this month: Documentary. Highest rated: Interstellar (2014), 5.0.").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from interest_tools.settings import Settings
from interest_tools.summaries._context import EventLookup, SummaryCatalog, build_contexts
from interest_tools.summaries._wording import template_text
from interest_tools.windows import Window


class SummaryConfig(BaseModel):
    """How window summaries are written (template and LLM) and how LLM calls are made."""

    model_config = ConfigDict(extra="forbid")

    noun: str = Field(default="items", description="Plural noun for the items, e.g. 'movies' for MovieLens.")
    noun_singular: str | None = Field(
        default=None, description="Singular noun; None drops a trailing 's' from noun ('movies' -> 'movie')."
    )
    max_categories: int = Field(default=3, ge=1, le=10, description="Categories the template names at most.")
    min_category_share: float = Field(
        default=0.1, ge=0.0, le=1.0, description="Share a category needs to be named after the first one."
    )
    max_new_categories: int = Field(default=4, ge=1, description="New categories named before '... and N more'.")
    max_field_chars: int = Field(default=200, ge=8, description="Cap on each untrusted text field (title, tag).")
    max_items_in_prompt: int = Field(default=30, ge=1, description="Items of a window listed in the LLM prompt.")
    max_texts_per_item: int = Field(default=3, ge=0, description="Tags or reviews listed per item in the prompt.")
    max_summary_chars: int = Field(default=1200, ge=50, description="Cap on an LLM summary's length.")
    max_concurrency: int = Field(default=4, ge=1, description="Concurrent LLM calls.")
    retries: int = Field(default=1, ge=0, le=5, description="Re-asks after an ungrounded or unparsable reply.")
    rate_limit_retries: int = Field(
        default=5, ge=0, le=20, description="Retries of a call after HTTP 429, a timeout or a server error."
    )
    backoff_s: float = Field(default=1.0, ge=0.0, description="First retry delay; doubles on each retry.")
    max_backoff_s: float = Field(default=30.0, ge=0.0, description="Longest retry delay (also caps Retry-After).")
    structured_output: Literal["auto", "json"] = Field(
        default="auto",
        description="'auto' uses the model's with_structured_output when it has one; 'json' parses JSON from text.",
    )
    cache_dir: Path | None = Field(
        default=None, description="Directory of the LLM summary cache (summaries.sqlite); None keeps it in memory."
    )
    show_progress: bool | None = Field(default=None, description="Progress bar; None shows it only on a terminal.")

    @property
    def singular(self) -> str:
        """The singular noun."""
        if self.noun_singular:
            return self.noun_singular
        return self.noun[:-1] if self.noun.endswith("s") and len(self.noun) > 1 else self.noun

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> SummaryConfig:
        """Take ``max_concurrency`` from deployment settings; other fields from ``overrides``."""
        return cls(**{"max_concurrency": settings.llm_max_concurrency, **overrides})


class WindowSummary(BaseModel):
    """The summary of one window."""

    user_id: str = Field(description="The window's user.")
    index: int = Field(description="The window's index (see Window.index).")
    start: datetime = Field(description="Window start (UTC, inclusive).")
    end: datetime = Field(description="Window end (UTC, exclusive).")
    summary: str = Field(description="One to three sentences of plain English.")
    mentioned_categories: list[str] = Field(description="Window categories the summary names.")
    mentioned_item_ids: list[str] = Field(description="Window items the summary names.")
    source: Literal["template", "llm"] = Field(description="Who wrote the summary.")
    fallback_reason: str | None = Field(default=None, description="Why an LLM summary was replaced, if it was.")

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form used by the CLI and tools (ISO 8601 times)."""
        return self.model_dump(mode="json")

    @classmethod
    def from_record(cls, record: Mapping[Any, Any]) -> WindowSummary:
        """Read one row of the stored summaries table (arrays, timestamps and NaN as Parquet gives them back)."""
        return cls.model_validate({str(k): _plain(v) for k, v in record.items() if k in cls.model_fields})


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, float) and np.isnan(value):
        return None
    return value


class Summarizer(Protocol):
    """Anything that turns windows into summaries."""

    def summarize(
        self, windows: Sequence[Window], items: pd.DataFrame, events: pd.DataFrame | None = None
    ) -> list[WindowSummary]:
        """Summarise windows, in order."""
        ...


def window_item_ratings(events: pd.DataFrame, window: Window) -> dict[str, float]:
    """Return the user's mean rating per rated item within the window (``[start, end)``)."""
    return EventLookup(events, {window.user_id}).ratings(window)


def window_summary(window: Window, **fields: Any) -> WindowSummary:
    """Return the :class:`WindowSummary` of ``window`` with the given fields (summary, mentions, source)."""
    return WindowSummary(user_id=window.user_id, index=window.index, start=window.start, end=window.end, **fields)


class TemplateSummarizer:
    """Deterministic summaries from the window's own numbers; names only what is in the window."""

    def __init__(self, config: SummaryConfig | None = None) -> None:
        self.config = config or SummaryConfig()

    def summarize_window(
        self,
        window: Window,
        titles: Mapping[str, str],
        item_ratings: Mapping[str, float] | None = None,
        *,
        first: bool | None = None,
    ) -> WindowSummary:
        """Summarise one window.

        Args:
            window: The window.
            titles: Item id to title (at least the window's items; missing ones show their id).
            item_ratings: The user's mean rating per item in this window (see :func:`window_item_ratings`);
                without it the top item by weight is named instead of the highest rated.
            first: Whether this is the user's first window ("New this month" is then left out). ``None``
                guesses: first when every category of the window is new.
        """
        if first is None:
            first = set(window.new_categories) >= set(window.category_weights)
        text, cats, item_ids = template_text(window, titles, item_ratings, first=first, config=self.config)
        return window_summary(
            window, summary=text, mentioned_categories=cats, mentioned_item_ids=item_ids, source="template"
        )

    def summarize(
        self, windows: Sequence[Window], items: pd.DataFrame, events: pd.DataFrame | None = None
    ) -> list[WindowSummary]:
        """Summarise windows (any users, any order); ``events`` adds per-item ratings."""
        catalog = SummaryCatalog.from_items(items)
        return [
            self.summarize_window(c.window, catalog.titles, c.item_ratings, first=c.first)
            for c in build_contexts(windows, events, max_texts=0)
        ]
