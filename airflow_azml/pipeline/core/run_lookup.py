"""``PipelineRun(experiment, run_id)``: find a run started elsewhere (another process, the REST
API, ``azml run``, a schedule) and what is needed to follow it.

On a workspace that names a running Airflow (``airflow.base_url`` or ``AZML_AIRFLOW_URL``) the
run is read over REST, like ``PipelineRun.get``: a run of the experiment's DAG, else the DAG that
has a run with that id (a published pipeline submitted under that experiment name). Otherwise it is a run of the embedded Airflow
on this machine: its states come from the local runner's status file when it has one, and
from the run records on the default datastore (which every step writes) when it has not; its
steps from the plan last submitted under that experiment, completed by the records.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from airflow_azml.exceptions import UserErrorException
from airflow_azml.pipeline.core.status import FINISHED, TERMINAL

__all__ = ["attach_run", "RecordedRunBackend"]


class RecordedRunBackend:
    """The RunBackend of an embedded run this process did not start (status file, then records)."""

    def __init__(self, run_id: str, status_file: Path | None, records: Any, step_ids: list[str]):
        self._run_id = run_id
        self.status_file = status_file
        self.records = records
        self.step_ids = step_ids

    def _status(self) -> dict[str, Any]:
        if self.status_file is None or not self.status_file.exists():
            return {}
        try:
            return json.loads(self.status_file.read_text())
        except ValueError:  # being replaced right now
            return {}

    def run_id(self) -> str:
        return self._run_id

    def state(self) -> str | None:
        state = self._status().get("state")
        if state and state != "running":
            return str(state)
        statuses = [(r or {}).get("status") for r in map(self.records.read_step, self.step_ids)]
        if not statuses or not all(s in TERMINAL for s in statuses):
            return "running"
        return "success" if all(s == FINISHED for s in statuses) else "failed"

    def task_states(self) -> dict[str, str | None]:
        tasks = self._status().get("tasks") or {}
        return {tid: t.get("state") for tid, t in tasks.items()}

    def cancel(self) -> None:
        raise UserErrorException(
            f"Run {self._run_id!r} was started by another process; cancel it where it runs (stop that "
            "process, or mark the DAG run failed in Airflow)."
        )

    def error(self) -> str | None:
        return self._status().get("error")


def _status_file(run_id: str) -> Path | None:
    from airflow_azml.local.embedded import airflow_home

    folder = airflow_home() / "azml_runs"
    for path in sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True):
        try:
            if json.loads(path.read_text()).get("run_id") == run_id:
                return path
        except (OSError, ValueError):
            continue
    return None


def _submitted_plan(dag_id: str) -> dict[str, Any] | None:
    from airflow_azml.local.embedded import airflow_home

    path = airflow_home() / "dags" / "azml_submitted" / f"{dag_id}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _local(experiment: Any, run_id: str) -> tuple[RecordedRunBackend, dict[str, Any]]:
    from airflow_azml.execution.records import RunRecords

    ws = experiment.workspace
    plan = _submitted_plan(experiment.name) or {"dag_id": experiment.name, "parameters": {}, "steps": {}}
    plan["workspace"] = ws.to_spec()
    records = RunRecords(ws.get_default_datastore().store, experiment.name, run_id)
    status_file = _status_file(run_id)
    recorded = records.steps()
    if not recorded and status_file is None:
        raise UserErrorException(
            f"No run {run_id!r} of experiment {experiment.name!r} in workspace {ws.name!r}: no step of it has "
            "written a run record, and the embedded Airflow has no status for it. Check the run id and the "
            "experiment name (the run's DAG id)."
        )
    steps = plan["steps"]
    for tid, rec in recorded.items():
        steps.setdefault(tid, {"name": rec.get("name", tid), "task_id": tid, "outputs": [], "inputs": []})
    return RecordedRunBackend(run_id, status_file, records, list(steps)), plan


def attach_run(experiment: Any, run_id: str) -> tuple[Any, dict[str, Any]]:
    """(backend, plan) of the run ``run_id`` of ``experiment``, wherever it runs."""
    from airflow_azml.pipeline.core.backends import uses_remote_airflow

    if uses_remote_airflow(experiment.workspace):
        from airflow_azml.client.remote import get_remote_run

        try:
            run = get_remote_run(experiment.workspace, run_id, experiment.name)
        except UserErrorException:
            # a published pipeline's run belongs to the pipeline's DAG, its experiment name is in its run id
            run = get_remote_run(experiment.workspace, run_id, None)
        return run._backend, run._plan
    return _local(experiment, run_id)
