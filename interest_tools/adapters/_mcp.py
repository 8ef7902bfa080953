"""The MCP adapter: the same operations as the LangChain toolkit, as FastMCP tools over stdio or streamable HTTP.

Tool names, descriptions and argument schemas come from :data:`interest_tools.adapters._operations.OPERATIONS`, so they
agree with the LangChain tools by construction. A result is the short text (content) plus the CLI's JSON
(structured content; lists are wrapped as ``{"result": [...]}`` and unwrapped by FastMCP clients). Caller-fixable
problems come back as tool errors (``isError``) naming the valid values.

Run it with ``interest-tools serve-mcp [--transport stdio|http] [--user USER] [--store P]``.
"""

from __future__ import annotations

import logging
import sys
from functools import partial
from pathlib import Path
from typing import Any, Literal

import anyio
from fastmcp import FastMCP
from fastmcp.exceptions import ToolError
from fastmcp.tools import Tool, ToolResult
from pydantic import PrivateAttr

from interest_tools.adapters._operation_context import Operation, ToolContext
from interest_tools.adapters._operations import select
from interest_tools.engine import Engine
from interest_tools.errors import InterestToolsError

INSTRUCTIONS = (
    "Tools about how a person's interests change over time and what to suggest next: their windows and "
    "summaries, search of their history, what they were into at a date, a forecast, recommendations with "
    "reasons, explanations of shifts, a report, and recording new events and stated feedback."
)


class OperationTool(Tool):
    """An MCP tool that runs one operation in a worker thread (the engine is shared and thread-safe)."""

    _context: ToolContext = PrivateAttr()
    _operation: Operation = PrivateAttr()

    @classmethod
    def create(cls, context: ToolContext, operation: Operation) -> OperationTool:
        """Build the tool for one operation; its input schema is the operation's args model."""
        tool = cls(
            name=operation.name,
            description=operation.description,
            parameters=context.args_model(operation).model_json_schema(),
        )
        tool._context = context
        tool._operation = operation
        return tool

    async def run(self, arguments: dict[str, Any]) -> ToolResult:
        """Validate, run, and return the text plus the JSON; caller-fixable errors raise :class:`ToolError`."""
        try:
            args = self._context.parse(self._operation, arguments)
            text, artifact = await anyio.to_thread.run_sync(partial(self._context.execute, self._operation, args))
        except InterestToolsError as exc:  # caller-fixable: an isError result, logged quietly
            raise ToolError(str(exc), log_level=logging.INFO) from exc
        if isinstance(artifact, dict):
            return ToolResult(content=text, structured_content=artifact)
        return ToolResult(
            content=text, structured_content={"result": artifact}, meta={"fastmcp": {"wrap_result": True}}
        )


def create_server(
    engine: Engine,
    *,
    user_id: str | None = None,
    report_dir: Path | None = None,
    include: list[str] | None = None,
    name: str = "interest-tools",
) -> FastMCP:
    """A FastMCP server exposing the operations over ``engine``.

    Args:
        engine: The engine every tool calls.
        user_id: Bind every tool to this user (no ``user_id`` argument); ``None`` gives operator tools.
        report_dir: Where ``interest_report`` writes (default ``<store>/reports``).
        include: Only these tool names (default all).
        name: The server name announced to clients.
    """
    context = ToolContext(engine, user_id, report_dir)
    server = FastMCP(name, instructions=INSTRUCTIONS)
    for op in select(include):
        server.add_tool(OperationTool.create(context, op))
    return server


def serve(
    engine: Engine,
    *,
    transport: Literal["stdio", "http"] = "stdio",
    user_id: str | None = None,
    host: str = "127.0.0.1",
    port: int = 8765,
    report_dir: Path | None = None,
) -> None:
    """Load the store, then serve until the client disconnects (stdio) or the process is stopped (HTTP).

    Raises:
        InterestToolsError: Nothing is built at the store (checked before serving).
    """
    users = engine.users()  # loads the store now: a missing build fails here, not on the first call
    if user_id is not None and user_id not in users:
        sys.stderr.write(f"note: user '{user_id}' has no history yet; interest_ingest_events can add it\n")
    server = create_server(engine, user_id=user_id, report_dir=report_dir)
    if transport == "stdio":
        server.run("stdio", show_banner=False)
    else:
        server.run("http", show_banner=False, host=host, port=port)
