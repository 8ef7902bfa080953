"""The LangChain toolkit: every interest-tools operation over one :class:`~interest_tools.engine.Engine`.

Who the user is never comes from the model. ``InterestToolkit.for_user(engine, user_id)`` binds the user (the
tools' schemas have no ``user_id``; extra arguments are rejected or ignored, events are ingested for the bound
user only and only the bound user can be forgotten). ``InterestToolkit(engine=engine)`` makes operator tools
that take ``user_id`` as an argument on purpose.

Example:
    >>> toolkit = InterestToolkit.for_user(Engine(Settings(store_path="store")), "42")
    >>> agent = create_agent(chat_model, toolkit.get_tools())  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from langchain_core.tools import BaseTool, BaseToolkit
from pydantic import ConfigDict, Field, field_validator

from interest_tools.adapters._operation_context import ToolContext
from interest_tools.adapters._operations import select
from interest_tools.adapters._tools import InterestTool, make_tool
from interest_tools.engine import Engine


class InterestToolkit(BaseToolkit):
    """Interest tools over one engine (store and models loaded once, shared by all tools, thread-safe).

    Args:
        engine: The engine every tool calls.
        user_id: The bound user (use :meth:`for_user`); ``None`` gives operator tools with a ``user_id`` argument.
        report_dir: Where ``interest_report`` writes files (default ``<store>/reports``).
        include: Only these tool names (default all), e.g. to leave out the write tools.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    engine: Engine = Field(description="The engine every tool calls.")
    user_id: str | None = Field(
        default=None, min_length=1, description="Bound user; None makes operator tools that take user_id."
    )
    report_dir: Path | None = Field(default=None, description="Folder for interest_report (default <store>/reports).")
    include: list[str] | None = Field(default=None, description="Only these tool names (default: all).")

    @field_validator("include")
    @classmethod
    def _known_names(cls, value: list[str] | None) -> list[str] | None:
        select(value)
        return value

    @classmethod
    def for_user(cls, engine: Engine, user_id: str, **kwargs: Any) -> InterestToolkit:
        """Tools that always act for ``user_id`` (their schemas have no ``user_id`` field)."""
        return cls(engine=engine, user_id=user_id, **kwargs)

    @property
    def context(self) -> ToolContext:
        """The binding every tool of this toolkit shares."""
        return ToolContext(self.engine, self.user_id, self.report_dir)

    def get_tools(self) -> list[BaseTool]:
        """The tools, in a fixed order (reads first, then ingest, feedback and forget)."""
        context = self.context
        return [make_tool(context, op) for op in select(self.include)]

    def get_tool(self, name: str) -> InterestTool:
        """One tool by name (e.g. ``interest_recommend``)."""
        (op,) = select([name])
        return make_tool(self.context, op)
