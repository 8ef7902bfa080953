"""LangChain tools generated from the operations table (``OPERATIONS``; the toolkit is in ``_toolkit``).

Every tool returns ``(short text, typed JSON)`` (``response_format="content_and_artifact"``): the model reads the
text, the program gets the same JSON as the CLI's ``--json`` as the ``ToolMessage.artifact``. Caller-fixable
problems (unknown user, bad date, unknown category, ``k`` out of range, ...) come back as error tool messages
that name the valid values; internal errors are raised.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Literal

from langchain_core.callbacks import CallbackManagerForToolRun
from langchain_core.tools import BaseTool, ToolException
from pydantic import ConfigDict, Field, ValidationError

from interest_tools.adapters._operation_context import Operation, ToolContext
from interest_tools.errors import InterestToolsError


class InterestTool(BaseTool):
    """One interest-tools operation bound to an engine (and, for per-user tools, one user)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    context: ToolContext = Field(exclude=True, description="Engine, bound user and report folder.")
    operation: Operation = Field(exclude=True, description="The operation this tool runs.")
    response_format: Literal["content", "content_and_artifact"] = "content_and_artifact"
    handle_tool_error: Any = True

    def _run(self, run_manager: CallbackManagerForToolRun | None = None, **kwargs: Any) -> tuple[str, Any]:
        """Run the operation; caller-fixable errors become :class:`ToolException` (an error tool message)."""
        schema = self.context.args_model(self.operation)
        args = schema.model_validate(kwargs)
        try:
            return self.context.execute(self.operation, args)
        except InterestToolsError as exc:
            raise ToolException(str(exc)) from exc


def _validation_message(context: ToolContext, operation: Operation, exc: ValidationError | Any) -> str:
    if isinstance(exc, ValidationError):
        return context.describe_error(operation, exc)
    return f"Invalid arguments for {operation.name}: {exc}"  # pydantic v1 errors: not produced by our schemas


def make_tool(context: ToolContext, operation: Operation) -> InterestTool:
    """Build the LangChain tool for one operation."""
    return InterestTool(
        name=operation.name,
        description=operation.description,
        args_schema=context.args_model(operation),
        context=context,
        operation=operation,
        handle_validation_error=partial(_validation_message, context, operation),
    )
