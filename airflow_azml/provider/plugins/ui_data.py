"""What the pipeline view shows, as plain data: steps, data edges, metrics, history across runs.

Pure: no Airflow import. The inputs are the DAG's tasks and task instance states (from
Airflow's REST API, or from a plan in tests and tools) and the run records on the
workspace's default datastore (``execution/records.py``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from airflow_azml.execution.records import RUNS_PREFIX, RunRecords, run_slug
from airflow_azml.pipeline.core.status import QUEUED, RUNNING, step_status
from airflow_azml.provider.plugins.ui_parallel import parallel_view
from airflow_azml.provider.plugins.ui_sweep import sweep_view

__all__ = ["pipeline_view", "tasks_from_plan", "run_history", "split_metrics", "display_status"]

_MAX_LISTED_FILES = 2000
#: datastore name -> its Store (None when unknown or unreachable: sizes are then not shown)
StoreOf = Callable[[str], Any]
#: asset URI -> the URL of its page in Airflow's UI (None when Airflow does not know it)
AssetLink = Callable[[str], "str | None"]


def display_status(state: str | None, record: dict[str, Any] | None) -> str:
    """The step's status: Airflow's state when known, else the record's, with reuse as its own status
    (the same function as ``StepRun.get_status``: ``pipeline/core/status.py``)."""
    return step_status(state, record)


def tasks_from_plan(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """The task list Airflow's ``/tasks`` endpoint would give for ``plan``'s DAG."""
    downstream: dict[str, list[str]] = {t: [] for t in plan["steps"]}
    for task_id, step in plan["steps"].items():
        for up in step["upstream"]:
            downstream[up].append(task_id)
    return [
        {
            "task_id": t,
            "downstream_task_ids": sorted(downstream[t]),
            "operator_name": s["operator"].rsplit(".", 1)[-1],
        }
        for t, s in plan["steps"].items()
    ]


def _size(store: Any, rel: str) -> int | None:
    """Bytes under ``rel`` on ``store`` (None when it cannot be measured, e.g. not there)."""
    try:
        if not store.exists(rel):
            return None
        sizes = store.sizes(rel)  # one listing on a Blob store
        total = 0
        for f, size in list(sizes.items())[:_MAX_LISTED_FILES]:
            total += size if size is not None else len(store.read_bytes(f))
        return total
    except (OSError, ValueError, NotImplementedError):
        return None


def _ports(
    store_of: StoreOf,
    ports: dict[str, Any],
    assets: dict[str, str] | None = None,
    asset_link: AssetLink | None = None,
) -> list[dict[str, Any]]:
    """Each port with its run's location and size, and its Asset (``assets``: name -> URI, from the
    record) with the link to its page; a port known only as an asset (a SQL table) is listed too."""
    out = []
    for name, rec in (ports or {}).items():
        if not isinstance(rec, dict):
            continue
        path, store = rec.get("path"), store_of(rec.get("datastore") or "")
        out.append(
            {
                "name": name,
                "datastore": rec.get("datastore"),
                "path": path,
                "size": _size(store, path) if path and store is not None else None,
            }
        )
    listed = {p["name"] for p in out}
    out += [
        {"name": n, "datastore": None, "path": None, "size": None} for n in assets or {} if n not in listed
    ]
    for port in out:
        uri = (assets or {}).get(port["name"])
        if uri:
            port["asset_uri"] = uri
            port["asset_url"] = asset_link(uri) if asset_link is not None else None
    return out


def split_metrics(metrics: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """v1-shaped metrics -> scalars (one value), series (a value logged repeatedly, or log_list),
    tables (log_row/log_table columns) and images (log_image)."""
    out: dict[str, dict[str, Any]] = {"scalars": {}, "series": {}, "tables": {}, "images": {}}
    for name, value in (metrics or {}).items():
        if isinstance(value, dict) and value.get("kind") in ("image", "file"):
            if value["kind"] == "image":
                out["images"][name] = value["path"]
        elif isinstance(value, dict):
            out["tables"][name] = value
        elif isinstance(value, list):
            out["series"][name] = value
        else:
            out["scalars"][name] = value
    return out


def _edges(tasks: list[dict[str, Any]], records: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Task edges, labelled with the data names that flowed along them (matched by datastore path)."""
    edges = []
    for task in tasks:
        produced = {
            (o.get("datastore"), o.get("path")): name
            for name, o in (records.get(task["task_id"], {}).get("outputs") or {}).items()
            if isinstance(o, dict)
        }
        for down in task["downstream_task_ids"]:
            consumed = (records.get(down, {}).get("inputs") or {}).values()
            labels = sorted(
                {
                    produced[key]
                    for i in consumed
                    if isinstance(i, dict)
                    if (key := (i.get("datastore"), i.get("path"))) in produced
                }
            )
            edges.append(
                {
                    "src": task["task_id"],
                    "dst": down,
                    "kind": "data" if labels else "order",
                    "label": ", ".join(labels),
                }
            )
    return edges


def _step(
    task: dict[str, Any],
    ti: dict[str, Any],
    record: dict[str, Any] | None,
    store_of: StoreOf,
    asset_link: AssetLink | None = None,
) -> dict[str, Any]:
    rec = record or {}
    assets = rec.get("assets") or {}
    return {
        "task_id": task["task_id"],
        "name": rec.get("name", task["task_id"]),
        "kind": rec.get("kind") or task.get("operator_name", ""),
        "state": ti.get("state"),
        "status": display_status(ti.get("state"), record),
        "reused": bool(rec.get("reused")),
        "reason": rec.get("reuse_reason") or rec.get("run_reason"),
        "reused_from": rec.get("reused_from"),
        "duration": rec.get("duration", ti.get("duration")),
        "try_number": ti.get("try_number", rec.get("try_number")),
        "inputs": _ports(store_of, rec.get("inputs", {}), assets.get("inputs"), asset_link),
        "outputs": _ports(store_of, rec.get("outputs", {}), assets.get("outputs"), asset_link),
        "metrics": split_metrics(rec.get("metrics", {})),
        "error": rec.get("error"),
        "logs": rec.get("logs", {}),
        "compute_target": rec.get("compute_target"),
    }


def pipeline_view(
    store: Any,
    dag_id: str,
    run_id: str,
    tasks: list[dict[str, Any]],
    task_instances: dict[str, dict[str, Any]] | None = None,
    history_limit: int = 30,
    store_of: StoreOf | None = None,
    asset_link: AssetLink | None = None,
) -> dict[str, Any]:
    """Everything the pipeline page shows for one run of ``dag_id``.

    ``store`` holds the run records (the default datastore); ``store_of`` finds the datastore
    an input/output lives on, to measure its size; ``asset_link`` gives the URL of an asset's
    page in Airflow's UI.
    """
    store_of = store_of or (lambda _name: None)
    records = RunRecords(store, dag_id, run_id).steps()
    tis = task_instances or {}
    steps = [
        _step(t, tis.get(t["task_id"], {}), records.get(t["task_id"]), store_of, asset_link) for t in tasks
    ]
    for s in steps:  # a HyperDriveStep's children, best, stopped ones (plugins/ui_sweep.py)
        if s["kind"] == "hyperdrive" or s["kind"].startswith("HyperDrive"):
            s["sweep"] = sweep_view(store, dag_id, run_id, s["task_id"], records.get(s["task_id"]))
        elif s["kind"] == "parallel_run" or s["kind"].startswith("ParallelRun"):  # plugins/ui_parallel.py
            s["parallel"] = parallel_view(store, RunRecords(store, dag_id, run_id).prefix, s["task_id"])
    history = run_history(store, dag_id, history_limit)
    return {
        "dag_id": dag_id,
        "run_id": run_id,
        "slug": run_slug(run_id),
        "steps": steps,
        "edges": _edges(tasks, records),
        "history": history,
        "running": any(s["status"] in (QUEUED, RUNNING) for s in steps),
    }


def run_history(store: Any, dag_id: str, limit: int = 30) -> dict[str, Any]:
    """Scalar metrics of each step across the last ``limit`` runs: ``{"runs": [...], "metrics": {...}}``.

    ``metrics`` maps ``"step.metric"`` to one value (or None) per run, in run start order.
    """
    prefix = f"{RUNS_PREFIX}/{dag_id}"
    runs: dict[str, dict[str, dict[str, Any]]] = {}
    try:
        files = store.list_files(prefix) if store.exists(prefix) else []
    except (OSError, ValueError):
        files = []
    for rel in files:
        parts = rel[len(prefix) + 1 :].split("/")
        if len(parts) == 2 and parts[1].endswith(".json") and not parts[1].startswith("_"):
            try:
                runs.setdefault(parts[0], {})[parts[1][:-5]] = json.loads(store.read_bytes(rel))
            except (OSError, ValueError):
                continue
    order = sorted(runs, key=lambda s: min((r.get("start") or 0) for r in runs[s].values()))[-limit:]
    metrics: dict[str, list[Any]] = {}
    for i, slug in enumerate(order):
        for task_id, rec in sorted(runs[slug].items()):
            for name, value in split_metrics(rec.get("metrics", {}))["scalars"].items():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    metrics.setdefault(f"{task_id}.{name}", [None] * len(order))[i] = value
    starts = [min((r.get("start") or 0) for r in runs[s].values()) for s in order]
    return {"runs": order, "starts": starts, "metrics": metrics}
