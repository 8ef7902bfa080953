"""Argument models of the agent operations (see :mod:`interest_tools.adapters._operations`) and their error.

Every field has a description (the adapters show it to the model); no model has ``user_id``: who the user is
never comes from the model (operator tools add it: see ``Operation.operator_args`` in
:mod:`interest_tools.adapters._operation_context`). List fields are plain arrays with an empty default, never
``list | None``: a schema ``anyOf`` [array, null] has no top-level ``type``, and clients that type arguments from
the schema (the MCP Inspector CLI's ``--tool-arg 'categories=["Comedy"]'``) then send the list as a string.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator, model_validator

from interest_tools.errors import ConfigError


class ToolArgumentError(ConfigError):
    """A tool call's arguments are wrong in a way the caller can fix (the message names the valid values)."""


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NoArgs(_Args):
    """No arguments: the operation reads the bound user."""


class LastArgs(_Args):
    """How many of the most recent windows."""

    last: int | None = Field(
        default=None, ge=1, le=1000, description="Only the most recent N windows; omit for the whole history."
    )


class SearchArgs(_Args):
    """A question about the person's past."""

    query: str = Field(
        min_length=1, max_length=500, description="What to look for, in plain words, e.g. 'when was I into horror?'."
    )
    k: int = Field(default=5, ge=1, le=20, description="How many windows to return (1-20), best match first.")


class AsOfArgs(_Args):
    """A date in the person's history."""

    date: str = Field(
        min_length=4, max_length=40, description="ISO 8601 date, e.g. 2020-08-15 (convert 'last summer' first)."
    )


class RecommendArgs(_Args):
    """How many items and which categories."""

    k: int = Field(default=5, ge=1, le=50, description="How many items to suggest (1-50).")
    categories: list[str] = Field(
        default=[],
        description="Only items in at least one of these catalog categories (this request only; empty: any).",
    )
    exclude_categories: list[str] = Field(
        default=[], description="No items in any of these catalog categories (this request only)."
    )

    @field_validator("categories", "exclude_categories", mode="before")
    @classmethod
    def _null_is_empty(cls, value: object) -> object:
        """``null`` (what models and older callers send for "no filter") means the empty list."""
        return [] if value is None else value


class ReportArgs(_Args):
    """Report format."""

    format: Literal["html", "md"] = Field(
        default="html", description="html: one self-contained file; md: Markdown with chart images beside it."
    )


class EventIn(_Args):
    """One new event of the bound user."""

    item_id: str = Field(min_length=1, description="Catalog item id, e.g. as returned by interest_recommend.")
    timestamp: str = Field(min_length=4, description="When it happened, ISO 8601, e.g. 2021-01-05T20:00:00Z.")
    rating: float | None = Field(default=None, description="The person's rating on the catalog's scale, if any.")
    weight: float | None = Field(default=None, ge=0, description="Strength of the event (default 1; 0 ignores it).")
    event: str | None = Field(default=None, max_length=40, description="Kind of event, e.g. rating, view, purchase.")
    text: str | None = Field(default=None, max_length=2000, description="What the person said about it, if any.")


class IngestArgs(_Args):
    """New events to append."""

    events: list[EventIn] = Field(min_length=1, max_length=500, description="The new events (1-500).")


class FeedbackArgs(_Args):
    """What the person said about what they want next."""

    kind: Literal["more_like_item", "not_this_item", "more_category", "no_more_category"] = Field(
        description="more_like_item / not_this_item need item_id; more_category / no_more_category need category."
    )
    item_id: str | None = Field(default=None, description="Catalog item id the person referred to (item kinds).")
    category: str | None = Field(default=None, description="Catalog category the person referred to (category kinds).")
    text: str = Field(default="", max_length=500, description="The person's words, kept as evidence (optional).")
    stated_at: str | None = Field(
        default=None,
        max_length=40,
        description="ISO 8601 date when the person said it, only if earlier than now ('since last week'); "
        "omit for now.",
    )
    valid_until: str | None = Field(
        default=None,
        max_length=40,
        description="ISO 8601 date when it lapses by itself ('for a month': a month from today); omit for never.",
    )

    @model_validator(mode="after")
    def _needs_its_target(self) -> FeedbackArgs:
        """Item kinds need ``item_id`` and category kinds need ``category`` (said before any lookup)."""
        field = "item_id" if self.kind in ("more_like_item", "not_this_item") else "category"
        if not getattr(self, field):
            raise ValueError(f"{self.kind} needs {field} (the {field.replace('_', ' ')} the person referred to)")
        return self


class PreferencesArgs(_Args):
    """The date the timeline of stated preferences is seen from."""

    as_of: str | None = Field(
        default=None,
        max_length=40,
        description="ISO 8601 date to see the timeline as it was then, e.g. 2020-08-15; omit for now.",
    )


class ForgetArgs(_Args):
    """Confirmation of a deletion: a JSON boolean only ("yes", "1", 1 or "true" are refused, never coerced)."""

    confirm: StrictBool = Field(
        description="JSON true only when the person explicitly asked to delete all their data (a boolean, not text)."
    )
