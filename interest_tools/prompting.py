"""Prompt files, period wording, the window data block and its context, and JSON replies (summary stage).

Prompt text lives in ``prompts/<name>.md`` at the repository root (an installed wheel carries a copy in
``interest_tools/_prompts``) and is filled with :meth:`str.format`; :func:`render_prompt` insists that the values
passed are exactly the template's fields, so a template and its code cannot drift apart unnoticed.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd

from interest_tools.data import UNKNOWN_CATEGORY, utc_ns
from interest_tools.errors import ConfigError
from interest_tools.grounding import GroundingIndex, display_title, grounding_index, sanitize_text
from interest_tools.windows import Window

Period = Literal["week", "month", "quarter", "year", "window"]
_NAME = re.compile(r"^[a-z0-9_]+$")
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
#: Prompt names used by the summary stage, with the fields the code fills in.
PROMPT_FIELDS: dict[str, frozenset[str]] = {
    "window_summary_system": frozenset({"noun"}),
    "window_summary_user": frozenset({"period", "noun", "window_data"}),
    "window_summary_retry": frozenset({"problems"}),
}


def prompt_dirs() -> list[Path]:
    """Return where prompts are looked for, in order: ``<repo>/prompts``, then ``interest_tools/_prompts``."""
    here = Path(__file__).resolve()
    return [here.parents[1] / "prompts", here.parent / "_prompts"]


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


# --------------------------------------------------------------------------------------------- wording


def _day(d: datetime) -> str:
    return f"{d.day} {_MONTHS[d.month - 1]} {d.year}"


def window_period(start: datetime, end: datetime) -> Period:
    """Recognise a calendar window (week from Monday, month, quarter, year) by its bounds; else ``"window"``."""
    midnight = start.hour == start.minute == start.second == start.microsecond == 0
    if not midnight:
        return "window"
    months = (end.year - start.year) * 12 + end.month - start.month
    if start.day == 1 and end.day == 1 and end.time() == start.time():
        if months == 1:
            return "month"
        if months == 3 and start.month % 3 == 1:
            return "quarter"
        if months == 12 and start.month == 1:
            return "year"
    if end - start == timedelta(days=7) and start.weekday() == 0:
        return "week"
    return "window"


def period_name(start: datetime, end: datetime) -> str:
    """Name a window's period: ``the week of 2 March 2015``, ``March 2015``, ``Q1 2015``, ``2015``, or a range."""
    kind = window_period(start, end)
    if kind == "week":
        return f"the week of {_day(start)}"
    if kind == "month":
        return f"{_MONTHS[start.month - 1]} {start.year}"
    if kind == "quarter":
        return f"Q{(start.month - 1) // 3 + 1} {start.year}"
    if kind == "year":
        return str(start.year)
    last = end - timedelta(seconds=1) if end > start else start  # end is exclusive
    if last.date() == start.date():
        return _day(start)
    if (last.year, last.month) == (start.year, start.month):
        return f"{start.day} to {_day(last)}"
    if last.year == start.year:
        return f"{start.day} {_MONTHS[start.month - 1]} to {_day(last)}"
    return f"{_day(start)} to {_day(last)}"


def period_intro(start: datetime, end: datetime) -> str:
    """Open a sentence about a window: ``In March 2015``, ``In Q1 2015``, ``Between 2 and 9 March 2015``."""
    kind = window_period(start, end)
    if kind != "window":
        return f"In {period_name(start, end)}"
    name = period_name(start, end)
    if " to " not in name:
        return f"On {name}"
    return "Between " + name.replace(" to ", " and ", 1)


def period_this(start: datetime, end: datetime) -> str:
    """Refer to a window from inside it: ``this month``, ``this week``, ... or ``in this window``."""
    kind = window_period(start, end)
    return "in this window" if kind == "window" else f"this {kind}"


class WordingOptions(Protocol):
    """The template's wording options (``SummaryConfig`` has them)."""

    @property
    def noun(self) -> str:
        """Plural noun."""
        ...

    @property
    def singular(self) -> str:
        """Singular noun."""
        ...

    @property
    def max_categories(self) -> int:
        """Categories named at most."""
        ...

    @property
    def min_category_share(self) -> float:
        """Share needed to be named after the first category."""
        ...

    @property
    def max_new_categories(self) -> int:
        """New categories named at most."""
        ...

    @property
    def max_field_chars(self) -> int:
        """Cap per displayed title or name."""
        ...


def _join(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _percent(share: float) -> str:
    pct = round(share * 100)
    return f"{pct}%" if pct > 0 else "<1%"


def _number(value: float) -> str:
    r = round(value, 2)
    return f"{r:.1f}" if round(r, 1) == r else f"{r:.2f}"


def template_text(
    window: Window,
    titles: Mapping[str, str],
    item_ratings: Mapping[str, float] | None,
    *,
    first: bool,
    config: WordingOptions,
) -> tuple[str, list[str], list[str]]:
    """Write the template summary of a window; return (text, categories named, item ids named)."""
    cfg = config

    def show(text: str) -> str:
        return sanitize_text(text, cfg.max_field_chars, escape_markup=False)

    def title(item: str) -> str:
        return show(display_title(titles[item])) if item in titles else show(item)

    n = len(window.item_ids)
    verb = "rated" if window.mean_rating is not None else "interacted with"
    text = f"{period_intro(window.start, window.end)} you {verb} {n} {cfg.noun if n != 1 else cfg.singular}"
    shares = [(c, s) for c, s in window.category_weights.items() if c != UNKNOWN_CATEGORY]
    named = [c for i, (c, s) in enumerate(shares[: cfg.max_categories]) if i == 0 or s >= cfg.min_category_share]
    if len(shares) == 1 and shares[0][1] >= 0.995:
        text += f", all {show(named[0])}"
    elif named:
        share = dict(shares)
        text += ", mostly " + _join([f"{show(c)} ({_percent(share[c])})" for c in named])
    sentences = [text + "."]
    new = [c for c in window.new_categories if c != UNKNOWN_CATEGORY]
    if not first and new:
        shown = new[: cfg.max_new_categories]
        more = [f"{len(new) - len(shown)} more"] if len(new) > len(shown) else []
        sentences.append(f"New {period_this(window.start, window.end)}: {_join([show(c) for c in shown] + more)}.")
        named += shown
    item_ids: list[str] = []
    rated = [(i, float(item_ratings[i])) for i in window.item_ids if item_ratings and i in item_ratings]
    if rated:
        best, rating = max(rated, key=lambda p: p[1])  # ties: the first in window order (weight, then id)
        sentences.append(f"Highest rated: {title(best)}, {_number(rating)}.")
        item_ids = [best]
    elif window.top_items:
        top = window.top_items[0]
        sentences.append(f"Top {cfg.singular}: {title(top)}.")
        item_ids = [top]
    return " ".join(sentences), [c for c in window.category_weights if c in set(named)], item_ids


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
        {"name": clean(c), "share": f"{round(s * 100)}%"}
        for c, s in window.category_weights.items()
        if c != UNKNOWN_CATEGORY
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


# ---------------------------------------------------------------------------------------------- context


@dataclass
class Catalog:
    """What the summary stage needs of the items: titles, categories, and the grounding index of all names."""

    titles: dict[str, str]
    categories: dict[str, list[str]]
    index: GroundingIndex

    @classmethod
    def from_items(cls, items: pd.DataFrame) -> Catalog:
        """Build from canonical items (the grounding index is cached per catalog)."""
        ids = items["item_id"].astype(str).tolist()
        titles = dict(zip(ids, items["title"].astype(str).tolist(), strict=True))
        cats = [list(c) if isinstance(c, list | tuple | np.ndarray) else [] for c in items["categories"]]
        categories = dict(zip(ids, cats, strict=True))
        all_categories = tuple(sorted({c for cs in cats for c in cs}))
        return cls(titles, categories, grounding_index(all_categories, tuple(titles.values())))


@dataclass
class WindowContext:
    """One window with what its summary needs from the events."""

    window: Window
    first: bool
    item_ratings: dict[str, float] | None = None
    item_texts: dict[str, list[str]] | None = None

    def allowed_titles(self, catalog: Catalog, max_chars: int = 200) -> list[str]:
        """Titles a summary of this window may name: catalog and displayed (sanitised) forms."""
        raw = [catalog.titles[i] for i in self.window.item_ids if i in catalog.titles]
        shown = [sanitize_text(display_title(t), max_chars, escape_markup=False) for t in raw]
        return list(dict.fromkeys(raw + shown))


def _ns(value: datetime) -> int:
    ts = pd.Timestamp(value)
    return int((ts.tz_localize("UTC") if ts.tzinfo is None else ts).value)


class EventLookup:
    """Per-window access to events (ratings, texts) after one sort; windows are ``[start, end)`` per user."""

    def __init__(self, events: pd.DataFrame, users: Iterable[str] | None = None) -> None:
        ev = events if users is None else events[events["user_id"].isin(list(users))]
        ev = ev.sort_values(["user_id", "timestamp"], kind="stable")
        n = len(ev)
        self._user = ev["user_id"].astype(str).to_numpy(dtype=object)
        self._ts = utc_ns(ev["timestamp"])
        self._item = ev["item_id"].astype(str).to_numpy(dtype=object)
        self._rating = ev["rating"].to_numpy(dtype=np.float64) if "rating" in ev else np.full(n, np.nan)
        self._text = ev["text"].fillna("").astype(str).to_numpy(dtype=object) if "text" in ev else np.full(n, "")
        cuts = np.flatnonzero(self._user[1:] != self._user[:-1]) + 1 if n else np.empty(0, dtype=np.int64)
        lo = np.concatenate([[0], cuts]).astype(int)
        hi = np.concatenate([cuts, [n]]).astype(int)
        self._rows = {str(self._user[a]): (int(a), int(b)) for a, b in zip(lo, hi, strict=True) if n}

    def _span(self, window: Window) -> range:
        lo, hi = self._rows.get(window.user_id, (0, 0))
        ts = self._ts[lo:hi]
        a = lo + int(np.searchsorted(ts, _ns(window.start), "left"))
        b = lo + int(np.searchsorted(ts, _ns(window.end), "left"))
        return range(a, b)

    def ratings(self, window: Window) -> dict[str, float]:
        """Return the mean rating per rated item of the window."""
        mine = set(window.item_ids)
        sums: dict[str, list[float]] = {}
        for i in self._span(window):
            r = self._rating[i]
            if r == r and self._item[i] in mine:
                sums.setdefault(self._item[i], []).append(float(r))
        return {k: sum(v) / len(v) for k, v in sums.items()}

    def texts(self, window: Window, max_texts: int = 3) -> dict[str, list[str]]:
        """Return up to ``max_texts`` distinct non-empty texts (tags, reviews) per item of the window."""
        mine = set(window.item_ids)
        out: dict[str, list[str]] = {}
        for i in self._span(window):
            text = self._text[i].strip()
            item = self._item[i]
            if text and item in mine:
                seen = out.setdefault(item, [])
                if text not in seen and len(seen) < max_texts:
                    seen.append(text)
        return out


def build_contexts(windows: Sequence[Window], events: pd.DataFrame | None, *, max_texts: int) -> list[WindowContext]:
    """Prepare windows for summarising; a user's first window in the list, when all its categories are new, is first."""
    first_index: dict[str, int] = {}
    for w in windows:
        first_index[w.user_id] = min(first_index.get(w.user_id, w.index), w.index)
    lookup = EventLookup(events, first_index) if events is not None and len(events) else None
    out = []
    for w in windows:
        first = w.index == first_index[w.user_id] and set(w.new_categories) >= set(w.category_weights)
        ratings = lookup.ratings(w) if lookup is not None and w.mean_rating is not None else None
        texts = lookup.texts(w, max_texts) if lookup is not None and max_texts > 0 else None
        out.append(WindowContext(w, first, ratings, texts))
    return out
