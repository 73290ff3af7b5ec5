"""Checks the library fences share: a private name is there, with the shape relied on."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any

from newsmon.compat import CompatError


def methods(distribution: str, cls: type, names: Iterable[str]) -> None:
    """``cls`` (or a base) defines each of ``names`` as a callable."""
    for name in names:
        if not callable(inspect.getattr_static(cls, name, None)):
            raise CompatError(distribution, f"{cls.__module__}.{cls.__qualname__}.{name} "
                              "is gone (newsmon wraps or calls it)")


def attributes(distribution: str, cls: type, names: Iterable[str]) -> None:
    """``cls`` (or a base) has each of ``names`` as a class attribute."""
    missing = object()
    for name in names:
        if inspect.getattr_static(cls, name, missing) is missing:
            raise CompatError(distribution, f"{cls.__module__}.{cls.__qualname__}.{name} "
                              "is gone (newsmon reads it)")


def assigned(distribution: str, func: Callable[..., Any], names: Iterable[str]) -> None:
    """``func`` (an ``__init__`` or ``start``) assigns each of ``names`` on ``self``:
    instance attributes exist only once an object is made, so their assignment is read
    in the source."""
    try:
        source = inspect.getsource(func)
    except (OSError, TypeError) as exc:
        raise CompatError(distribution, f"cannot read {func.__qualname__}: {exc}") from None
    for name in names:
        if f"self.{name} =" not in source and f"self.{name}:" not in source:
            raise CompatError(distribution, f"{func.__module__}.{func.__qualname__} no "
                              f"longer sets self.{name} (newsmon reads or sets it)")


def parameters(distribution: str, func: Callable[..., Any], names: Iterable[str],
               defaults: dict[str, Any] | None = None) -> None:
    """``func`` takes each of ``names`` (and, for ``defaults``, with that default)."""
    params = inspect.signature(func).parameters
    where = f"{func.__module__}.{func.__qualname__}"
    for name in names:
        if name not in params:
            raise CompatError(distribution, f"{where} has no parameter {name!r}")
    for name, default in (defaults or {}).items():
        got = params[name].default if name in params else None
        if got != default:
            raise CompatError(distribution, f"{where}({name}=...) defaults to {got!r}, "
                              f"newsmon expects {default!r}")
