"""Compute-target routing checks against the Airflow deployment's executors.

A compute target may send its steps to a named executor (Airflow 3 multi-executor). A task
whose ``executor=`` the deployment does not configure makes Airflow refuse the whole DAG
file with ``UnknownExecutorException``; this module catches that when the DAG is rendered and
says which step, which target and which executors exist instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from airflow_azml.exceptions import ComputeTargetException

__all__ = [
    "ConfiguredExecutor",
    "configured_executors",
    "executor_matches",
    "check_executors",
    "spreads_over_workers",
]


@dataclass(frozen=True)
class ConfiguredExecutor:
    """One entry of ``[core] executor``: what a task may call it (alias, class name or module path)."""

    entry: str
    module_path: str
    alias: str | None = None
    team: str | None = None

    @property
    def names(self) -> set[str]:
        names = {self.module_path, self.module_path.rsplit(".", 1)[-1]}
        return names | ({self.alias} if self.alias else set())

    def label(self) -> str:
        return self.entry if self.team is None else f"{self.entry} (team {self.team})"


def _core_module(name: str) -> str | None:
    try:
        from airflow.executors.executor_loader import ExecutorLoader

        return ExecutorLoader.executors.get(name)
    except ImportError:  # pragma: no cover - Airflow is always there on this side
        return None


def _entry(text: str, team: str | None) -> ConfiguredExecutor:
    alias, _, target = text.rpartition(":")
    target = target.strip()
    core = _core_module(target)
    if core:
        return ConfiguredExecutor(text, core, alias.strip() or target, team)
    return ConfiguredExecutor(text, target, alias.strip() or None, team)


def configured_executors(raw: str | None = None) -> list[ConfiguredExecutor]:
    """``[core] executor`` parsed like Airflow does: ``A,B`` global, ``;team=C,D`` per team."""
    if raw is None:
        from airflow.configuration import conf

        raw = conf.get("core", "executor", fallback="LocalExecutor") or "LocalExecutor"
    out: list[ConfiguredExecutor] = []
    for part in raw.split(";"):
        team, sep, names = part.partition("=")
        if not sep:
            team, names = "", part
        for name in names.split(","):
            if name.strip():
                out.append(_entry(name.strip(), team.strip() or None))
    return out


def executor_matches(name: str, executors: list[ConfiguredExecutor]) -> bool:
    return any(name in e.names for e in executors)


def check_executors(plan: dict[str, Any], raw: str | None = None) -> None:
    """Raise ComputeTargetException naming every step whose target routes to an unconfigured executor."""
    wanted = {
        tid: step["routing"]["executor"]
        for tid, step in plan["steps"].items()
        if step.get("routing", {}).get("executor")
    }
    if not wanted:
        return
    executors = configured_executors(raw)
    problems = sorted(
        f"step {plan['steps'][tid]['name']!r} (compute target {plan['steps'][tid].get('compute_target')!r}) "
        f"asks for executor {name!r}"
        for tid, name in wanted.items()
        if not executor_matches(name, executors)
    )
    if not problems:
        return
    known = ", ".join(e.label() for e in executors) or "(none)"
    first = next(n for n in wanted.values() if not executor_matches(n, executors))
    raise ComputeTargetException(
        f"Pipeline {plan['dag_id']!r}: {'; '.join(problems)}, but this Airflow deployment does not configure it. "
        f"Configured executors ([core] executor): {known}. Fix: add it to [core] executor (for example "
        f"AIRFLOW__CORE__EXECUTOR='{executors[0].entry if executors else 'LocalExecutor'},{first}'), or change "
        "the target's 'executor' under 'compute_targets' in the workspace file (omit it to use the default executor)."
    )


def spreads_over_workers(name: str | None) -> bool:
    """Whether the step's executor hands task instances to workers on other hosts by queue
    (Celery, Kubernetes, Edge); LocalExecutor and ``dag.test()`` (the local runner) run them on
    this machine, where one task with every node's processes is faster."""
    executors = configured_executors()
    if name:
        executors = [e for e in executors if name in e.names] or executors
    else:
        executors = executors[:1]  # the default executor
    return any(k in e.module_path for e in executors for k in ("Celery", "Kubernetes", "Edge"))
