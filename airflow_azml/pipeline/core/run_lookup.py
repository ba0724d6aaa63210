"""``PipelineRun(experiment, run_id)``: find a run started elsewhere (another process, the REST
API, ``azml run``, a schedule) and what is needed to follow it.

On a workspace that names a running Airflow (``airflow.base_url`` or ``AZML_AIRFLOW_URL``) the
run is read over REST, like ``PipelineRun.get``: a run of the experiment's DAG, else the DAG that
has a run with that id (a published pipeline submitted under that experiment name). Otherwise it is a run of the embedded Airflow
on this machine: its states come from the local runner's status file when it has one, and
from the run records on the default datastore (which every step writes) when it has not; its
steps from the plan last submitted under that experiment, completed by the records. Both are
the orchestrator port's ``attach``; ``RecordedRunBackend`` is the local adapter's RunStates.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from airflow_azml.core._home import uses_remote_airflow
from airflow_azml.core._orchestrator import orchestrator
from airflow_azml.exceptions import UserErrorException
from airflow_azml.pipeline.core.status import FINISHED, TERMINAL

__all__ = ["attach_run", "find_run", "RecordedRunBackend"]


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


def find_run(workspace: Any, run_id: str, dag_id: str | None) -> tuple[Any, dict[str, Any]]:
    """(states, plan) of the run ``run_id`` of the DAG ``dag_id`` (found from the run id when None) on the
    Airflow ``workspace`` runs on. Steps a running Airflow names by task id get their names from the records."""
    states, plan = orchestrator(workspace).attach(run_id, dag_id)
    steps = plan["steps"]
    if any(step.get("name") == tid for tid, step in steps.items()):
        from airflow_azml.execution.records import RunRecords

        records = RunRecords(workspace.get_default_datastore().store, plan["dag_id"], run_id)
        for task_id, record in records.steps().items():
            if task_id in steps:
                steps[task_id]["name"] = record.get("name", task_id)
                if record.get("run_class"):  # e.g. a HyperDriveStep's HyperDriveStepRun
                    steps[task_id].setdefault("run_class", record["run_class"])
    return states, plan


def attach_run(experiment: Any, run_id: str) -> tuple[Any, dict[str, Any]]:
    """(backend, plan) of the run ``run_id`` of ``experiment``, wherever it runs."""
    try:
        return find_run(experiment.workspace, run_id, experiment.name)
    except UserErrorException:
        if not uses_remote_airflow(experiment.workspace):
            raise
        # a published pipeline's run belongs to the pipeline's DAG, its experiment name is in its run id
        return find_run(experiment.workspace, run_id, None)
