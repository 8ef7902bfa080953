"""A natural-language summary of every window: an offline template, or any LangChain chat model, grounded.

The only stage package that may take a LangChain ``BaseChatModel``. Untrusted text is sanitised
(:func:`sanitize_text`) before it reaches a prompt, and a generated summary that names a category or title
outside its window (:func:`find_ungrounded`) is retried, then replaced by the template.
"""

from __future__ import annotations

from interest_tools.summaries._cache import SummaryCache
from interest_tools.summaries._grounding import display_title, find_ungrounded, sanitize_text
from interest_tools.summaries._summarize import (
    LLMSummarizer,
    make_chat_model,
    make_summarizer,
    resolve_chat_model,
    summarize_windows,
    summarizer_from_settings,
)
from interest_tools.summaries._template import Summarizer, SummaryConfig, TemplateSummarizer, WindowSummary

__all__ = [
    "LLMSummarizer",
    "Summarizer",
    "SummaryCache",
    "SummaryConfig",
    "TemplateSummarizer",
    "WindowSummary",
    "display_title",
    "find_ungrounded",
    "make_chat_model",
    "make_summarizer",
    "resolve_chat_model",
    "sanitize_text",
    "summarize_windows",
    "summarizer_from_settings",
]
