"""Keep generated text honest: sanitise untrusted text and find names a text uses that it may not use.

:func:`sanitize_text` cleans untrusted text (titles, tags, reviews) before it goes into a prompt: invisible,
zero-width and bidi control characters are removed, line breaks collapse to spaces, markup brackets are
escaped (so ``</window_data>`` inside data cannot close a data block) and the length is capped.

:func:`find_ungrounded` scans free text for known category names and item titles that are not allowed (for a
window summary: not in the window). Matching is on whole tokens, so ``War`` is not found in ``Wars`` or
``Star Wars`` and ``Drama`` is not found in ``Dramatic``; a category word inside a matched title does not count
as naming the category. Categories match case-insensitively (with simple plurals: ``dramas``, ``comedies``;
``Sci-Fi`` also as ``sci fi``); titles match case-sensitively, as written in the catalog or in common display
forms (``Matrix, The (1999)`` also as ``The Matrix (1999)``, ``The Matrix``; ``Star Wars: Episode IV ...`` also
as ``Star Wars``). Forms without a year that are a single short word (``Up``, ``Heat``, ``Alien``) or a
month or weekday name are not searched, since they are indistinguishable from ordinary words.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from interest_tools.data import UNKNOWN_CATEGORY

_STRIP_CATEGORIES = {"Cf", "Cc", "Co", "Cs", "Cn"}  # format (zero-width, bidi), control, private, surrogate, unassigned
_SPACE_CHARS = {"\t", "\n", "\r", "\v", "\f", "\x85", "\u2028", "\u2029"}
_VARIATION_RE = re.compile("[\ufe00-\ufe0f\U000e0100-\U000e01ef]")  # variation selectors (Mn)
_WS = re.compile(r"\s+")
_TOKEN = re.compile(r"\w+|[^\w\s]")
_WORD = re.compile(r"\w+")
_PUNCT = str.maketrans(
    {
        "\u2019": "'",
        "\u2018": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2010": "-",
        "\u2011": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u00a0": " ",
    }
)
_YEAR = re.compile(r"\s*\(\d{4}(?:\s*[-\u2013]\s*\d{0,4})?\)\s*$")
_ARTICLE = re.compile(r"^(?P<body>.+), (?P<art>The|A|An|Les|La|Le|L'|Il|El|Das|Der|Die|Los|Las|Un|Une|Lo|Gli)$")
# Words that alone, or together with only _COMMON words, make a title indistinguishable from plain text.
_RESERVED = frozenset(
    re.findall(
        r"[a-z]+",
        "january february march april may june july august september october november december "
        "monday tuesday wednesday thursday friday saturday sunday",
    )
)
_COMMON = frozenset(
    re.findall(
        r"[a-z]+",
        "a an the in on at of and or to for with from by between this that these your you new week weeks month "
        "months quarter year years day days top highest rated mostly all more most last next first window time",
    )
)
MIN_SINGLE_WORD_TITLE = 8
_END = ""  # trie terminal key; never a token


def sanitize_text(text: object, max_chars: int | None = 200, *, escape_markup: bool = True) -> str:
    """Clean one untrusted text field for a prompt or for display.

    Args:
        text: Any value; ``None`` and NaN give ``""``.
        max_chars: Cap on the result's length (an ellipsis marks a cut); ``None`` for no cap.
        escape_markup: Replace ``<`` and ``>`` by ``&lt;`` and ``&gt;`` so that the text cannot open or close a
            delimiter tag of the prompt.

    Returns:
        NFC-normalised text on one line, without invisible, zero-width, bidi-control or control characters.
    """
    if text is None or (isinstance(text, float) and text != text):
        return ""
    s = str(text)
    if not unicodedata.is_normalized("NFC", s):
        s = unicodedata.normalize("NFC", s)
    if s.isprintable():  # fast path: no control, format (zero-width, bidi), private or unassigned characters
        s = _VARIATION_RE.sub("", s)
    else:
        kept = []
        for ch in s:
            if ch in _SPACE_CHARS:
                kept.append(" ")
            elif unicodedata.category(ch) not in _STRIP_CATEGORIES:
                kept.append(ch)
        s = _VARIATION_RE.sub("", "".join(kept))
    s = _WS.sub(" ", s).strip()
    if escape_markup:
        s = s.replace("<", "&lt;").replace(">", "&gt;")
    if max_chars is not None and len(s) > max_chars:
        s = s[: max(max_chars - 1, 0)].rstrip() + "…"
    return s


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.translate(_PUNCT))


def _distinctive(form: str) -> bool:
    words = _WORD.findall(form)
    if all(w.lower() in _RESERVED or w.lower() in _COMMON for w in words):
        return False
    if len(words) >= 2:
        return True
    return len(words) == 1 and len(words[0]) >= MIN_SINGLE_WORD_TITLE and words[0].lower() not in _RESERVED


def title_variants(title: str) -> set[str]:
    """Return the display forms of a catalog title that :func:`find_ungrounded` searches for.

    ``"Matrix, The (1999)"`` gives ``Matrix, The (1999)``, ``The Matrix (1999)``, ``Matrix, The`` and
    ``The Matrix``; the part before a colon counts too (``Star Wars`` of ``Star Wars: Episode IV ...``).
    Forms that are not distinctive (one word shorter than 8 letters, only month, weekday or common words such
    as ``In July``) are left out.
    """
    t = _WS.sub(" ", title).strip()
    if not t:
        return set()
    out = {t}
    m = _YEAR.search(t)
    year = m.group(0).strip() if m else ""
    base = t[: m.start()].strip() if m else t
    main, sep, alt = base.partition(" (")
    rest = f" ({alt}" if sep else ""
    mains = {main}
    art = _ARTICLE.match(main)
    if art:
        mains.add(f"{art['art']} {art['body']}")
    for mm in list(mains):
        if ":" in mm:
            mains.add(mm.split(":", 1)[0].strip())
    for mm in mains:
        if year:
            out.update({f"{mm}{rest} {year}", f"{mm} {year}"})
        out.update({f"{mm}{rest}", mm})
    return {v for v in out if v and _distinctive(v)}


def display_title(title: str) -> str:
    """Return a catalog title in reading order: ``Matrix, The (1999)`` gives ``The Matrix (1999)``."""
    t = _WS.sub(" ", title).strip()
    m = _YEAR.search(t)
    base, year = (t[: m.start()].strip(), " " + m.group(0).strip()) if m else (t, "")
    main, sep, alt = base.partition(" (")
    art = _ARTICLE.match(main)
    if not art:
        return t
    return f"{art['art']} {art['body']}{' (' + alt if sep else ''}{year}"


def category_forms(category: str) -> set[str]:
    """Return the lower-case forms under which a category name is searched (plural, hyphen-free)."""
    c = _WS.sub(" ", category).strip().casefold()
    if not c:
        return set()
    forms = {c}
    if c.endswith("y") and len(c) > 2 and c[-2] not in "aeiou":
        forms.add(c[:-1] + "ies")
    elif c.endswith(("s", "x", "ch", "sh")):
        forms.add(c + "es")
    else:
        forms.add(c + "s")
    for f in list(forms):
        if "-" in f:
            forms.update({f.replace("-", " "), f.replace("-", "")})
    return forms


def _insert(trie: dict[str, Any], tokens: list[str], name: str) -> None:
    node = trie
    for tok in tokens:
        node = node.setdefault(tok, {})
    node.setdefault(_END, set()).add(name)


@dataclass(frozen=True)
class _Match:
    start: int
    end: int
    names: frozenset[str]

    def inside(self, spans: list[tuple[int, int]], *, strictly: bool = False) -> bool:
        n = self.end - self.start
        return any(a <= self.start and self.end <= b and (not strictly or b - a > n) for a, b in spans)


def _matches(trie: dict[str, Any], tokens: list[str]) -> list[_Match]:
    out = []
    for i in range(len(tokens)):
        node = trie
        j = i
        while j < len(tokens) and tokens[j] in node:
            node = node[tokens[j]]
            j += 1
            if _END in node:
                out.append(_Match(i, j, frozenset(node[_END])))
    return out


@dataclass
class GroundingReport:
    """What a scan found: names that are not allowed, and allowed names the text uses."""

    ungrounded: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    titles: list[str] = field(default_factory=list)


class GroundingIndex:
    """Token tries over every known category and title; build once per catalog, scan many texts."""

    def __init__(self, all_categories: Iterable[str], all_titles: Iterable[str]) -> None:
        self._cats: dict[str, Any] = {}
        self._titles: dict[str, Any] = {}
        self._known: set[str] = set()
        for cat in set(all_categories):
            if cat and cat != UNKNOWN_CATEGORY:
                for form in category_forms(cat):
                    _insert(self._cats, _tokens(form), cat)
        for title in set(all_titles):
            self._known.add(title)
            for form in title_variants(title):
                _insert(self._titles, _tokens(form), title)

    def scan(self, text: str, allowed_categories: Iterable[str], allowed_titles: Iterable[str]) -> GroundingReport:
        """Scan ``text`` for known names; report those not allowed and the allowed ones it uses.

        Args:
            text: Free text, e.g. a generated summary.
            allowed_categories: Category names the text may use (for a window: its categories).
            allowed_titles: Titles the text may use (for a window: its items' titles); they need not be in
                the catalog, and a known name inside one of them is not reported.
        """
        found = list(_TOKEN.finditer(text.translate(_PUNCT)))
        toks = [t.group(0) for t in found]
        low = [t.casefold() for t in toks]
        allowed_c = set(allowed_categories)
        allowed_t = set(allowed_titles)
        own: dict[str, Any] = {}
        for title in allowed_t - self._known:  # catalog titles are in the big trie already
            for form in title_variants(title) | {_WS.sub(" ", title).strip()}:
                if form:
                    _insert(own, _tokens(form), title)
        title_m = _matches(self._titles, toks)
        own_m = _matches(own, toks)
        cat_m = _matches(self._cats, low)
        allowed_title_m = own_m + [m for m in title_m if m.names & allowed_t]
        title_spans = [(m.start, m.end) for m in title_m + own_m]
        allowed_spans = [(m.start, m.end) for m in allowed_title_m]
        allowed_spans += [(m.start, m.end) for m in cat_m if m.names & allowed_c]
        report = GroundingReport()
        bad: set[str] = set()
        for m in title_m:
            if not m.names & allowed_t and not m.inside(allowed_spans) and not m.inside(title_spans, strictly=True):
                bad.add(text[found[m.start].start() : found[m.end - 1].end()])
        for m in cat_m:
            in_title = m.inside(title_spans, strictly=True)
            if m.names & allowed_c:
                if not in_title:
                    report.categories.extend(sorted(m.names & allowed_c))
            elif not in_title and not m.inside(allowed_spans):
                bad.add(min(m.names))
        report.ungrounded = sorted(bad)
        report.categories = list(dict.fromkeys(report.categories))
        report.titles = list(dict.fromkeys(t for m in allowed_title_m for t in sorted(m.names & allowed_t)))
        return report


@lru_cache(maxsize=8)
def grounding_index(all_categories: tuple[str, ...], all_titles: tuple[str, ...]) -> GroundingIndex:
    """Return a cached :class:`GroundingIndex` for one catalog (keyed by its category and title tuples)."""
    return GroundingIndex(all_categories, all_titles)


def find_ungrounded(
    text: str,
    allowed_categories: Iterable[str],
    allowed_titles: Iterable[str],
    all_categories: Iterable[str],
    all_titles: Iterable[str],
) -> list[str]:
    """Return the known category names and item titles that ``text`` uses but may not use.

    Args:
        text: Free text to check (a summary, an explanation).
        allowed_categories: Categories the text may name.
        allowed_titles: Titles the text may name; a category word that only occurs inside one of them is fine.
        all_categories: Every category of the catalog (``"unknown"`` is ignored).
        all_titles: Every title of the catalog.

    Returns:
        Sorted names that are used but not allowed: canonical category names, and titles as the text writes
        them (``"Star Wars"``); empty when the text is grounded.
    """
    index = grounding_index(tuple(all_categories), tuple(all_titles))
    return index.scan(text, allowed_categories, allowed_titles).ungrounded
