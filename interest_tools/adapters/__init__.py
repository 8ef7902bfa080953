"""Thin adapters over the :class:`~interest_tools.engine.Engine`: one operations table, three front ends.

- :data:`OPERATIONS`: every agent-facing operation (name, argument schema, description, call) in one table;
- :class:`InterestToolkit` / :class:`InterestTool`: the operations as LangChain tools (``interest_<verb>``);
- :func:`create_server` / :func:`serve`: the same operations as an MCP server (stdio or streamable HTTP);
- :mod:`interest_tools.adapters.cli`: the ``interest-tools`` command line.

Names load lazily, so importing the CLI does not import LangChain's tool machinery or FastMCP until needed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from interest_tools.adapters._mcp import create_server, serve
    from interest_tools.adapters._operation_args import ToolArgumentError
    from interest_tools.adapters._operation_context import Operation, ToolContext
    from interest_tools.adapters._operations import OPERATIONS, OPERATIONS_BY_NAME
    from interest_tools.adapters._toolkit import InterestToolkit
    from interest_tools.adapters._tools import InterestTool, make_tool

_HOMES = {
    "OPERATIONS": "_operations",
    "OPERATIONS_BY_NAME": "_operations",
    "Operation": "_operation_context",
    "ToolContext": "_operation_context",
    "ToolArgumentError": "_operation_args",
    "InterestTool": "_tools",
    "make_tool": "_tools",
    "InterestToolkit": "_toolkit",
    "create_server": "_mcp",
    "serve": "_mcp",
}

__all__ = [
    "OPERATIONS",
    "OPERATIONS_BY_NAME",
    "InterestTool",
    "InterestToolkit",
    "Operation",
    "ToolArgumentError",
    "ToolContext",
    "create_server",
    "make_tool",
    "serve",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value
