"""Prompt files, the window data block and JSON replies of the summary stage.

Prompt text lives in ``prompts/<name>.md`` at the repository root (an installed wheel carries a copy in
``interest_tools/_prompts``) and is filled with :meth:`str.format`; :func:`render_prompt` insists that the values
passed are exactly the template's fields, so a template and its code cannot drift apart unnoticed.

Period wording and the template text are in :mod:`interest_tools.summaries._wording`; the catalog and the per-window
event context in :mod:`interest_tools.summaries._context` (both re-exported here).
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from interest_tools.data import UNKNOWN_CATEGORY
from interest_tools.errors import ConfigError
from interest_tools.summaries._grounding import display_title, sanitize_text
from interest_tools.windows import Window, percent, period_name

__all__ = [
    "PROMPT_FIELDS",
    "is_retryable",
    "load_prompt",
    "model_identity",
    "parse_json_object",
    "prompt_dirs",
    "prompt_fields",
    "render_prompt",
    "retry_after",
    "window_data",
]

_NAME = re.compile(r"^[a-z0-9_]+$")
#: Prompt names used by the summary stage, with the fields the code fills in.
PROMPT_FIELDS: dict[str, frozenset[str]] = {
    "window_summary_system": frozenset({"noun"}),
    "window_summary_user": frozenset({"period", "noun", "window_data"}),
    "window_summary_retry": frozenset({"problems"}),
}


def prompt_dirs() -> list[Path]:
    """Return where prompts are looked for, in order: ``<repo>/prompts``, then ``interest_tools/_prompts``."""
    package = Path(__file__).resolve().parents[1]  # interest_tools/
    return [package.parent / "prompts", package / "_prompts"]


@lru_cache(maxsize=64)
def load_prompt(name: str) -> str:
    """Return the text of ``prompts/<name>.md``.

    Raises:
        ConfigError: The name is malformed or no prompt file of that name exists.
    """
    if not _NAME.match(name):
        raise ConfigError(f"prompt name '{name}' is invalid: use lower-case letters, digits and '_' only")
    for folder in prompt_dirs():
        path = folder / f"{name}.md"
        if path.is_file():
            return path.read_text(encoding="utf-8").strip() + "\n"
    where = " or ".join(str(d) for d in prompt_dirs())
    raise ConfigError(f"prompt '{name}' not found in {where}: reinstall interest-tools or restore {name}.md")


def prompt_fields(text: str) -> set[str]:
    """Return the names of the ``{field}`` placeholders of a template (``{{`` and ``}}`` are literal braces)."""
    return {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}


def render_prompt(name: str, values: Mapping[str, Any]) -> str:
    """Fill prompt ``name`` with ``values``, which must name exactly the template's fields.

    Raises:
        ConfigError: A field is missing or a value has no field.
    """
    text = load_prompt(name)
    fields = prompt_fields(text)
    if fields != set(values):
        raise ConfigError(
            f"prompt '{name}' has fields {sorted(fields)} but the code passes {sorted(values)}; "
            f"edit prompts/{name}.md or the code so that they agree"
        )
    return text.format(**values)


# ---------------------------------------------------------------------------------------------- data block


def window_data(
    window: Window,
    titles: Mapping[str, str],
    item_categories: Mapping[str, Sequence[str]],
    item_ratings: Mapping[str, float] | None,
    item_texts: Mapping[str, Sequence[str]] | None,
    *,
    first: bool,
    max_items: int = 30,
    max_texts: int = 3,
    max_chars: int = 200,
) -> str:
    """Render a window as the JSON that goes between ``<window_data>`` tags; every string is sanitised.

    Args:
        window: The window.
        titles: Item id to title (items without one show their id).
        item_categories: Item id to its catalog categories.
        item_ratings: Item id to the user's mean rating in the window, if rated.
        item_texts: Item id to free texts (tags, reviews) of the window's events.
        first: Whether this is the user's first window (then ``new_categories`` is left out).
        max_items: Items listed (in the window's order: weight, then rating); the rest are counted.
        max_texts: Texts listed per item.
        max_chars: Cap per string field.
    """

    def clean(value: object) -> str:
        return sanitize_text(value, max_chars)

    data: dict[str, Any] = {
        "period": period_name(window.start, window.end),
        "events": window.n_events,
        "distinct_items": len(window.item_ids),
    }
    if window.mean_rating is not None:
        data["mean_rating"] = round(window.mean_rating, 2)
    data["categories"] = [
        {"name": clean(c), "share": percent(s)} for c, s in window.category_weights.items() if c != UNKNOWN_CATEGORY
    ]
    if first:
        data["first_window"] = True
    else:
        data["new_categories"] = [clean(c) for c in window.new_categories if c != UNKNOWN_CATEGORY]
    listed = []
    for item in window.item_ids[:max_items]:
        row: dict[str, Any] = {
            "id": clean(item),
            "title": clean(display_title(titles[item]) if item in titles else item),
        }
        row["categories"] = [clean(c) for c in item_categories.get(item, []) if c != UNKNOWN_CATEGORY]
        if item_ratings and item in item_ratings:
            row["rating"] = round(float(item_ratings[item]), 2)
        texts = [clean(t) for t in (item_texts or {}).get(item, [])][:max_texts]
        if texts:
            row["notes"] = texts
        listed.append(row)
    data["items"] = listed
    if len(window.item_ids) > max_items:
        data["items_not_listed"] = len(window.item_ids) - max_items
    return _compact_json(data)


def _compact_json(data: Mapping[str, Any]) -> str:
    """JSON with one line per key, and one line per element of a list of objects (short and readable)."""
    lines = []
    for key, value in data.items():
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            inner = ",\n".join("  " + json.dumps(v, ensure_ascii=False) for v in value)
            lines.append(f" {json.dumps(key)}: [\n{inner}\n ]")
        else:
            lines.append(f" {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}")
    return "{\n" + ",\n".join(lines) + "\n}"


# ---------------------------------------------------------------------------------------------- replies and calls


def parse_json_object(text: str) -> dict[str, Any] | None:
    """Return the first JSON object in a model's text reply (code fences and chatter allowed), else ``None``."""
    decoder = json.JSONDecoder()
    pos = text.find("{")
    while pos != -1:
        try:
            value, _ = decoder.raw_decode(text, pos)
        except json.JSONDecodeError:
            pos = text.find("{", pos + 1)
            continue
        if isinstance(value, dict):
            return value
        pos = text.find("{", pos + 1)
    return None


def _status_code(exc: BaseException) -> int | None:
    code = getattr(exc, "status_code", None)
    if code is None:
        code = getattr(getattr(exc, "response", None), "status_code", None)
    return code if isinstance(code, int) else None


def is_retryable(exc: BaseException) -> bool:
    """Whether a failed call is worth repeating: rate limit (HTTP 429), timeout, connection or server error."""
    import openai  # deferred: importing the client is slow and only LLM calls need it

    if isinstance(exc, openai.RateLimitError | openai.APIConnectionError | openai.InternalServerError):
        return True
    code = _status_code(exc)
    return code is not None and (code == 429 or code >= 500)


def retry_after(exc: BaseException) -> float | None:
    """Return the seconds a rate-limited server asks to wait (``Retry-After``), if it says."""
    headers = getattr(getattr(exc, "response", None), "headers", None)
    try:
        return float(headers.get("retry-after")) if headers is not None and headers.get("retry-after") else None
    except (TypeError, ValueError):
        return None


def model_identity(chat_model: Any) -> str:
    """Return a stable description of a chat model (class, parameters, endpoint) for cache keys."""
    cls = type(chat_model)
    params = getattr(chat_model, "_identifying_params", {})
    base = getattr(chat_model, "openai_api_base", None)
    ident = {"class": f"{cls.__module__}.{cls.__qualname__}", "params": params, "base_url": base}
    return json.dumps(ident, sort_keys=True, default=str)
