"""Stated preferences over time: every statement keeps its time, and later ones end earlier ones.

A feedback record (one line of ``data/feedback.jsonl``, see :mod:`interest_tools.store._state`) is a statement:
``kind`` with ``item_id`` or ``category``, ``stated_at`` (when the person said it), an optional ``valid_until``
("no horror for a month") and ``source`` (``tool``, ``cli`` or ``mcp``). The file is append-only; only
``forget`` deletes. The timeline is derived from it at read time, so backfilled statements (a ``stated_at`` in
the past) land in their place and a crash can never leave it half-updated:

- statements are ordered by ``stated_at`` (ties in file order);
- a statement about the same item (``more_like_item`` / ``not_this_item``) or the same category
  (``more_category`` / ``no_more_category``) ends the earlier one: its ``superseded_at`` is the later one's
  ``stated_at`` (unless the earlier one had already lapsed by its ``valid_until``);
- a statement is in force at ``t`` when ``stated_at <= t``, it is not superseded by then, and ``t`` is before
  its ``valid_until``.

Records written before statements had times carry only ``timestamp`` (when they were recorded); that time is
their ``stated_at``, so old stores read as statements in force (later ones still override earlier ones).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from interest_tools.errors import ConfigError
from interest_tools.recommend._recommend import Preferences

__all__ = [
    "SOURCES",
    "Statement",
    "StatementSource",
    "in_force_at",
    "parse_instant",
    "preferences_at",
    "statement_record",
    "timeline",
]

StatementSource = Literal["tool", "cli", "mcp"]
SOURCES: tuple[str, ...] = ("tool", "cli", "mcp")
_ITEM_KINDS = ("more_like_item", "not_this_item")
_TEXT = {"more_like_item": "more like {what}", "not_this_item": "not {what}", "more_category": "more {what}",
         "no_more_category": "no more {what}"}  # fmt: skip


class Statement(BaseModel):
    """One stated preference on the timeline (the ``statements`` entries of ``interest-tools preferences``)."""

    kind: str = Field(description="more_like_item, not_this_item, more_category or no_more_category.")
    category: str | None = Field(default=None, description="The category (category kinds).")
    item_id: str | None = Field(default=None, description="The item (item kinds).")
    stated_at: datetime = Field(description="When the person said it (UTC).")
    valid_until: datetime | None = Field(default=None, description="When it lapses by itself (UTC); None: never.")
    superseded_at: datetime | None = Field(
        default=None, description="When a later statement about the same item or category ended it (UTC)."
    )
    in_force: bool = Field(description="Whether it applies at the timeline's as_of.")
    status: Literal["in_force", "superseded", "expired"] = Field(description="Why it applies or not at as_of.")
    source: str | None = Field(default=None, description="Where it was said: tool, cli or mcp (None: older store).")
    text: str = Field(default="", description="The person's words, if given.")

    @property
    def key(self) -> tuple[str, str]:
        """What the statement is about: ``("item", id)`` or ``("category", name)``."""
        return ("item", self.item_id or "") if self.kind in _ITEM_KINDS else ("category", self.category or "")

    def describe(self, titles: Mapping[str, str] | None = None) -> str:
        """Plain English, e.g. ``no more Horror`` or ``more like Alien``."""
        what = (titles or {}).get(self.item_id or "", self.item_id) if self.kind in _ITEM_KINDS else self.category
        return _TEXT.get(self.kind, self.kind + " {what}").format(what=what)

    def ends(self) -> datetime | None:
        """When it stopped (or will stop) applying: the earlier of ``superseded_at`` and ``valid_until``."""
        ends = [t for t in (self.superseded_at, self.valid_until) if t is not None]
        return min(ends) if ends else None


def parse_instant(value: datetime | date | str, field: str) -> datetime:
    """Read a date or time as a UTC instant (a date or a naive time is taken as UTC).

    Raises:
        ConfigError: The value is not ISO 8601; the message names the field and an example.
    """
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ConfigError(f"{field} '{value}' is not an ISO 8601 date or time; use e.g. 2024-03-03") from None
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def statement_record(
    user_id: str, kind: str, *, item_id: str | None, category: str | None, text: str, now: datetime,
    stated_at: datetime | date | str | None = None, valid_until: datetime | date | str | None = None,
    source: str = "tool",
) -> dict[str, Any]:  # fmt: skip
    """The feedback record to append for one statement (checked; the catalog check is ``check_feedback``'s).

    Raises:
        ConfigError: ``stated_at`` in the future, ``valid_until`` not after ``stated_at``, an unreadable date or
            an unknown source.
    """
    if source not in SOURCES:
        raise ConfigError(f"unknown feedback source '{source}'; valid sources: {', '.join(SOURCES)}")
    said = now if stated_at is None else parse_instant(stated_at, "stated_at")
    if said > now:
        raise ConfigError(
            f"stated_at {said.isoformat()} is in the future (now is {now.isoformat()}); give when the person said "
            "it, or leave it out for now"
        )
    until = None if valid_until is None else parse_instant(valid_until, "valid_until")
    if until is not None and until <= said:
        raise ConfigError(
            f"valid_until {until.isoformat()} is not after stated_at {said.isoformat()}; give the date the "
            "statement should lapse (e.g. a month after it was said), or leave it out"
        )
    return {"user_id": user_id, "kind": kind, "item_id": item_id, "category": category, "text": text[:500],
            "timestamp": now.isoformat(), "stated_at": said.isoformat(),
            "valid_until": None if until is None else until.isoformat(), "source": source}  # fmt: skip


def _instant(value: Any) -> datetime | None:
    """A stored time as a UTC instant; None when absent or unreadable (such a record is left out, not fatal)."""
    if value is None or value == "":
        return None
    try:
        t = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t


def _ordered(records: Iterable[Mapping[str, Any]]) -> list[tuple[datetime, datetime | None, Mapping[str, Any]]]:
    """(stated_at, valid_until, record), by stated_at (ties in file order); records without a time are skipped."""
    rows = []
    for rec in records:
        said = _instant(rec.get("stated_at") or rec.get("timestamp"))
        if said is not None and rec.get("kind"):
            rows.append((said, _instant(rec.get("valid_until")), rec))
    rows.sort(key=lambda row: row[0])  # stable: ties keep file order
    return rows


def _key(rec: Mapping[str, Any]) -> tuple[str, str]:
    kind = rec["kind"]
    return ("item", str(rec.get("item_id"))) if kind in _ITEM_KINDS else ("category", str(rec.get("category")))


def timeline(records: Iterable[Mapping[str, Any]], at: datetime) -> list[Statement]:
    """The statements known at ``at`` (stated at or before it), oldest first, each with its state at ``at``.

    A statement superseded only after ``at`` shows ``superseded_at`` None: the timeline is what was known then.

    Args:
        records: One user's feedback records, in file order.
        at: The instant the timeline is seen from (UTC).
    """
    rows = [row for row in _ordered(records) if row[0] <= at]
    following: dict[tuple[str, str], datetime] = {}
    out: list[Statement] = []
    for said, until, rec in reversed(rows):
        key = _key(rec)
        superseded = following.get(key)
        following[key] = said
        if superseded is not None and until is not None and until <= superseded:
            superseded = None  # it had lapsed by itself before the later statement came
        expired = until is not None and until <= at
        status: Literal["in_force", "superseded", "expired"] = (
            "superseded" if superseded is not None else "expired" if expired else "in_force"
        )
        out.append(
            Statement(
                kind=rec["kind"],
                category=rec.get("category"),
                item_id=rec.get("item_id"),
                stated_at=said,
                valid_until=until,
                superseded_at=superseded,
                in_force=status == "in_force",
                status=status,
                source=rec.get("source"),
                text=str(rec.get("text") or ""),
            )
        )
    out.reverse()
    return out


def in_force_at(records: Iterable[Mapping[str, Any]], at: datetime) -> list[Statement]:
    """The statements in force at ``at``, oldest first."""
    return [s for s in timeline(records, at) if s.in_force]


def preferences_at(records: Iterable[Mapping[str, Any]], at: datetime) -> Preferences:
    """The preferences in force at ``at`` (the recommend hot path: no models are built).

    Equals folding :func:`in_force_at` into :class:`Preferences`; the latest statement about each item or
    category decides, and an expired one no longer applies.
    """
    latest: dict[tuple[str, str], tuple[datetime | None, Mapping[str, Any]]] = {}
    for said, until, rec in _ordered(records):
        if said <= at:
            latest.pop(_key(rec), None)  # re-insert: the order of the preferences follows the statements
            latest[_key(rec)] = (until, rec)
    prefs = Preferences()
    for until, rec in latest.values():
        if until is not None and until <= at:
            continue
        kind = rec["kind"]
        if kind == "more_like_item":
            prefs.liked_items.append(rec["item_id"])
        elif kind == "not_this_item":
            prefs.rejected_items.append(rec["item_id"])
        elif kind == "more_category":
            prefs.boosted_categories.append(rec["category"])
        elif kind == "no_more_category":
            prefs.excluded_categories.append(rec["category"])
    return prefs
