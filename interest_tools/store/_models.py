"""Configuration, input records and results of the embedding store (plain pydantic, no Chroma here)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from interest_tools.windows import Window

#: Chroma's collection-name rule: 3-512 characters of ``[a-zA-Z0-9._-]``, alphanumeric at both ends.
_COLLECTION_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]{1,510}[a-zA-Z0-9]$")


class StoreConfig(BaseModel):
    """Collection names and write batching of the store; the connection comes from ``Settings``."""

    model_config = ConfigDict(extra="forbid")

    items_collection: str = Field(default="items", description="Chroma collection holding one record per item.")
    windows_collection: str = Field(
        default="windows", description="Chroma collection holding one record per (user, freq, window) summary."
    )
    collection_prefix: str = Field(
        default="",
        description="Prefix of both collection names, so that several stores can share one Chroma database.",
    )
    max_batch_size: int = Field(
        default=1000,
        ge=1,
        description="Records embedded and written per call; the effective size is also capped by the "
        "client's get_max_batch_size().",
    )
    show_progress: bool | None = Field(
        default=None, description="Progress bar while embedding; None shows it only when stderr is a terminal."
    )

    @model_validator(mode="after")
    def _valid_names(self) -> StoreConfig:
        for name in (self.items_name, self.windows_name):
            if not _COLLECTION_NAME.match(name):
                raise ValueError(
                    f"collection name {name!r} is not valid for Chroma: use 3-512 characters of letters, "
                    "digits, '.', '_' or '-', starting and ending with a letter or digit"
                )
        if self.items_name == self.windows_name:
            raise ValueError(f"items and windows collections must differ (both are {self.items_name!r})")
        return self

    @property
    def items_name(self) -> str:
        """Full name of the items collection."""
        return f"{self.collection_prefix}{self.items_collection}"

    @property
    def windows_name(self) -> str:
        """Full name of the windows collection."""
        return f"{self.collection_prefix}{self.windows_collection}"


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class WindowDoc(BaseModel):
    """One window's summary text, ready to be embedded into the ``windows`` collection."""

    model_config = ConfigDict(extra="forbid")

    user_id: str = Field(min_length=1, description="The user the window belongs to.")
    freq: str = Field(min_length=1, description="Label of the window cut (WindowConfig.label), e.g. 'month'.")
    index: int = Field(description="Window index within the user's windows of this cut.")
    start: datetime = Field(description="Inclusive start; naive times are taken as UTC.")
    end: datetime = Field(description="Exclusive end; naive times are taken as UTC.")
    text: str = Field(description="Summary text that is embedded and returned by search_history.")
    top_categories: list[str] = Field(default_factory=list, description="Largest categories first.")

    @field_validator("start", "end")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return _utc(value)

    @model_validator(mode="after")
    def _ordered(self) -> WindowDoc:
        if self.end < self.start:
            raise ValueError(f"window end {self.end.isoformat()} is before its start {self.start.isoformat()}")
        return self

    @property
    def doc_id(self) -> str:
        """Deterministic store id ``window:<user>:<freq>:<index>``."""
        return window_id(self.user_id, self.freq, self.index)

    @classmethod
    def from_window(cls, window: Window, freq: str, text: str, top_k: int = 3) -> WindowDoc:
        """Build the document of a computed :class:`~interest_tools.windows._compute.Window`.

        Args:
            window: The window.
            freq: Label of the cut (``WindowConfig.label``).
            text: Its summary text.
            top_k: How many of the largest categories to record.
        """
        return cls(
            user_id=window.user_id,
            freq=freq,
            index=window.index,
            start=window.start,
            end=window.end,
            text=text,
            top_categories=list(window.category_weights)[:top_k],
        )


def item_id_to_store(item_id: str) -> str:
    """Store id of an item: ``item:<item_id>``."""
    return f"item:{item_id}"


def window_id(user_id: str, freq: str, index: int) -> str:
    """Store id of a window: ``window:<user>:<freq>:<index>``."""
    return f"window:{user_id}:{freq}:{index}"


class UpsertReport(BaseModel):
    """What one write did. ``n_total == n_embedded + n_updated + n_skipped``."""

    n_total: int = Field(default=0, description="Records given.")
    n_embedded: int = Field(default=0, description="Records new or with changed text: embedded and written.")
    n_updated: int = Field(
        default=0, description="Records with unchanged text but changed metadata: rewritten without embedding."
    )
    n_skipped: int = Field(default=0, description="Records identical to what was stored: not touched.")
    n_deleted: int = Field(default=0, description="Stale records deleted (replace_user_windows).")
    seconds: float = Field(default=0.0, description="Wall time of the write.")

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form."""
        return self.model_dump(mode="json")


class ItemHit(BaseModel):
    """One item found by :meth:`InterestStore.query_items`."""

    item_id: str = Field(description="The item id.")
    title: str = Field(description="The item title.")
    categories: list[str] = Field(description="The item categories.")
    score: float = Field(description="Cosine similarity to the query, in [-1, 1]; higher is closer.")


class WindowHit(BaseModel):
    """One window found by :meth:`InterestStore.search_history`."""

    user_id: str = Field(description="The user (always the one searched).")
    freq: str = Field(description="Label of the window cut.")
    index: int = Field(description="Window index.")
    start: datetime = Field(description="Inclusive start (UTC).")
    end: datetime = Field(description="Exclusive end (UTC).")
    summary: str = Field(description="The stored summary text.")
    top_categories: list[str] = Field(description="Largest categories of the window, largest first.")
    score: float = Field(description="Cosine similarity to the query, in [-1, 1]; higher is closer.")
