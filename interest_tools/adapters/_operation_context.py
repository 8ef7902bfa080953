"""What binds the agent operations to an engine: :class:`Operation`, :class:`ToolContext` and the engine lock.

:class:`ToolContext` binds the operations of :mod:`interest_tools.adapters._operations` to one
:class:`~interest_tools.engine.Engine` and either one user (per-user tools) or none (operator tools, which take
``user_id`` as an argument on purpose). Every tool over one engine shares one read-write lock
(:func:`engine_lock`), so reads run concurrently and writes run alone.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError, create_model

from interest_tools.adapters._operation_args import ToolArgumentError
from interest_tools.engine import Engine
from interest_tools.errors import StoreChangedError, UnknownUserError

Call = Callable[["ToolContext", str, Any], Any]


@dataclass(frozen=True)
class Operation:
    """One agent operation: what both adapters expose under :attr:`name`."""

    name: str
    description: str
    args: type[BaseModel]
    call: Call
    render: Callable[[Any], str]
    writes: bool = False
    output: Any = dict[str, Any]  # the artifact's type (a model, or list[model]): the MCP output schema

    @property
    def output_schema(self) -> dict[str, Any]:
        """The JSON schema of the artifact for MCP (an object; a list is wrapped as ``{"result": [...]}``)."""
        from interest_tools.adapters._operation_outputs import mcp_output_schema

        return mcp_output_schema(self.output)

    @property
    def operator_args(self) -> type[BaseModel]:
        """The args model plus a required ``user_id`` (operator tools only)."""
        return _with_user(self.args)


@cache
def _with_user(args: type[BaseModel]) -> type[BaseModel]:
    return create_model(  # type: ignore[call-overload,no-any-return]
        f"Operator{args.__name__}",
        __base__=args,
        __doc__=args.__doc__,
        user_id=(str, Field(min_length=1, description="The user the operation is about (operator tools only).")),
    )


# ------------------------------------------------------------------------------------------ locking


class _ReadWriteLock:
    """Many concurrent readers or one writer (writers first)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writing = False
        self._writers_waiting = 0

    @contextmanager
    def read(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not self._writing and not self._writers_waiting)
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                self._cond.notify_all()

    @contextmanager
    def write(self) -> Iterator[None]:
        with self._cond:
            self._writers_waiting += 1
            self._cond.wait_for(lambda: not self._writing and not self._readers)
            self._writers_waiting -= 1
            self._writing = True
        try:
            yield
        finally:
            with self._cond:
                self._writing = False
                self._cond.notify_all()


_LOCKS: weakref.WeakKeyDictionary[Engine, _ReadWriteLock] = weakref.WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()


def engine_lock(engine: Engine) -> _ReadWriteLock:
    """The read-write lock shared by every tool over ``engine`` (LangChain and MCP alike).

    The tools reload the engine after another process wrote, under this lock's write side (see
    :meth:`ToolContext._locked`), so the engine's own reload inside a call is turned off.
    """
    with _LOCKS_GUARD:
        engine.auto_refresh = False
        return _LOCKS.setdefault(engine, _ReadWriteLock())


# ------------------------------------------------------------------------------------------ context


@dataclass
class ToolContext:
    """Operations bound to one engine and, for per-user tools, one user.

    Args:
        engine: The engine every call goes to.
        user_id: The bound user; ``None`` makes operator tools whose args carry ``user_id``.
        report_dir: Where ``interest_report`` writes (default ``<store>/reports``); never chosen by the model.
        source: Recorded with each stated preference: ``tool`` (LangChain) or ``mcp``.
    """

    engine: Engine
    user_id: str | None = None
    report_dir: Path | None = None
    source: str = "tool"

    def args_model(self, op: Operation) -> type[BaseModel]:
        """The args model the adapters expose for ``op``."""
        return op.args if self.user_id is not None else op.operator_args

    def parse(self, op: Operation, raw: Mapping[str, Any]) -> BaseModel:
        """Validate raw arguments (MCP path).

        Raises:
            ToolArgumentError: Invalid arguments, with the valid values.
        """
        try:
            return self.args_model(op).model_validate(dict(raw))
        except ValidationError as exc:
            raise ToolArgumentError(self.describe_error(op, exc)) from exc

    def describe_error(self, op: Operation, exc: ValidationError) -> str:
        """One line per invalid argument, with what is allowed (pydantic's message plus the field's description)."""
        fields = self.args_model(op).model_fields
        lines = []
        for err in exc.errors(include_url=False):
            loc = ".".join(str(p) for p in err["loc"]) or "arguments"
            top = str(err["loc"][0]) if err["loc"] else ""
            if err["type"] == "extra_forbidden" and top == "user_id" and self.user_id is not None:
                lines.append("user_id: not an argument; these tools always act for the person in this conversation")
            elif err["type"] == "extra_forbidden":
                lines.append(f"{loc}: not an argument; valid arguments: {', '.join(fields) or 'none'}")
            elif not err["loc"]:  # a check across fields (model validator): its message says it all
                lines.append(str(err["msg"]).removeprefix("Value error, "))
            else:
                hint = fields[top].description if top in fields and len(err["loc"]) == 1 else None
                lines.append(f"{loc}: {err['msg']}" + (f" ({hint})" if hint else ""))
        return f"Invalid arguments for {op.name}: " + "; ".join(lines)

    def execute(self, op: Operation, args: BaseModel) -> tuple[str, Any]:
        """Run ``op`` for the bound user (or ``args.user_id``) and return (short text, JSON artifact).

        Raises:
            InterestToolsError: Caller-fixable problems (unknown user, bad date, unknown category, ...).
        """
        user = self.user_id if self.user_id is not None else str(getattr(args, "user_id"))  # noqa: B009
        try:
            result = self._locked(op, user, args)
        except UnknownUserError as exc:
            if self.user_id is None:
                raise
            raise ToolArgumentError(
                "Nothing is stored for this person yet (no events or windows). Add what they watched or read "
                "with interest_ingest_events first."
            ) from exc
        return op.render(result), result

    def _locked(self, op: Operation, user: str, args: BaseModel) -> Any:
        """Run ``op`` under the engine's read-write lock, on data no older than the store's last write.

        Each call first compares the store's generation (one ``stat``); when another process wrote, the engine
        reloads under the write side, so no reader's open store is closed under it. A read that finds the store
        changed mid-call (:class:`StoreChangedError`) is retried once after a reload.
        """
        lock = engine_lock(self.engine)
        if op.writes:
            with lock.write():
                self.engine.ensure_fresh()  # check the user against what is stored now
                return op.call(self, user, args)
        changed = False
        while True:
            with lock.read():
                if not self.engine.is_stale():
                    try:
                        return op.call(self, user, args)
                    except StoreChangedError:
                        if changed:
                            raise
                        changed = True
            with lock.write():  # reload with no reader inside, so that no thread's open store is closed under it
                if changed:
                    self.engine.refresh()
                else:
                    self.engine.ensure_fresh()

    def categories(self) -> list[str]:
        """Every catalog category, sorted."""
        return self.engine.catalog.all_categories()
