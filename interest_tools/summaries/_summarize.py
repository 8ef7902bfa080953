"""One short English summary per window: a deterministic template (offline default) or a grounded LLM.

:class:`TemplateSummarizer` writes from the window's own numbers ("In March 2015 you rated 14 movies, mostly
Sci-Fi (41%) and Thriller (22%). New this month: Documentary. Highest rated: Interstellar (2014), 5.0.").
:class:`LLMSummarizer` asks any LangChain chat model, with the window as a sanitised data block; a reply that
names a category or item outside the window is retried once, then replaced by the template summary with the
reason recorded. Replies are cached by a hash of (prompt, window content, model), per user
(:class:`~interest_tools.summaries._cache.SummaryCache`). :func:`make_chat_model` builds ``ChatOpenAI`` from settings.

This is the one stage module that takes a LangChain ``BaseChatModel`` (LangChain is imported lazily). The
config, result and template summarizer are in :mod:`interest_tools.summaries._template` and the reply cache in
:mod:`interest_tools.summaries._cache` (re-exported here).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd
from pydantic import BaseModel, Field, ValidationError
from tqdm.auto import tqdm

from interest_tools.errors import ConfigError
from interest_tools.settings import Settings
from interest_tools.summaries._cache import SummaryCache
from interest_tools.summaries._context import SummaryCatalog, WindowContext, build_contexts
from interest_tools.summaries._grounding import sanitize_text
from interest_tools.summaries._prompting import (
    is_retryable,
    load_prompt,
    model_identity,
    parse_json_object,
    render_prompt,
    retry_after,
    window_data,
)
from interest_tools.summaries._template import (
    Summarizer,
    SummaryConfig,
    TemplateSummarizer,
    WindowSummary,
    window_summary,
)
from interest_tools.windows import Window

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import BaseMessage

__all__ = [
    "LLMSummarizer",
    "SummaryOutput",
    "make_chat_model",
    "summarize_windows",
    "summarizer_from_settings",
]

logger = logging.getLogger(__name__)
_CACHE_VERSION = 1


class SummaryOutput(BaseModel):
    """What the chat model must return."""

    summary: str = Field(description="One to three sentences about the window, addressing the person as 'you'.")
    mentioned_categories: list[str] = Field(default_factory=list, description="Category names the summary uses.")
    mentioned_item_ids: list[str] = Field(default_factory=list, description="Ids of the items the summary names.")


class LLMSummarizer:
    """Grounded summaries by a LangChain chat model, falling back to the template.

    Args:
        chat_model: Any ``BaseChatModel`` (``ChatOpenAI``, a fake in tests).
        config: Limits, concurrency, retries and the cache directory.
        cache: A cache to share; by default one is opened from ``config.cache_dir``.
    """

    def __init__(
        self, chat_model: BaseChatModel, config: SummaryConfig | None = None, *, cache: SummaryCache | None = None
    ) -> None:
        self.chat_model = chat_model
        self.config = config or SummaryConfig()
        self.cache = cache if cache is not None else SummaryCache(self.config.cache_dir)
        self.template = TemplateSummarizer(self.config)
        self.model_identity = model_identity(chat_model)
        self._structured: Any = None
        if self.config.structured_output == "auto":
            try:
                self._structured = chat_model.with_structured_output(SummaryOutput, include_raw=True)
            except NotImplementedError:
                self._structured = None

    def forget_user(self, user_id: str) -> int:
        """Delete a user's cached summaries; return how many were deleted."""
        return self.cache.forget_user(user_id)

    def prompt_messages(self, context: WindowContext, catalog: SummaryCatalog) -> tuple[str, str]:
        """Return the (system, user) prompt texts for one window."""
        cfg = self.config
        data = window_data(
            context.window,
            catalog.titles,
            catalog.categories,
            context.item_ratings,
            context.item_texts,
            first=context.first,
            max_items=cfg.max_items_in_prompt,
            max_texts=cfg.max_texts_per_item,
            max_chars=cfg.max_field_chars,
        )
        system = render_prompt("window_summary_system", {"noun": cfg.noun})
        period = json.loads(data)["period"]
        user = render_prompt("window_summary_user", {"period": period, "noun": cfg.noun, "window_data": data})
        return system, user

    def cache_key(self, window: Window, system: str, user: str) -> str:
        """Hash of prompt text, window content and model identity: equal keys never call the model twice."""
        payload = {
            "v": _CACHE_VERSION,
            "user_id": window.user_id,
            "window": [window.index, window.start.isoformat(), window.end.isoformat()],
            "system": system,
            "prompt": user,
            "retry": load_prompt("window_summary_retry"),
            "retries": self.config.retries,
            "model": self.model_identity,
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()

    def _invoke(self, messages: list[BaseMessage]) -> tuple[SummaryOutput | None, str]:
        """Call the model, retrying rate limits with bounded exponential backoff; return (output, raw text)."""
        cfg = self.config
        for attempt in range(cfg.rate_limit_retries + 1):
            try:
                if self._structured is not None:
                    res = self._structured.invoke(messages)
                    raw = res.get("raw")
                    text = raw.text if raw is not None else ""
                    parsed = res.get("parsed")
                    if isinstance(parsed, SummaryOutput):
                        return parsed, text
                    return _parse_output(parsed if isinstance(parsed, dict) else parse_json_object(text)), text
                msg = self.chat_model.invoke(messages)
                return _parse_output(parse_json_object(msg.text)), msg.text
            except Exception as exc:
                if not is_retryable(exc) or attempt == cfg.rate_limit_retries:
                    raise
                delay = min(cfg.max_backoff_s, retry_after(exc) or cfg.backoff_s * 2**attempt)
                logger.info("LLM call failed (%s); retry %d in %.2fs", type(exc).__name__, attempt + 1, delay)
                time.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _problems(self, out: SummaryOutput | None, context: WindowContext, catalog: SummaryCatalog) -> list[str]:
        if out is None or not out.summary.strip():
            return ["the reply was not a JSON object with a non-empty 'summary'"]
        window = context.window
        cats = {c.casefold() for c in window.category_weights}
        problems = [
            f"category '{c}' is not in the window" for c in out.mentioned_categories if c.casefold() not in cats
        ]
        ids = set(window.item_ids)
        problems += [f"item id '{i}' is not in the window" for i in out.mentioned_item_ids if str(i) not in ids]
        text = sanitize_text(out.summary, self.config.max_summary_chars, escape_markup=False)
        report = catalog.index.scan(text, window.category_weights, context.allowed_titles(catalog))
        problems += [f"'{name}' is not in the window" for name in report.ungrounded]
        return [sanitize_text(p, self.config.max_field_chars + 40) for p in problems]

    def summarize_context(self, context: WindowContext, catalog: SummaryCatalog) -> WindowSummary:
        """Summarise one prepared window: cache, call, ground, retry once, else fall back to the template."""
        from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

        window, cfg = context.window, self.config
        system, user = self.prompt_messages(context, catalog)
        key = self.cache_key(window, system, user)
        hit = self.cache.get(key)
        if hit is not None:
            return WindowSummary.model_validate(hit)
        fallback = self.template.summarize_window(window, catalog.titles, context.item_ratings, first=context.first)
        messages: list[BaseMessage] = [SystemMessage(system), HumanMessage(user)]
        problems: list[str] = []
        for attempt in range(cfg.retries + 1):
            try:
                out, raw = self._invoke(messages)
            except Exception as exc:  # a failed call is not cached: the next run tries again
                _raise_if_misconfigured(exc)
                reason = f"LLM call failed: {type(exc).__name__}: {sanitize_text(exc, 300, escape_markup=False)}"
                logger.warning("window %s/%s: %s", window.user_id, window.index, reason)
                return fallback.model_copy(update={"fallback_reason": reason})
            problems = self._problems(out, context, catalog)
            if not problems and out is not None:
                result = self._accept(out, context, catalog)
                self.cache.put(key, window.user_id, result.to_json())
                return result
            if attempt < cfg.retries:
                retry = render_prompt("window_summary_retry", {"problems": "; ".join(problems)})
                previous = raw or (out.model_dump_json() if out is not None else "{}")
                messages = [*messages, AIMessage(previous), HumanMessage(retry)]
        retries = f"{cfg.retries} {'retry' if cfg.retries == 1 else 'retries'}"
        result = fallback.model_copy(update={"fallback_reason": f"ungrounded after {retries}: {'; '.join(problems)}"})
        self.cache.put(key, window.user_id, result.to_json())
        return result

    def _accept(self, out: SummaryOutput, context: WindowContext, catalog: SummaryCatalog) -> WindowSummary:
        window = context.window
        text = sanitize_text(out.summary, self.config.max_summary_chars, escape_markup=False)
        report = catalog.index.scan(text, window.category_weights, context.allowed_titles(catalog))
        by_fold = {c.casefold(): c for c in window.category_weights}
        cats = {by_fold[c.casefold()] for c in out.mentioned_categories} | set(report.categories)
        named = set(report.titles)
        ids = {str(i) for i in out.mentioned_item_ids} | {i for i in window.item_ids if catalog.titles.get(i) in named}
        return window_summary(
            window,
            summary=text,
            mentioned_categories=[c for c in window.category_weights if c in cats],
            mentioned_item_ids=[i for i in window.item_ids if i in ids],
            source="llm",
        )

    def summarize(
        self, windows: Sequence[Window], items: pd.DataFrame, events: pd.DataFrame | None = None
    ) -> list[WindowSummary]:
        """Summarise windows concurrently (``config.max_concurrency``), in input order."""
        from langchain_core.runnables import RunnableLambda

        catalog = SummaryCatalog.from_items(items)
        contexts = build_contexts(windows, events, max_texts=self.config.max_texts_per_item)
        show = self.config.show_progress if self.config.show_progress is not None else sys.stderr.isatty()
        with tqdm(total=len(contexts), desc="summaries", disable=not show or len(contexts) < 2) as bar:

            def one(context: WindowContext) -> WindowSummary:
                result = self.summarize_context(context, catalog)
                bar.update(1)
                return result

            results = RunnableLambda(one).batch(contexts, config={"max_concurrency": self.config.max_concurrency})
        fallbacks = sum(r.fallback_reason is not None for r in results)
        if fallbacks:
            logger.warning("%d of %d window summaries fell back to the template", fallbacks, len(results))
        return results


def _raise_if_misconfigured(exc: Exception) -> None:
    """Turn errors that every call would repeat (bad key, no access, unknown model) into one ConfigError."""
    import openai

    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError | openai.NotFoundError):
        raise ConfigError(
            f"the chat model endpoint refused the request ({type(exc).__name__}: {sanitize_text(exc, 300)}); "
            "check OPENAI_API_KEY, INTEREST_TOOLS_CHAT_MODEL and INTEREST_TOOLS_OPENAI_BASE_URL"
        ) from exc


def _parse_output(data: Mapping[str, Any] | None) -> SummaryOutput | None:
    if data is None:
        return None
    try:
        return SummaryOutput.model_validate(dict(data))
    except ValidationError:
        return None


def make_chat_model(settings: Settings | None = None) -> BaseChatModel | None:
    """Return ``ChatOpenAI`` for ``settings.chat_model`` when ``OPENAI_API_KEY`` is set, else ``None``.

    The endpoint is ``settings.openai_base_url`` (None: OpenAI's). The client's own retries are off: the
    summarizer retries rate limits itself, with bounded backoff.
    """
    settings = settings or Settings()
    if not settings.chat_model or not os.environ.get("OPENAI_API_KEY"):
        return None
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(model=settings.chat_model, base_url=settings.openai_base_url, max_retries=0, timeout=120)


def resolve_chat_model(chat_model: BaseChatModel | None, settings: Settings | None) -> BaseChatModel:
    """Return ``chat_model``, else the one the settings configure (:func:`make_chat_model`).

    Raises:
        ConfigError: Neither exists (the message says how to configure one).
    """
    chat = chat_model if chat_model is not None else make_chat_model(settings)
    if chat is None:
        raise ConfigError(
            "LLM summaries need a chat model: set OPENAI_API_KEY and INTEREST_TOOLS_CHAT_MODEL "
            "(e.g. gpt-4o-mini), or pass chat_model=..., or use --summarizer template"
        )
    return chat


def make_summarizer(
    kind: Literal["template", "llm"],
    config: SummaryConfig | None = None,
    *,
    chat_model: BaseChatModel | None = None,
    settings: Settings | None = None,
) -> Summarizer:
    """The one factory of summarizers: the offline template, or an :class:`LLMSummarizer`.

    Args:
        kind: ``template`` or ``llm``.
        config: Wording, LLM limits and the cache directory.
        chat_model: The chat model for ``llm``; by default the one the settings configure.
        settings: Used to make the chat model when none is given.

    Raises:
        ConfigError: ``llm`` without a chat model.
    """
    if kind == "template":
        return TemplateSummarizer(config)
    return LLMSummarizer(resolve_chat_model(chat_model, settings), config)


def summarizer_from_settings(settings: Settings | None = None, config: SummaryConfig | None = None) -> Summarizer:
    """Return an :class:`LLMSummarizer` if a chat model is configured (:func:`make_chat_model`), else the template."""
    settings = settings or Settings()
    config = config or SummaryConfig.from_settings(settings)
    model = make_chat_model(settings)
    return make_summarizer("template" if model is None else "llm", config, chat_model=model)


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
