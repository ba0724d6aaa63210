"""Lazy package exports: a DAG file pays only for the names it uses (parse time is per task)."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

__all__ = ["lazy_exports", "optional_module", "loaded"]


def lazy_exports(package: str, table: dict[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package`` exporting ``name -> module`` lazily."""
    namespace = importlib.import_module(package).__dict__

    def __getattr__(name: str) -> Any:
        if name in table:
            value = getattr(importlib.import_module(table[name]), name)
            namespace[name] = value
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(table)

    return __getattr__, __dir__


def optional_module(name: str) -> ModuleType | None:
    """The module ``name``, or None when it does not exist (errors raised inside it still propagate)."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        return None


def loaded(module: str, *names: str) -> tuple[type, ...]:
    """The classes ``names`` of ``module`` if it has been imported, else ``()``.

    For isinstance checks on the DAG-parse path: no instance of a class can exist before its
    module is imported, so a DAG file that never uses, say, datasets never imports their module.
    """
    found = sys.modules.get(module)
    return tuple(getattr(found, name) for name in names) if found is not None else ()
