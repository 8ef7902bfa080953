"""What each agent operation returns (its JSON artifact), as types, and the MCP output schema made from them.

The engine results are pydantic models dumped with ``model_dump(mode="json")`` (the CLI's ``--json``); the few
results the operations assemble themselves are described here. MCP needs an object at the top of an output
schema, so a list result is wrapped as ``{"result": [...]}`` with FastMCP's ``x-fastmcp-wrap-result`` marker,
which tells FastMCP clients to unwrap it.
"""

from __future__ import annotations

from functools import cache
from typing import Any, get_origin

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from interest_tools.pipeline import BuildReport


class ReportResult(BaseModel):
    """The files ``interest_report`` wrote."""

    user_id: str = Field(description="The user the report is about.")
    files: list[str] = Field(description="Paths of the written files (the report first, then any chart images).")


class IngestResult(BuildReport):
    """What ``interest_ingest_events`` stored."""

    user_id: str = Field(description="The user the events were recorded for.")


class FeedbackResult(BaseModel):
    """The stored feedback record (more fields may follow as the record grows)."""

    model_config = ConfigDict(extra="allow")

    user_id: str = Field(description="The user who said it.")
    kind: str = Field(description="more_like_item, not_this_item, more_category or no_more_category.")
    item_id: str | None = Field(default=None, description="The item referred to (item kinds).")
    category: str | None = Field(default=None, description="The category referred to (category kinds).")
    text: str = Field(default="", description="The person's words.")
    timestamp: str = Field(description="When it was recorded (UTC, ISO 8601).")
    stated_at: str = Field(description="When the person said it (UTC, ISO 8601; the record time unless given).")
    valid_until: str | None = Field(default=None, description="When it stops applying (UTC, ISO 8601), if ever.")
    source: str = Field(description="Where it was said: tool (LangChain), mcp or cli.")


class ForgetResult(BaseModel):
    """What ``interest_forget_user`` deleted."""

    user_id: str = Field(description="The user whose data was deleted.")
    deleted: dict[str, int] = Field(description="How many records of each kind were deleted (events, windows, ...).")


@cache
def mcp_output_schema(output: Any) -> dict[str, Any]:
    """The MCP output schema of a result type: an object schema, lists wrapped as ``{"result": [...]}``."""
    schema = TypeAdapter(output).json_schema(mode="serialization")
    if get_origin(output) is not list:
        return schema
    wrapped: dict[str, Any] = {
        "type": "object",
        "properties": {"result": {k: v for k, v in schema.items() if k != "$defs"}},
        "required": ["result"],
        "x-fastmcp-wrap-result": True,
    }
    if "$defs" in schema:
        wrapped["$defs"] = schema["$defs"]
    return wrapped
