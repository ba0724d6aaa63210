"""Old import paths of the Airflow side, which now lives in one subpackage, ``airflow_azml.provider``.

DAG files, ``xcom_backend`` settings, loader files and serialized DAGs written before the move name
``airflow_azml.operators.step``, ``airflow_azml.xcom.backend`` and so on. This finder answers those
names with the very module of the new path (same module object, same classes), so ``isinstance``
checks, monkeypatching and pickles agree whichever path imported it. Nothing in the package imports
through an old path; ``tests/test_layers.py`` checks that with the rest of the import rules.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import sys
from types import CodeType, ModuleType

__all__ = ["MOVED", "install"]

#: Old top-level names under ``airflow_azml`` -> their home under ``airflow_azml.provider``.
MOVED = ("operators", "hooks", "plugins", "local", "xcom", "timetables", "triggers", "deployment")
_OLD = tuple(f"airflow_azml.{name}" for name in MOVED)
_OLD_PARENTS = tuple(old + "." for old in _OLD)


class _MovedFinder:
    """A meta path finder and the loader of what it finds (the import protocols ask for these methods
    only; ``importlib.abc``'s base classes would cost every process that imports the package
    ~15 ms of CPU: they import ``importlib.resources``, ``pathlib``, ``tempfile``...)."""

    def find_spec(
        self, fullname: str, path: object = None, target: object = None
    ) -> importlib.machinery.ModuleSpec | None:
        # asked for every import in the process (this finder is first): no work beyond two lookups
        if fullname in _OLD or fullname.startswith(_OLD_PARENTS):
            return importlib.machinery.ModuleSpec(fullname, self)
        return None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return ModuleType(spec.name)

    def exec_module(self, module: ModuleType) -> None:
        # The import system returns whatever sys.modules holds under the old name once this returns.
        sys.modules[module.__name__] = importlib.import_module(_new_name(module.__name__))

    def get_code(self, fullname: str) -> CodeType | None:
        """The new module's code: ``python -m airflow_azml.local.runner`` (runpy asks the loader for it)
        runs ``airflow_azml.provider.local.runner`` as ``__main__``."""
        import importlib.util

        new = _new_name(fullname)
        spec = importlib.util.find_spec(new)
        if spec is None:
            raise ModuleNotFoundError(f"No module named {new!r}", name=new)
        get_code = getattr(spec.loader, "get_code", None)
        return get_code(new) if get_code is not None else None


def _new_name(old: str) -> str:
    return "airflow_azml.provider." + old[len("airflow_azml.") :]


def install() -> None:
    """Answer the old paths (idempotent)."""
    if not any(isinstance(finder, _MovedFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _MovedFinder())  # before the path finder, which would load a second copy
