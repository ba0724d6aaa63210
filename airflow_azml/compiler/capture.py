"""Read the plans a DAG file builds, without Airflow: ``Pipeline.to_dag`` records instead of rendering.

``azml validate/graph/run`` use this to understand a DAG file in well under a second.
"""

from __future__ import annotations

import contextlib
import runpy
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["capturing", "active", "record", "plans_of", "CapturedDag"]

_STACK: list[list[dict[str, Any]]] = []


class CapturedDag:
    """Stands in for the DAG while capturing; carries the plan and the DAG arguments."""

    def __init__(self, plan: dict[str, Any], schedule: Any, dag_kwargs: dict[str, Any]):
        self.plan = plan
        self.dag_id = plan["dag_id"]
        self.schedule = schedule
        self.dag_kwargs = dag_kwargs


def active() -> bool:
    return bool(_STACK)


def record(plan: dict[str, Any], schedule: Any, dag_kwargs: dict[str, Any]) -> CapturedDag:
    _STACK[-1].append({"plan": plan, "schedule": schedule, "dag_kwargs": dag_kwargs})
    return CapturedDag(plan, schedule, dag_kwargs)


@contextlib.contextmanager
def capturing() -> Iterator[list[dict[str, Any]]]:
    found: list[dict[str, Any]] = []
    _STACK.append(found)
    try:
        yield found
    finally:
        _STACK.pop()


def plans_of(dag_file: str | Path) -> list[dict[str, Any]]:
    """Run ``dag_file`` in capture mode; returns what each ``to_dag`` call compiled."""
    path = Path(dag_file).resolve()
    old_path = list(sys.path)
    sys.path.insert(0, str(path.parent))
    try:
        with capturing() as found:
            runpy.run_path(str(path), run_name=f"azml_capture_{path.stem}")
    finally:
        sys.path[:] = old_path
    return found
