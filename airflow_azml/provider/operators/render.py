"""Renderer: Plan -> Airflow DAG (Params, one task per step, edges, routing, docs)."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, Param

from airflow_azml.compiler import load_plan
from airflow_azml.provider.operators.lineage import lineage_enabled, plan_assets
from airflow_azml.provider.operators.step import (
    AzmlStepOperator,
    EstimatorStepOperator,
    PythonScriptStepOperator,
)

__all__ = ["render_dag", "load_submitted_dags", "OPERATORS", "describe_plan"]

#: Operator classes by the path a plan names them with. Any other (HyperDrive, ParallelRun, SQL...)
#: is imported the first time a plan names it: a DAG file without such a step does not load its
#: module in every parse (HyperDrive's, with routing's dataclass, was 2 ms of a 200-step parse).
OPERATORS: dict[str, type[AzmlStepOperator]] = {
    "airflow_azml.provider.operators.step.AzmlStepOperator": AzmlStepOperator,
    "airflow_azml.provider.operators.step.PythonScriptStepOperator": PythonScriptStepOperator,
    "airflow_azml.provider.operators.step.EstimatorStepOperator": EstimatorStepOperator,
}


def _operator(path: str) -> type[AzmlStepOperator]:
    """The operator class named in the plan (imported once per process)."""
    if path not in OPERATORS:
        import importlib

        module, _, name = path.rpartition(".")
        OPERATORS[path] = getattr(importlib.import_module(module), name)
    return OPERATORS[path]


_SCHEMA = {"int": "integer", "float": "number", "bool": "boolean", "string": "string"}


def _param(name: str, spec: dict[str, Any]) -> Param:
    ptype, default, desc = spec["type"], spec["default"], spec.get("description")
    if ptype in _SCHEMA:
        return Param(default, type=_SCHEMA[ptype], description=desc or f"Pipeline parameter ({ptype}).")
    if ptype == "datapath":
        return Param(
            default,
            type="object",
            description=desc or "DataPath: a datastore and a path on it.",
            properties={"datastore": {"type": "string"}, "path_on_datastore": {"type": "string"}},
            required=["datastore", "path_on_datastore"],
        )
    named = isinstance(default, dict) and "name" in default
    return Param(
        default,
        type="object",
        description=desc or "Dataset: a registered name and version.",
        properties={"name": {"type": "string"}, "version": {"type": ["string", "integer"]}},
        **({"required": ["name"]} if named else {}),
    )


def _routing(step: dict[str, Any]) -> dict[str, Any]:
    routing = dict(step.get("routing", {}))
    for key in ("execution_timeout", "retry_delay"):
        if key in routing:
            routing[key] = timedelta(seconds=float(routing[key]))
    if step.get("timeout_seconds"):
        routing["execution_timeout"] = timedelta(seconds=float(step["timeout_seconds"]))
    return routing


def describe_plan(plan: dict[str, Any]) -> str:
    """doc_md: the pipeline's steps, the data each reads and writes (with its datastore), parameters."""
    lines = [
        f"# {plan['dag_id']}",
        "",
        plan.get("description") or "An Azure ML–style pipeline (airflow-azml).",
        "",
        "Each run's **Pipeline (azml)** tab shows the step graph, the data, the metrics and charts.",
        "",
        "| step | type | compute | runs | reads | writes | after |",
        "|---|---|---|---|---|---|---|",
    ]
    for step in plan["steps"].values():
        reads = ", ".join(f"`{i['name']}` ← {_source(i)}" for i in step["inputs"])
        writes = ", ".join(f"`{o['name']}` → {o.get('datastore') or 'default'}" for o in step["outputs"])
        fed = {i["step"] for i in step["inputs"] if i["source"] == "step_output"}
        after = ", ".join(u for u in step["upstream"] if u not in fed)
        runs = step.get("script_name") or " ".join(map(str, step.get("command") or [])) or "-"
        lines.append(
            f"| {step['name']} | {step['kind']} | {step.get('compute_target') or 'local'} | `{runs}` | "
            f"{reads or '-'} | {writes or '-'} | {after or '-'} |"
        )
    if plan["parameters"]:
        lines += ["", "| parameter | type | default | description |", "|---|---|---|---|"]
        lines += [
            f"| `{n}` | {p['type']} | `{json.dumps(p['default'])}` | {p.get('description') or ''} |"
            for n, p in plan["parameters"].items()
        ]
    return "\n".join(lines)


def _source(spec: dict[str, Any]) -> str:
    """Where an input comes from, for doc_md."""
    if spec["source"] == "step_output":
        return f"{spec['step']}.{spec['output']}"
    if spec["source"] == "datastore":
        return f"{spec['datastore']}/{spec['path']}"
    if spec["source"] == "dataset":
        return f"dataset {spec['dataset'].get('name') or '(unregistered)'}"
    return f"parameter `{spec.get('param')}`"


def _compat_enabled() -> bool:
    """The compat switch is on only if its module was imported (and enable() called)."""
    compat = sys.modules.get("airflow_azml.compat")
    return compat is not None and compat.is_enabled()


def render_dag(plan: dict[str, Any], schedule: Any = None, **dag_kwargs: Any) -> DAG:
    """The Airflow DAG for ``plan``. Cheap: no I/O, one small operator per step."""
    if hasattr(schedule, "next_fire_time") or hasattr(schedule, "recurrence"):  # a v1 recurrence or Schedule
        from airflow_azml.provider.timetables import dag_arguments  # deferred: it loads the standard provider

        extra = dag_arguments(schedule)
        schedule = extra.pop("schedule")
        dag_kwargs = {**extra, **dag_kwargs}
    elif schedule is not None and not isinstance(schedule, str):  # registered datasets/models: their Assets
        from airflow_azml.provider.triggers import schedule_assets

        schedule = schedule_assets(schedule, plan["workspace"])
    dag_kwargs.setdefault("doc_md", describe_plan(plan))
    dag_kwargs.setdefault("description", (plan.get("description") or "")[:200] or None)
    dag_kwargs.setdefault("catchup", False)
    dag_kwargs.setdefault("start_date", datetime(2024, 1, 1) if schedule is not None else None)
    dag_kwargs.setdefault("tags", ["azml"])
    dag_kwargs.setdefault("max_active_tasks", 16)
    if any("executor" in step.get("routing", {}) for step in plan["steps"].values()):
        from airflow_azml.provider.operators.routing import (
            check_executors,  # only when a target names an executor
        )

        check_executors(plan)  # a clear error instead of Airflow's UnknownExecutorException
    params = {n: _param(n, s) for n, s in plan["parameters"].items()}
    dag = DAG(dag_id=plan["dag_id"], schedule=schedule, params=params, **dag_kwargs)
    shared = {
        "workspace": plan["workspace"],
        "parameters": plan["parameters"],
        "compat": plan.get("compat") or _compat_enabled(),
    }
    tasks: dict[str, AzmlStepOperator] = {}
    shared["lineage"], assets = plan_assets(plan) if lineage_enabled() else ({}, {})
    for task_id, step in plan["steps"].items():
        op = _operator(step["operator"])
        data: dict[str, Any] = {}
        if task_id in assets:  # the data it reads and writes, as Assets (known without I/O)
            data = {"inlets": assets[task_id][0], "outlets": assets[task_id][1]}
        tasks[task_id] = op.for_step(
            task_id=task_id, step=step, pipeline=shared, dag=dag, **data, **_routing(step)
        )
    for task_id, step in plan["steps"].items():
        _set_upstream(tasks[task_id], [tasks[up] for up in step["upstream"]])
    for task_id, step in plan["steps"].items():  # a multi-node ParallelRunStep's node tasks
        if hasattr(tasks[task_id], "add_node_tasks"):
            tasks[task_id].add_node_tasks([tasks[up] for up in step["upstream"]], **_routing(step))
    return dag


def _set_upstream(task: AzmlStepOperator, upstream: list[AzmlStepOperator]) -> None:
    """``up >> task`` for each of ``upstream``, recorded as Airflow's ``_set_relatives`` records an edge
    between two operators of one DAG: each one's task id in the other's set. What ``>>`` checks first
    holds for every task here (operators, not task groups, all built with ``dag=``; no edge label), and
    its check that both tasks are of one DAG puts each task's DAG in a set, hashing the whole DAG twice
    per edge: ~10% of a 200-step DAG file's parse. tests/operators/test_render_parse.py checks that the
    serialized DAG is the one ``>>`` gives."""
    for up in upstream:
        up.downstream_task_ids.add(task.task_id)
        task.upstream_task_ids.add(up.task_id)


def load_submitted_dags(loader_file: str) -> dict[str, DAG]:
    """DAGs for every plan stored beside the loader (``Experiment.submit`` writes them)."""
    folder = Path(loader_file).parent / "azml_submitted"
    dags = {}
    for path in sorted(folder.glob("*.json")):
        plan = load_plan(path.read_text())
        dags[f"dag_{plan['dag_id']}"] = render_dag(plan)
    return dags
