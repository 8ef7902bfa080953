"""One short English summary per window: a deterministic template (offline default) or a grounded LLM.

:class:`TemplateSummarizer` writes from the window's own numbers ("In March 2015 you rated 14 movies, mostly
Sci-Fi (41%) and Thriller (22%). New this month: Documentary. Highest rated: Interstellar (2014), 5.0.").
:class:`LLMSummarizer` asks any LangChain chat model, with the window as a sanitised data block; a reply that
names a category or item outside the window is retried once, then replaced by the template summary with the
reason recorded. Replies are cached by a hash of (prompt, window content, model), per user.

This module holds the entry points (:func:`summarize_windows`, :func:`summarizer_from_settings`); the config,
result and template summarizer are in :mod:`interest_tools.summary_template`, the LLM summarizer in
:mod:`interest_tools.llm_summarize` and its cache in :mod:`interest_tools.summary_cache` (all re-exported here).
"""

from __future__ import annotations

import pandas as pd

from interest_tools.grounding import find_ungrounded, sanitize_text
from interest_tools.llm_summarize import LLMSummarizer, SummaryOutput, make_chat_model
from interest_tools.prompting import load_prompt
from interest_tools.settings import Settings
from interest_tools.summary_cache import SummaryCache
from interest_tools.summary_template import (
    Summarizer,
    SummaryConfig,
    TemplateSummarizer,
    WindowSummary,
    window_item_ratings,
)
from interest_tools.windows import Window

__all__ = [
    "LLMSummarizer",
    "SummaryCache",
    "SummaryConfig",
    "SummaryOutput",
    "TemplateSummarizer",
    "WindowSummary",
    "find_ungrounded",
    "load_prompt",
    "make_chat_model",
    "sanitize_text",
    "summarize_windows",
    "summarizer_from_settings",
    "window_item_ratings",
]


def summarizer_from_settings(settings: Settings | None = None, config: SummaryConfig | None = None) -> Summarizer:
    """Return an :class:`LLMSummarizer` if a chat model is configured (:func:`make_chat_model`), else the template."""
    settings = settings or Settings()
    config = config or SummaryConfig.from_settings(settings)
    model = make_chat_model(settings)
    return TemplateSummarizer(config) if model is None else LLMSummarizer(model, config)


def summarize_windows(
    windows: list[Window],
    items: pd.DataFrame,
    events: pd.DataFrame | None = None,
    summarizer: Summarizer | None = None,
    config: SummaryConfig | None = None,
) -> list[WindowSummary]:
    """Summarise windows in order; the offline template unless a summarizer is given.

    Args:
        windows: Windows of one or more users (a user's first window in the list gets no "New ..." line).
        items: Canonical items (titles, categories, and every name the grounding check knows).
        events: Canonical events, for per-item ratings and (LLM only) tags; optional.
        summarizer: :class:`TemplateSummarizer` (default) or :class:`LLMSummarizer`.
        config: Used to build the default template summarizer (ignored when ``summarizer`` is given).
    """
    summarizer = summarizer or TemplateSummarizer(config)
    return summarizer.summarize(windows, items, events)
