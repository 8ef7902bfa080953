"""The MCP adapter: the same operations as the LangChain toolkit, as FastMCP tools over stdio or streamable HTTP.

Tool names, descriptions and argument schemas come from :data:`interest_tools.adapters._operations.OPERATIONS`, so they
agree with the LangChain tools by construction. A result is the short text (content) plus the CLI's JSON
(structured content), described by the tool's declared output schema (lists are wrapped as ``{"result": [...]}``,
marked ``x-fastmcp-wrap-result``, and unwrapped by FastMCP clients). The server announces the package's version.
Caller-fixable problems come back as tool errors (``isError``) naming the valid values.

Run it with ``interest-tools serve-mcp [--transport stdio|http] [--user USER] [--store P]``. Over HTTP every
request needs the bearer token, Host and Origin are checked, and without ``--user`` the write tools need
``--allow-writes`` (see ``_mcp_access``).
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
from fastmcp.server.auth import AuthProvider
from fastmcp.tools import Tool, ToolResult
from pydantic import PrivateAttr

from interest_tools._version import __version__
from interest_tools.adapters._mcp_access import HttpAccess
from interest_tools.adapters._operation_context import Operation, ToolContext
from interest_tools.adapters._operations import select
from interest_tools.engine import Engine
from interest_tools.errors import ConfigError, InterestToolsError

INSTRUCTIONS = (
    "Tools about how a person's interests change over time and what to suggest next: their windows and "
    "summaries, search of their history, what they were into at a date, a forecast, recommendations with "
    "reasons, explanations of shifts, a report, and recording new events and stated feedback."
)
READ_ONLY_INSTRUCTIONS = INSTRUCTIONS.replace(", and recording new events and stated feedback", " (read-only)")


class OperationTool(Tool):
    """An MCP tool that runs one operation in a worker thread (the engine is shared and thread-safe)."""

    _context: ToolContext = PrivateAttr()
    _operation: Operation = PrivateAttr()

    @classmethod
    def create(cls, context: ToolContext, operation: Operation) -> OperationTool:
        """Build the tool for one operation; its input and output schemas come from the operation's types."""
        tool = cls(
            name=operation.name,
            description=operation.description,
            parameters=context.args_model(operation).model_json_schema(),
            output_schema=operation.output_schema,
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
    writes: bool = True,
    auth: AuthProvider | None = None,
) -> FastMCP:
    """A FastMCP server exposing the operations over ``engine``.

    Args:
        engine: The engine every tool calls.
        user_id: Bind every tool to this user (no ``user_id`` argument); ``None`` gives operator tools.
        report_dir: Where ``interest_report`` writes (default ``<store>/reports``).
        include: Only these tool names (default all).
        name: The server name announced to clients.
        writes: Whether the write tools (ingest, feedback, forget) are listed at all; ``False`` leaves them out,
            so calling one fails as an unknown tool.
        auth: FastMCP authentication of HTTP requests (see :func:`create_http_server`); ``None`` for stdio.
    """
    context = ToolContext(engine, user_id, report_dir, source="mcp")
    instructions = INSTRUCTIONS if writes else READ_ONLY_INSTRUCTIONS
    server = FastMCP(name, instructions=instructions, version=__version__, auth=auth)
    for op in select(include):
        if writes or not op.writes:
            server.add_tool(OperationTool.create(context, op))
    return server


def create_http_server(
    engine: Engine,
    access: HttpAccess,
    *,
    user_id: str | None = None,
    report_dir: Path | None = None,
    allow_writes: bool = False,
) -> FastMCP:
    """The server for streamable HTTP: bearer token required; write tools only bound to a user or ``allow_writes``.

    Run it with :func:`run_http_async` (or ``serve``), which adds the Host/Origin guard of ``access``.
    """
    writes = user_id is not None or allow_writes
    return create_server(engine, user_id=user_id, report_dir=report_dir, writes=writes, auth=access.verifier())


async def run_http_async(server: FastMCP, access: HttpAccess, host: str = "127.0.0.1", port: int = 8765) -> None:
    """Serve ``server`` over streamable HTTP at ``http://HOST:PORT/mcp`` behind the Host/Origin guard of ``access``."""
    await server.run_http_async(host=host, port=port, show_banner=False, **access.run_options())


def serve(
    engine: Engine,
    *,
    transport: Literal["stdio", "http"] = "stdio",
    user_id: str | None = None,
    host: str = "127.0.0.1",
    port: int = 8765,
    report_dir: Path | None = None,
    access: HttpAccess | None = None,
    allow_writes: bool = False,
) -> None:
    """Load the store, then serve until the client disconnects (stdio) or the process is stopped (HTTP).

    Args:
        engine: The engine every tool calls.
        transport: ``stdio`` (a local client's subprocess: every tool) or ``http`` (needs ``access``).
        user_id: Bind every tool to this user; ``None`` gives operator tools.
        host: HTTP bind address.
        port: HTTP port.
        report_dir: Where ``interest_report`` writes.
        access: The token and Host/Origin allow-lists (required for HTTP: :meth:`HttpAccess.resolve`).
        allow_writes: Over HTTP without ``user_id``, list and run the write tools too.

    Raises:
        InterestToolsError: Nothing is built at the store, or HTTP without ``access`` (checked before serving).
    """
    if transport == "http" and access is None:
        raise ConfigError("serve-mcp --transport http needs a bearer token (HttpAccess); see --token-file")
    users = engine.users()  # loads the store now: a missing build fails here, not on the first call
    if user_id is not None and user_id not in users:
        sys.stderr.write(f"note: user '{user_id}' has no history yet; interest_ingest_events can add it\n")
    if transport == "stdio":
        create_server(engine, user_id=user_id, report_dir=report_dir).run("stdio", show_banner=False)
        return
    assert access is not None  # checked above, before loading the store
    server = create_http_server(engine, access, user_id=user_id, report_dir=report_dir, allow_writes=allow_writes)
    writes = "on" if user_id is not None or allow_writes else "off (pass --allow-writes to add them)"
    where = f"[{host}]" if ":" in host else host
    sys.stderr.write(
        f"serving MCP at http://{where}:{port}/mcp: bearer token required, Host/Origin checked, write tools {writes}\n"
    )
    anyio.run(run_http_async, server, access, host, port)
