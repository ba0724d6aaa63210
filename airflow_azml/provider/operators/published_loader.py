"""The deployment's loader DAG file, Airflow side: every published pipeline, schedule and submitted
experiment plan of the publish registry as a DAG.

The registry itself (``pipeline/core/published.py``) stays on the workspace's default datastore;
``pipeline/core/published_loader.py`` writes the loader file (``write_loader``), which imports
``load_published_dags`` from here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from airflow.sdk import get_parsing_context

from airflow_azml.core import registry
from airflow_azml.core.workspace import Workspace
from airflow_azml.pipeline.core.published import SUBMITTED_TAG
from airflow_azml.pipeline.core.schedule import SCHEDULE_ID_PREFIX, schedule_dags, scheduled_pipeline_id
from airflow_azml.provider.operators.render import render_dag

__all__ = ["load_published_dags"]


def load_published_dags(loader_file: str) -> dict[str, Any]:
    """Every published pipeline and schedule of the workspace beside ``loader_file``, as DAGs.

    A task process parses the file for one DAG (Airflow's parsing context names it): then only
    that DAG's registry entries are read, not a listing of the whole registry at every task start.
    """
    folder = Path(loader_file).parent
    ws = Workspace.from_config(path=folder) if (folder / "config.json").is_file() else Workspace.from_config()
    wanted = get_parsing_context().dag_id
    if wanted is not None:
        return _load_one(ws, wanted)
    pipelines = {e["id"]: e for e in registry.entries(ws, "pipelines")}
    dags: dict[str, Any] = {f"dag_{e['id']}": _submitted_dag(e) for e in registry.entries(ws, "submitted")}
    dags.update({f"dag_{pid}": _published_dag(entry) for pid, entry in pipelines.items()})
    dags.update(schedule_dags(ws, pipelines))
    return dags


def _published_dag(entry: dict[str, Any]) -> Any:
    return render_dag(
        entry["plan"],
        is_paused_upon_creation=entry.get("status") != "Active",
        tags=["azml", "azml-published"],
    )


def _submitted_dag(entry: dict[str, Any]) -> Any:
    return render_dag(
        entry["plan"], is_paused_upon_creation=False, tags=["azml", SUBMITTED_TAG, entry["tag"]]
    )


def _load_one(ws: Any, dag_id: str) -> dict[str, Any]:
    """The DAG ``dag_id`` alone (a published version, or a schedule and the pipeline it runs)."""
    if not dag_id.startswith(SCHEDULE_ID_PREFIX):
        entry = registry.read(ws, "pipelines", dag_id)
        if entry is not None:
            return {f"dag_{entry['id']}": _published_dag(entry)}
        entry = registry.read(ws, "submitted", dag_id)
        return {} if entry is None else {f"dag_{entry['id']}": _submitted_dag(entry)}
    schedule = registry.read(ws, "schedules", dag_id[len(SCHEDULE_ID_PREFIX) :])
    if schedule is None:
        return {}
    pid = scheduled_pipeline_id(ws, schedule)
    pipeline = registry.read(ws, "pipelines", pid) if pid else None
    return schedule_dags(ws, {pipeline["id"]: pipeline} if pipeline else {}, [schedule])
