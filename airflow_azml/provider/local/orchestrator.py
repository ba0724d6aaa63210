"""The orchestrator port's local adapter: the embedded Airflow on this machine.

It wraps the embedded runner's entry points (``airflow_azml.provider.local.embedded``): a submitted plan
goes to the loader DAG file and runs with ``dag.test()`` in a child process; a run this process
did not start is read from the runner's status file and the run records. What only a running
Airflow has (published pipelines, schedules' runs) says how to configure one. Connections are
written into the local Airflow's DB by a short subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from airflow_azml.exceptions import DatastoreError, UserErrorException, WorkspaceConfigError
from airflow_azml.pipeline.core.backends import LocalBackend
from airflow_azml.pipeline.core.run_lookup import RecordedRunBackend
from airflow_azml.provider.local.embedded import (
    airflow_home,
    embedded_env,
    ensure_db,
    start_local_run,
    write_submitted_plan,
)

__all__ = ["LocalOrchestrator"]

NO_RUNNING_AIRFLOW = (
    "No running Airflow is configured: add an 'airflow' section with base_url, username and "
    "password (or password_env) to the workspace file, or set AZML_AIRFLOW_URL, "
    "AZML_AIRFLOW_USERNAME and AZML_AIRFLOW_PASSWORD."
)


class LocalOrchestrator:
    """``airflow_azml.core._orchestrator.Orchestrator`` on the embedded Airflow."""

    kind = "local"

    def __init__(self, workspace: Any):
        self.workspace = workspace

    def submit(self, plan: dict[str, Any], conf: dict[str, Any]) -> LocalBackend:
        from airflow_azml.provider.local.runner import default_parallelism

        # resolved (and checked) here: a bad setting raises in the caller, not in the runner's log
        parallelism = default_parallelism(plan["workspace"])
        loader = write_submitted_plan(plan)
        return LocalBackend(start_local_run(loader, plan["dag_id"], conf, parallelism=parallelism), plan)

    def trigger(self, dag_id: str, conf: dict[str, Any], run_id: str | None = None) -> Any:
        raise WorkspaceConfigError(
            f"Running the deployed DAG {dag_id!r} needs a running Airflow. {NO_RUNNING_AIRFLOW}"
        )

    def attach(self, run_id: str, dag_id: str | None) -> tuple[RecordedRunBackend, dict[str, Any]]:
        """A run of the embedded Airflow: its states from the runner's status file when it has one and
        from the run records otherwise; its steps from the plan last submitted under ``dag_id``."""
        from airflow_azml.execution.records import RunRecords

        if not dag_id:
            raise UserErrorException(
                f"Run {run_id!r}: name its experiment (experiment_name=, the run's DAG id) to find a run of the "
                "embedded Airflow."
            )
        ws = self.workspace
        plan = _submitted_plan(dag_id) or {"dag_id": dag_id, "parameters": {}, "steps": {}}
        plan["workspace"] = ws.to_spec()
        records = RunRecords(ws.get_default_datastore().store, dag_id, run_id)
        status_file = _status_file(run_id)
        recorded = records.steps()
        if not recorded and status_file is None:
            raise UserErrorException(
                f"No run {run_id!r} of experiment {dag_id!r} in workspace {ws.name!r}: no step of it has "
                "written a run record, and the embedded Airflow has no status for it. Check the run id and the "
                "experiment name (the run's DAG id)."
            )
        steps = plan["steps"]
        for tid, rec in recorded.items():
            steps.setdefault(tid, {"name": rec.get("name", tid), "task_id": tid, "outputs": [], "inputs": []})
        return RecordedRunBackend(run_id, status_file, records, list(steps)), plan

    def list_runs(self, dag_id: str) -> list[Any]:
        raise WorkspaceConfigError(
            f"Listing the runs of {dag_id!r} needs a running Airflow. {NO_RUNNING_AIRFLOW}"
        )

    def require_deployed(self, dag_id: str, wait_seconds: float = 0) -> dict[str, Any]:
        raise WorkspaceConfigError(
            f"Running the deployed DAG {dag_id!r} needs a running Airflow. {NO_RUNNING_AIRFLOW}"
        )

    def set_paused(self, dag_id: str, paused: bool) -> None:
        """Nothing to do: the embedded Airflow renders published DAGs paused or not from the registry."""

    def put_connection(
        self, conn_id: str, connection: dict[str, Any] | None, container: str | None = None
    ) -> None:
        """Create/replace the connection in the local Airflow's DB (and the container when asked)."""
        from airflow_azml.core.datastore_remote import _redact

        env = _airflow_env()
        payload = json.dumps({"conn_id": conn_id, "connection": connection, "container": container})
        proc = subprocess.run(
            [sys.executable, "-c", _WRITER],
            input=payload,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if proc.returncode != 0:
            tail = _redact(proc.stderr[-2000:], connection)
            raise DatastoreError(
                f"Could not create the Airflow connection {conn_id!r} (AIRFLOW_HOME={env.get('AIRFLOW_HOME')}):\n"
                f"{tail}\nCreate it yourself (airflow connections add, the UI, or an AIRFLOW_CONN_* variable) and "
                "pass conn_id=."
            )

    def authentication_header(self) -> dict[str, str]:
        raise WorkspaceConfigError(NO_RUNNING_AIRFLOW)

    def asset_id(self, uri: str) -> int | None:
        """None: the embedded Airflow's registry watch turns a registered version into its event."""
        return None

    def post_asset_event(self, asset_id: int, extra: dict[str, Any]) -> None:
        raise WorkspaceConfigError(NO_RUNNING_AIRFLOW)


def _status_file(run_id: str) -> Path | None:
    folder = airflow_home() / "azml_runs"
    for path in sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True):
        try:
            if json.loads(path.read_text()).get("run_id") == run_id:
                return path
        except (OSError, ValueError):
            continue
    return None


def _submitted_plan(dag_id: str) -> dict[str, Any] | None:
    path = airflow_home() / "dags" / "azml_submitted" / f"{dag_id}.json"
    return json.loads(path.read_text()) if path.exists() else None


# The secrets travel on the writer's stdin, never in argv (visible to ``ps``) or the environment.
_WRITER = r"""
import json, sys
payload = json.loads(sys.stdin.read())
from airflow.models import Connection
from airflow.utils.session import create_session
if payload["connection"] is not None:
    c = payload["connection"]
    with create_session() as session:
        old = session.query(Connection).filter(Connection.conn_id == payload["conn_id"]).one_or_none()
        if old is not None:
            session.delete(old)
            session.flush()
        session.add(Connection(conn_id=payload["conn_id"], conn_type=c["conn_type"], host=c.get("host"),
                               login=c.get("login"), password=c.get("password"), schema=c.get("schema"),
                               port=c.get("port"), extra=json.dumps(c.get("extra") or {})))
if payload["container"]:
    import os
    if payload["connection"] is not None:  # the Task SDK reads connections from env/secrets, not the DB
        os.environ["AIRFLOW_CONN_" + payload["conn_id"].upper()] = json.dumps(payload["connection"])
    from airflow.sdk import ObjectStoragePath
    fs = ObjectStoragePath(f"abfs://{payload['conn_id']}@{payload['container']}/").fs
    if not fs.exists(payload["container"]):
        fs.mkdir(payload["container"])
"""


def _airflow_env() -> dict[str, str]:
    """The deployment's Airflow when this process is configured for one, else the embedded Airflow.

    A deployment: ``AIRFLOW__DATABASE__SQL_ALCHEMY_CONN`` is set, or ``AIRFLOW_HOME`` holds an
    ``airflow.cfg``. A bare ``AIRFLOW_HOME`` (a notebook runner's, say) is not one: the pipelines
    of ``Experiment.submit`` run on the embedded Airflow, so its DB is where the connection belongs.
    """
    home = os.environ.get("AIRFLOW_HOME")
    if os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN") or (
        home and os.path.isfile(os.path.join(home, "airflow.cfg"))
    ):
        return dict(os.environ)
    env = embedded_env(airflow_home() / "dags")
    ensure_db(env)
    return env
