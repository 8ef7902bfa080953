"""The :class:`Engine`: what every adapter (CLI, LangChain tools, MCP server) calls to build, ingest and answer."""

from __future__ import annotations

from interest_tools.engine._engine import Engine

__all__ = ["Engine"]
