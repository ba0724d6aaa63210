"""PublishedPipeline: pipelines published to a running Airflow (PipelineEndpoint: ``pipeline_endpoint.py``).

How published pipelines map onto Airflow (v1 kept them in the Azure ML service; Airflow only
runs DAGs its dag-processor parses from files):

* ``pipeline.publish(name, description, version)`` compiles the pipeline and writes the plan to
  the *publish registry* on the workspace's default datastore:
  ``.azml/published/pipelines/<id>.json``. The id is the DAG id: ``<name>-v<version>`` made
  DAG-id safe (``version`` defaults to the next free number for that name). Every published
  version is its own DAG, so older versions stay runnable, as in v1.
* The deployment has one loader DAG file (``LOADER_TEXT``; write it with ``write_loader``)
  in its dags folder, beside the workspace file. It renders a DAG for every published
  pipeline and every schedule in the registry (see ``schedule.py``). A new publication shows
  up in Airflow after the dag-processor's next parse of that file. A task process parses it for
  its own DAG only (Airflow's parsing context): one or two entry reads, no registry listing.
* ``Experiment.submit`` against a running Airflow that has no DAG file for the experiment writes
  the plan to ``.azml/published/submitted/<experiment>.json``; the loader renders it as the DAG
  ``<experiment>`` (tagged with the plan's version), so v1 code runs there unchanged.
* ``status`` Active/Disabled is kept in the registry and mirrored to the DAG's paused flag
  through the REST API (``enable``/``disable``); ``endpoint`` is the URL of the
  v1-compatible submit route served by the airflow-azml plugin.
* ``PipelineEndpoint`` (``pipeline_endpoint.py``) is a registry entry
  ``.azml/published/endpoints/<id>.json``: versions "0", "1", … each naming a published pipeline
  id, and a default version.

Never imports Airflow at import time.
"""

from __future__ import annotations

import functools
import hashlib
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from airflow_azml.core import registry
from airflow_azml.core._home import airflow_settings
from airflow_azml.core._orchestrator import orchestrator
from airflow_azml.core.registry import REGISTRY_PREFIX, safe_id
from airflow_azml.exceptions import UserErrorException

__all__ = [
    "PublishedPipeline",
    "airflow_base_url",
    "publish_pipeline",
    "write_submitted_plan",
    "plan_tag",
    "SUBMITTED_TAG",
    "publish_plan",
    "v1_body_to_conf",
    "experiment_run_id",
    "REGISTRY_PREFIX",
    "SUBMIT_ROUTE",
    "ENDPOINT_SUBMIT_ROUTE",
]

SUBMIT_ROUTE = "/azml/pipelines/v1.0/PipelineRuns/PipelineSubmit"
ENDPOINT_SUBMIT_ROUTE = "/azml/pipelines/v1.0/PipelineRuns/PipelineEndpointSubmit"
#: DAG tags: a DAG the loader renders from an experiment's submitted plan, and that plan's version
SUBMITTED_TAG = "azml-submitted"
PLAN_TAG_PREFIX = "azml-plan:"


def experiment_run_id(experiment_name: str | None) -> str:
    """A DAG run id that carries the v1 experiment name (Airflow runs belong to a DAG, not an experiment)."""
    return f"{safe_id(experiment_name or 'manual')}__{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%f')}"


def v1_body_to_conf(body: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """v1's submit body (ExperimentName, ParameterAssignments, DataPathAssignments) -> (conf, experiment)."""
    if not isinstance(body, dict):
        raise UserErrorException(
            "The request body must be a JSON object with ExperimentName and ParameterAssignments."
        )
    conf = dict(body.get("ParameterAssignments") or {})
    for name, ref in (body.get("DataPathAssignments") or {}).items():
        if not isinstance(ref, dict) or "DataStoreName" not in ref:
            raise UserErrorException(
                f"DataPathAssignments[{name!r}] must be {{'DataStoreName', 'RelativePath'}}."
            )
        conf[name] = {"datastore": ref["DataStoreName"], "path_on_datastore": ref.get("RelativePath", "")}
    if body.get("ContinueOnStepFailure") is not None:
        conf["continue_on_step_failure"] = bool(body["ContinueOnStepFailure"])
    experiment = body.get("ExperimentName")
    if experiment:
        conf["azml_experiment"] = experiment
    return conf, experiment


def airflow_base_url(ws: Any) -> str:
    """The configured Airflow's URL (what REST endpoints of published pipelines start with)."""
    return str(airflow_settings(ws).get("base_url") or "http://localhost:8080").rstrip("/")


def _set_paused(ws: Any, dag_id: str, paused: bool) -> None:
    """Mirror a status to the DAG's paused flag when an Airflow is configured and knows the DAG."""
    orchestrator(ws).set_paused(dag_id, paused)


class PublishedPipeline:
    """A published pipeline version: ``id`` (= its DAG id), ``name``, ``version``, ``status``, ``endpoint``."""

    def __init__(self, workspace: Any, entry: dict[str, Any]):
        self._workspace = workspace
        self._entry = entry
        self.id: str = entry["id"]
        self.name: str = entry["name"]
        self.description: str | None = entry.get("description")
        self.version: str = entry["version"]
        self.continue_on_step_failure = entry.get("continue_on_step_failure")

    @property
    def status(self) -> str:
        return str(self._entry.get("status", "Active"))

    @property
    def plan(self) -> dict[str, Any]:
        return dict(self._entry["plan"])

    @property
    def endpoint(self) -> str:
        """The URL of the v1-compatible submit route for this pipeline (POST with v1's JSON body)."""
        return f"{airflow_base_url(self._workspace)}{SUBMIT_ROUTE}/{self.id}"

    @classmethod
    def get(
        cls, workspace: Any, id: str, _workflow_provider: Any = None, _service_endpoint: Any = None
    ) -> PublishedPipeline:
        entry = registry.read(workspace, "pipelines", id)
        if entry is None:
            known = sorted(e["id"] for e in registry.entries(workspace, "pipelines"))
            raise UserErrorException(
                f"No published pipeline {id!r} in workspace {workspace.name!r}; published: {known}."
            )
        return cls(workspace, entry)

    @classmethod
    def list(
        cls, workspace: Any, active_only: bool = True, _service_endpoint: Any = None
    ) -> list[PublishedPipeline]:
        items = [cls(workspace, e) for e in registry.entries(workspace, "pipelines")]
        return sorted([p for p in items if p.status == "Active" or not active_only], key=lambda p: p.id)

    def _set_status(self, status: str) -> None:
        self._entry["status"] = status
        registry.write(self._workspace, "pipelines", self.id, self._entry)
        _set_paused(self._workspace, self.id, status != "Active")

    def enable(self) -> None:
        self._set_status("Active")

    def disable(self) -> None:
        self._set_status("Disabled")

    def submit(
        self,
        workspace: Any,
        experiment_name: str,
        pipeline_parameters: dict | None = None,
        _workflow_provider: Any = None,
        _service_endpoint: Any = None,
        parent_run_id: str | None = None,
        continue_on_step_failure: bool | None = None,
        wait_for_deploy_seconds: float = 120,
    ) -> Any:
        """Start a run on the configured Airflow; waits up to ``wait_for_deploy_seconds`` for the loader to parse it."""
        from airflow_azml.pipeline.core.run_conf import run_conf

        if self.status != "Active":
            raise UserErrorException(
                f"Published pipeline {self.id!r} is disabled; call enable() before submitting."
            )
        cont = self.continue_on_step_failure if continue_on_step_failure is None else continue_on_step_failure
        conf = run_conf(self.plan, pipeline_parameters, cont, False)
        conf["azml_experiment"] = experiment_name
        port = orchestrator(workspace, "rest")
        port.require_deployed(self.id, wait_for_deploy_seconds)
        states = port.trigger(self.id, conf, run_id=experiment_run_id(experiment_name))
        return workspace._experiment(experiment_name)._run(states, self.plan)

    def __repr__(self) -> str:
        return f"PublishedPipeline(id={self.id!r}, name={self.name!r}, version={self.version!r}, status={self.status!r})"


def plan_tag(plan: dict[str, Any]) -> str:
    """The DAG tag naming this version of a submitted plan (a digest of its JSON)."""
    from airflow_azml.compiler import plan_to_json

    return f"{PLAN_TAG_PREFIX}{hashlib.sha256(plan_to_json(plan).encode()).hexdigest()[:16]}"


def write_submitted_plan(ws: Any, plan: dict[str, Any]) -> str:
    """Put an experiment's plan in the registry for a running Airflow's loader to render as the DAG
    ``plan['dag_id']`` (``Experiment.submit`` with no DAG file deployed); returns the DAG tag that
    marks this plan's version, to wait for the parse that carries it."""
    tag = plan_tag(plan)
    entry = {"id": plan["dag_id"], "tag": tag, "status": "Active", "created": time.time(), "plan": plan}
    registry.write(ws, "submitted", plan["dag_id"], entry)
    return tag


def publish_pipeline(
    pipeline: Any,
    name: str | None,
    description: str | None,
    version: str | None,
    continue_on_step_failure: bool | None,
) -> PublishedPipeline:
    """``Pipeline.publish``: store the compiled plan in the publish registry under a new DAG id."""
    from airflow_azml.compiler import compile_pipeline

    plan_for = functools.partial(compile_pipeline, pipeline)
    return publish_plan(pipeline.workspace, plan_for, name, description, version, continue_on_step_failure)


def publish_plan(
    ws: Any,
    plan_for: Callable[[str], dict[str, Any]],
    name: str | None,
    description: str | None,
    version: str | None,
    continue_on_step_failure: bool | None,
) -> PublishedPipeline:
    """Store ``plan_for(pid)`` under a new published id (also ``PipelineRun.publish_pipeline``)."""
    if not name:
        raise UserErrorException("Publishing a pipeline needs a name=.")
    taken = {e["version"] for e in registry.entries(ws, "pipelines") if e["name"] == name}
    version = str(version) if version is not None else str(len(taken) + 1)
    # v1's ids are unique, its versions mere labels: publishing a name and version again (a notebook
    # run twice) gives another published pipeline, whose id gets a number
    base = pid = safe_id(f"{name}-v{version}")
    while registry.exists(ws, "pipelines", pid):
        pid = f"{base}_{int(pid[len(base) + 1 :] or 1) + 1}"
    plan = plan_for(pid)
    plan["description"] = description or plan.get("description")
    entry = {
        "id": pid,
        "name": name,
        "description": description,
        "version": version,
        "status": "Active",
        "continue_on_step_failure": continue_on_step_failure,
        "created": time.time(),
        "plan": plan,
    }
    registry.write(ws, "pipelines", pid, entry)
    return PublishedPipeline(ws, entry)


_MOVED = {
    "LOADER_TEXT": "published_loader",
    "write_loader": "published_loader",
    "load_published_dags": "published_loader",
    "PipelineEndpoint": "pipeline_endpoint",
}


def __getattr__(name: str) -> Any:
    """Names that moved to their own modules (deployed loader files import the loader from here)."""
    if name in _MOVED:
        import importlib

        return getattr(importlib.import_module(f"airflow_azml.pipeline.core.{_MOVED[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
