"""The orchestrator port's remote adapter: runs on a running Airflow, driven over its REST API.

The DAG has to exist on the server already: Airflow runs only DAGs its dag-processor parsed
from a DAG file (the workers re-import that file for every task). ``Experiment.submit`` with
a workspace file that names ``airflow.base_url`` therefore triggers the deployed DAG whose id
is the experiment name, passing the parameters as the run's ``conf``. Everything here returns plain
data and RunStates (``RestBackend``); only the model wraps them into PipelineRun / StepRun.
"""

from __future__ import annotations

from typing import Any

from airflow_azml.client.rest import AirflowRestClient
from airflow_azml.exceptions import AirflowApiError, UserErrorException
from airflow_azml.pipeline.core.published import SUBMITTED_TAG, plan_tag, write_submitted_plan

__all__ = ["RestBackend", "RestOrchestrator", "remote_plan", "require_deployed"]

#: how long Experiment.submit waits for a running Airflow's loader to render a newly submitted plan
DEPLOY_WAIT_SECONDS = 180


class RestBackend:
    """The RunBackend of a DAG run on a running Airflow (dagRuns and taskInstances endpoints)."""

    def __init__(self, client: AirflowRestClient, dag_id: str, run_id: str):
        self.client = client
        self.dag_id = dag_id
        self._run_id = run_id

    def run_id(self) -> str:
        return self._run_id

    def state(self) -> str | None:
        return self.client.get_run(self.dag_id, self._run_id).get("state")

    def task_states(self) -> dict[str, str | None]:
        return {
            ti["task_id"]: ti.get("state") for ti in self.client.task_instances(self.dag_id, self._run_id)
        }

    def cancel(self) -> None:
        """Mark the run failed: Airflow stops its running tasks and skips the rest."""
        self.client.set_run_state(self.dag_id, self._run_id, "failed")

    def error(self) -> str | None:
        if self.state() != "failed":
            return None
        return f"Airflow run: {self.client.base_url}/dags/{self.dag_id}/runs/{self._run_id}"


def require_deployed(client: AirflowRestClient, dag_id: str, wait_seconds: float = 0) -> dict[str, Any]:
    """The deployed DAG ``dag_id``, or an error saying to deploy its DAG file."""
    dag = client.wait_dag(dag_id, wait_seconds)
    if dag is None:
        raise UserErrorException(
            f"The DAG {dag_id!r} is not deployed on the Airflow at {client.base_url}. Copy the DAG file that "
            f"builds it (Pipeline(...).to_dag({dag_id!r})) with its workspace file and step folders into that "
            "deployment's dags folder, wait until the dag-processor has parsed it (it shows in the UI), then "
            "submit again."
        )
    return dag


def _tags(dag: dict[str, Any]) -> set[str]:
    return {t["name"] if isinstance(t, dict) else str(t) for t in dag.get("tags") or []}


def _deploy_through_registry(
    client: AirflowRestClient, workspace: Any, plan: dict[str, Any], dag: dict[str, Any] | None
) -> dict[str, Any]:
    """No DAG file builds ``plan['dag_id']`` on that Airflow: put the plan in the publish registry and
    wait (up to DEPLOY_WAIT_SECONDS) for the deployment's loader to render this version of it."""
    tag = plan_tag(plan)
    if dag is None or tag not in _tags(dag):
        write_submitted_plan(workspace, plan)
    dag = client.wait_dag(plan["dag_id"], DEPLOY_WAIT_SECONDS, until=lambda d: tag in _tags(d))
    if dag is None:
        raise UserErrorException(
            f"The Airflow at {client.base_url} did not load the pipeline {plan['dag_id']!r} within "
            f"{DEPLOY_WAIT_SECONDS} s. Its dags folder needs the published-pipelines loader (write_loader) "
            "beside a workspace file whose default datastore is this workspace's, or a DAG file that builds "
            f"Pipeline(...).to_dag({plan['dag_id']!r})."
        )
    return dag


#: tasks that do part of a step beside its own task (HyperDriveStep slots, ParallelRunStep nodes): not steps
PART_OPERATORS = frozenset({"HyperDriveSlotOperator", "ParallelRunNodeOperator", "ParallelNodeCountOperator"})


def remote_plan(client: AirflowRestClient, workspace: Any, dag_id: str) -> dict[str, Any]:
    """A plan good enough to follow a run of a deployed DAG: its tasks (its steps' own tasks), and this
    workspace's datastores."""
    steps = {
        t["task_id"]: {
            "name": t["task_id"],
            "task_id": t["task_id"],
            "inputs": [],
            "outputs": [],
            "upstream": [],
        }
        for t in client.list_tasks(dag_id)
        if t.get("operator_name") not in PART_OPERATORS
    }
    return {"dag_id": dag_id, "workspace": workspace.to_spec(), "parameters": {}, "steps": steps}


def _find_dag_of_run(client: AirflowRestClient, run_id: str) -> str:
    resp = client.request("GET", "/api/v2/dags/~/dagRuns", params={"run_id_pattern": run_id, "limit": 10})
    found = sorted({r["dag_id"] for r in resp.json()["dag_runs"] if r["dag_run_id"] == run_id})
    if len(found) != 1:
        raise UserErrorException(
            f"Run id {run_id!r} matches {len(found)} DAG(s) {found} on {client.base_url}; pass experiment_name= "
            "(the DAG id) to PipelineRun.get."
        )
    return found[0]


class RestOrchestrator:
    """``airflow_azml.core._orchestrator.Orchestrator`` over a running Airflow's REST API."""

    kind = "rest"

    def __init__(self, workspace: Any):
        self.workspace = workspace
        self._client: AirflowRestClient | None = None

    @property
    def client(self) -> AirflowRestClient:
        if self._client is None:
            self._client = AirflowRestClient.from_workspace(self.workspace)
        return self._client

    def submit(self, plan: dict[str, Any], conf: dict[str, Any]) -> RestBackend:
        """Trigger the deployed DAG ``plan['dag_id']`` with ``conf`` (deployed through the registry when
        no DAG file builds it there)."""
        client, dag_id = self.client, plan["dag_id"]
        dag = client.get_dag(dag_id)
        if dag is None or SUBMITTED_TAG in _tags(dag):
            dag = _deploy_through_registry(client, self.workspace, plan, dag)
        deployed = {t["task_id"] for t in client.list_tasks(dag_id)}
        missing = sorted(set(plan["steps"]) - deployed)
        if missing:
            raise UserErrorException(
                f"The DAG {dag_id!r} deployed on {client.base_url} has no task for the step(s) {missing}: the "
                "deployed DAG file is older than this pipeline. Deploy the current DAG file, then submit again."
            )
        if dag.get("is_paused"):
            client.set_paused(dag_id, False)
        run = client.trigger(dag_id, conf)
        return RestBackend(client, dag_id, run["dag_run_id"])

    def trigger(self, dag_id: str, conf: dict[str, Any], run_id: str | None = None) -> RestBackend:
        run = self.client.trigger(dag_id, conf, run_id=run_id)
        return RestBackend(self.client, dag_id, run["dag_run_id"])

    def attach(self, run_id: str, dag_id: str | None) -> tuple[RestBackend, dict[str, Any]]:
        """The run ``run_id`` of the DAG ``dag_id`` (found from the run id when None)."""
        client = self.client
        dag_id = dag_id or _find_dag_of_run(client, run_id)
        try:
            client.get_run(dag_id, run_id)
        except AirflowApiError as exc:
            if exc.status_code == 404:
                raise UserErrorException(
                    f"No run {run_id!r} of {dag_id!r} on the Airflow at {client.base_url}."
                ) from exc
            raise
        return RestBackend(client, dag_id, run_id), remote_plan(client, self.workspace, dag_id)

    def list_runs(self, dag_id: str) -> list[RestBackend]:
        if self.client.get_dag(dag_id) is None:
            return []
        return [RestBackend(self.client, r["dag_id"], r["dag_run_id"]) for r in self.client.list_runs(dag_id)]

    def require_deployed(self, dag_id: str, wait_seconds: float = 0) -> dict[str, Any]:
        return require_deployed(self.client, dag_id, wait_seconds)

    def set_paused(self, dag_id: str, paused: bool) -> None:
        try:
            self.client.set_paused(dag_id, paused)
        except AirflowApiError as exc:
            if (
                exc.status_code != 404
            ):  # not parsed yet: the loader creates it paused or not from the registry
                raise

    def put_connection(
        self, conn_id: str, connection: dict[str, Any] | None, container: str | None = None
    ) -> None:
        """Create or update ``conn_id`` on this Airflow (its tasks read connections from its own DB)."""
        if connection is None:
            return
        try:
            self.client.put_connection(conn_id, connection)
        finally:
            self.client.close()

    def authentication_header(self) -> dict[str, str]:
        return self.client.auth_header()

    def asset_id(self, uri: str) -> int | None:
        asset = self.client.find_asset(uri)
        return None if asset is None else int(asset["id"])

    def post_asset_event(self, asset_id: int, extra: dict[str, Any]) -> None:
        self.client.post_asset_event(asset_id, extra)
