"""The one exception hierarchy of interest-tools.

Every message says what was wrong, where (file, row, column, user) and how to fix it.
"""

from __future__ import annotations


class InterestToolsError(Exception):
    """Base class for every error this package raises on purpose."""


class DataValidationError(InterestToolsError, ValueError):
    """An input file or frame is malformed; nothing was loaded.

    Attributes:
        source: File path or ``"<DataFrame>"``.
        row: 1-based data row (header excluded) of the first offending row, when known.
        column: Offending column, when known.
    """

    def __init__(
        self,
        problem: str,
        *,
        source: str = "<DataFrame>",
        row: int | None = None,
        column: str | None = None,
        fix: str = "",
    ) -> None:
        self.source, self.row, self.column, self.problem, self.fix = source, row, column, problem, fix
        where = source
        if row is not None:
            where += f", row {row}"
        if column is not None:
            where += f", column '{column}'"
        message = f"{where}: {problem}"
        if fix:
            message += f". Fix: {fix}"
        super().__init__(message)


class UnknownUserError(InterestToolsError, KeyError):
    """The user has no events or windows.

    The message never names other users: it reaches MCP and LangChain callers, who may not see them (issue 12).
    """

    def __init__(self, user_id: str) -> None:
        self.user_id = user_id
        super().__init__(
            f"Unknown user '{user_id}': no events or windows for this user. Check the id; on the machine that "
            "holds the store, `interest-tools users --store PATH` lists the stored users."
        )

    def __str__(self) -> str:  # KeyError quotes its message otherwise
        return str(self.args[0])


class ConfigError(InterestToolsError, ValueError):
    """A configuration value is invalid or inconsistent."""


class StoreError(InterestToolsError):
    """The vector store is missing, locked, corrupt or built with another model."""


class ChromaFailedError(StoreError):
    """Chroma failed inside a call (an internal error or a panic): damaged files, or a view gone stale."""


class StoreChangedError(StoreError):
    """Another process wrote to the store while it was being read; reloading and retrying answers."""


class CheckpointError(InterestToolsError):
    """A model checkpoint is missing, unsafe or does not match the store."""


class NotBuiltError(InterestToolsError):
    """A stage's input has not been built yet (run ``interest-tools build`` first)."""


class DateRangeError(InterestToolsError, ValueError):
    """A date cannot be read, or lies outside the user's history."""
