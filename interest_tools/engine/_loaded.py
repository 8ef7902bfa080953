"""A lazily loaded attribute computed under its owner's lock.

``functools.cached_property`` has no lock since Python 3.12, and two threads must not load the same dataset or
model twice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar, overload

T = TypeVar("T")


class Loaded(Generic[T]):
    """A lazily loaded attribute: computed once under ``owner.lock``, cached in the instance, dropped by a reset.

    The owner must have a re-entrant ``lock`` (a loader may read other loaded attributes while it holds it).
    """

    def __init__(self, load: Callable[[Any], T]) -> None:
        self.load = load
        self.name = load.__name__
        self.__doc__ = load.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> Loaded[T]: ...

    @overload
    def __get__(self, instance: object, owner: type | None = None) -> T: ...

    def __get__(self, instance: object | None, owner: type | None = None) -> T | Loaded[T]:
        if instance is None:
            return self  # class access
        cache = instance.__dict__
        if self.name not in cache:
            with instance.lock:  # type: ignore[attr-defined]
                if self.name not in cache:
                    cache[self.name] = self.load(instance)
        return cache[self.name]  # type: ignore[no-any-return]

    @staticmethod
    def reset(instance: object) -> None:
        """Drop every loaded attribute of ``instance`` (each loads again on next use)."""
        for klass in type(instance).__mro__:
            for name, value in vars(klass).items():
                if isinstance(value, Loaded):
                    instance.__dict__.pop(name, None)
