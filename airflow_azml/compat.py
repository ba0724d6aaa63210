"""The compat switch: after ``enable()``, ``import azureml.x.y`` gives ``airflow_azml.x.y``.

Step processes get it through ``AZML_COMPAT=1`` (set by the operator when the DAG file
enabled it), so v1 scripts that ``from azureml.core import Run`` run unchanged.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
from types import ModuleType
from typing import Any

__all__ = ["enable", "disable", "is_enabled", "ENV_VAR"]

ENV_VAR = "AZML_COMPAT"
_PREFIX = "azureml"


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, target: str):
        self.target = target

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return importlib.import_module(self.target)

    def exec_module(self, module: ModuleType) -> None:
        """The real module is already executed."""


class _AzuremlFinder(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: Any = None, target: Any = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != _PREFIX and not fullname.startswith(_PREFIX + "."):
            return None
        real = "airflow_azml" + fullname[len(_PREFIX) :]
        if importlib.util.find_spec(real) is None:
            raise ModuleNotFoundError(
                f"No module named {fullname!r}: airflow-azml has no equivalent of {fullname} "
                "(run `azml migrate` on your code to see what to change).",
                name=fullname,
            )
        real_spec = importlib.util.find_spec(real)
        is_pkg = real_spec is not None and real_spec.submodule_search_locations is not None
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(real), is_package=is_pkg)


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
