"""The compat switch: after ``enable()``, v1's public modules (``azureml.core``,
``azureml.core.run``, ``azureml.pipeline.core.graph``, ...) import, and their names are ours.

The modules served are exactly the v1 modules of the API map (:mod:`airflow_azml.v1map`), so a
real v1 path works even where our layout differs (``from azureml.core.run import Run``), and our
internal modules never appear as ``azureml.*``. Each served module is a stand-in whose names
resolve on first use to the airflow_azml object the map names; a v1 name or module we do not
have raises an ImportError saying why and what to use instead.

Step processes get it through ``AZML_COMPAT=1`` (set by the operator when the DAG file enabled
it), so v1 scripts that ``from azureml.core import Run`` run unchanged.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import os
import sys
from functools import cache
from types import ModuleType
from typing import Any

from airflow_azml import v1map

__all__ = ["ENV_VAR", "disable", "enable", "is_enabled", "served_modules"]

ENV_VAR = "AZML_COMPAT"
_PREFIX = "azureml"
_MIGRATE = "run `azml migrate` on your code to see what to change"


@cache
def served_modules() -> dict[str, bool]:
    """Every ``azureml.*`` module the switch serves, and whether it is a package."""
    modules = v1map.load().modules
    served = {m for m, e in modules.items() if e.get("status") != v1map.UNSUPPORTED}
    parents = {p for m in served for p in _parents(m)}
    return {m: m in parents for m in sorted(served | parents)}


def _parents(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _target(module: str, name: str) -> tuple[str, Any]:
    """``("object", obj)`` for a name we have, ``("missing", message)`` for a v1 name we do not,
    ``("unknown", None)`` for a name v1's module does not have."""
    table = v1map.load()
    if f"{module}.{name}" in table.modules:
        return "object", importlib.import_module(f"{module}.{name}")
    ref = table.modules.get(module, {}).get("names", {}).get(name)
    if ref is None:
        return "unknown", None
    kind = ref.get("kind")
    if kind == "module" and ref.get("ref"):
        return "object", importlib.import_module(ref["ref"])
    entry = table.name_entry(module, name) if kind in ("class", "function") else ref
    if entry is not None and entry.get("status") != v1map.UNSUPPORTED and entry.get("ours"):
        obj = v1map.import_path(entry["ours"])
    else:  # at the same path in our package: the map is behind (its coverage test says so), serve it
        obj = v1map.import_path(f"{v1map.ours_path(module)}.{name}")
        origin = getattr(obj, "__module__", None)  # a class or function must be ours, not one we import
        obj = None if isinstance(origin, str) and not origin.startswith("airflow_azml") else obj
    if obj is None:
        return "missing", v1map.reason(entry or {})
    return "object", obj


def _populate(module: ModuleType) -> None:
    """Give a stand-in module its lazy names, ``__all__`` and ``__dir__``."""
    name = module.__name__
    names = v1map.load().modules.get(name, {}).get("names", {})

    def __getattr__(attr: str) -> Any:
        kind, value = _target(name, attr)
        if kind == "object":
            setattr(module, attr, value)
            return value
        if kind == "missing":
            raise ImportError(f"cannot import name {attr!r} from {name!r}: {value} ({_MIGRATE})", name=name)
        raise AttributeError(f"module {name!r} has no attribute {attr!r}")

    def __dir__() -> list[str]:
        return sorted(n for n in names if _target(name, n)[0] == "object")

    module.__dict__.update(__getattr__=__getattr__, __dir__=__dir__)
    module.__all__ = [n for n in names if not n.startswith("_") and _status(name, n) != v1map.UNSUPPORTED]


def _status(module: str, name: str) -> str | None:
    entry = v1map.load().name_entry(module, name)
    return entry.get("status") if entry else v1map.UNSUPPORTED


class _StandInLoader(importlib.abc.Loader):
    def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:
        """Python's default module object."""

    def exec_module(self, module: ModuleType) -> None:
        _populate(module)


class _AzuremlFinder(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: Any = None, target: Any = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != _PREFIX and not fullname.startswith(_PREFIX + "."):
            return None
        served = served_modules()
        if fullname not in served:
            entry = v1map.load().modules.get(fullname)
            detail = f" ({v1map.reason(entry)})" if entry else ""
            raise ModuleNotFoundError(
                f"No module named {fullname!r}: airflow-azml has no equivalent of {fullname}{detail}; {_MIGRATE}.",
                name=fullname,
            )
        spec = importlib.machinery.ModuleSpec(fullname, _LOADER, is_package=served[fullname])
        if served[fullname]:
            spec.submodule_search_locations = []
        return spec


_LOADER = _StandInLoader()
_FINDER = _AzuremlFinder()


def enable() -> None:
    """Make ``azureml.*`` imports resolve to airflow_azml here and in step processes."""
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)
    os.environ[ENV_VAR] = "1"


def disable() -> None:
    if _FINDER in sys.meta_path:
        sys.meta_path.remove(_FINDER)
    os.environ.pop(ENV_VAR, None)
    for name in [m for m in sys.modules if m == _PREFIX or m.startswith(_PREFIX + ".")]:
        del sys.modules[name]


def is_enabled() -> bool:
    return _FINDER in sys.meta_path
