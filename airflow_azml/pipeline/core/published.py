"""PublishedPipeline and PipelineEndpoint: pipelines published to a running Airflow.

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
* ``status`` Active/Disabled is kept in the registry and mirrored to the DAG's paused flag
  through the REST API (``enable``/``disable``); ``endpoint`` is the URL of the
  v1-compatible submit route served by the airflow-azml plugin.
* ``PipelineEndpoint`` is a registry entry ``.azml/published/endpoints/<name>.json``: versions
  "0", "1", … each naming a published pipeline id, and a default version.

Never imports Airflow at import time.
"""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime
from typing import Any

from airflow_azml.exceptions import UserErrorException

__all__ = [
    "PublishedPipeline",
    "PipelineEndpoint",
    "publish_pipeline",
    "v1_body_to_conf",
    "experiment_run_id",
    "REGISTRY_PREFIX",
    "SUBMIT_ROUTE",
    "ENDPOINT_SUBMIT_ROUTE",
]

REGISTRY_PREFIX = ".azml/published"
SUBMIT_ROUTE = "/azml/pipelines/v1.0/PipelineRuns/PipelineSubmit"
ENDPOINT_SUBMIT_ROUTE = "/azml/pipelines/v1.0/PipelineRuns/PipelineEndpointSubmit/Name"
_UNSAFE = re.compile(r"[^\w.-]+")


def _safe(text: str) -> str:
    return _UNSAFE.sub("_", str(text)).strip("_") or "x"


def experiment_run_id(experiment_name: str | None) -> str:
    """A DAG run id that carries the v1 experiment name (Airflow runs belong to a DAG, not an experiment)."""
    return f"{_safe(experiment_name or 'manual')}__{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%f')}"


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


def _store(ws: Any) -> Any:
    return ws.get_default_datastore().store


def _read(ws: Any, rel: str) -> dict[str, Any] | None:
    store = _store(ws)
    return json.loads(store.read_bytes(rel)) if store.exists(rel) else None


def _write(ws: Any, rel: str, data: dict[str, Any]) -> None:
    _store(ws).write_bytes(rel, json.dumps(data, indent=1, default=str).encode())


def _entries(ws: Any, kind: str) -> list[dict[str, Any]]:
    store, prefix = _store(ws), f"{REGISTRY_PREFIX}/{kind}"
    if not store.exists(prefix):
        return []
    return [
        json.loads(store.read_bytes(r))
        for r in store.list_files(prefix)
        if r.endswith(".json") and "/" not in r[len(prefix) + 1 :]
    ]


def _client(ws: Any) -> Any:
    from airflow_azml.client.rest import AirflowRestClient, airflow_settings

    return AirflowRestClient.from_workspace(ws) if airflow_settings(ws).get("base_url") else None


def _set_paused(ws: Any, dag_id: str, paused: bool) -> None:
    """Mirror a status to the DAG's paused flag when an Airflow is configured and knows the DAG."""
    from airflow_azml.exceptions import AirflowApiError

    client = _client(ws)
    if client is None:
        return
    try:
        client.set_paused(dag_id, paused)
    except AirflowApiError as exc:
        if exc.status_code != 404:  # not parsed yet: the loader creates it paused or not from the registry
            raise


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
        from airflow_azml.client.rest import airflow_settings

        base = (airflow_settings(self._workspace).get("base_url") or "http://localhost:8080").rstrip("/")
        return f"{base}{SUBMIT_ROUTE}/{self.id}"

    @classmethod
    def get(
        cls, workspace: Any, id: str, _workflow_provider: Any = None, _service_endpoint: Any = None
    ) -> PublishedPipeline:
        entry = _read(workspace, f"{REGISTRY_PREFIX}/pipelines/{_safe(id)}.json")
        if entry is None:
            known = sorted(e["id"] for e in _entries(workspace, "pipelines"))
            raise UserErrorException(
                f"No published pipeline {id!r} in workspace {workspace.name!r}; published: {known}."
            )
        return cls(workspace, entry)

    @classmethod
    def list(
        cls, workspace: Any, active_only: bool = True, _service_endpoint: Any = None
    ) -> list[PublishedPipeline]:
        items = [cls(workspace, e) for e in _entries(workspace, "pipelines")]
        return sorted([p for p in items if p.status == "Active" or not active_only], key=lambda p: p.id)

    def _set_status(self, status: str) -> None:
        self._entry["status"] = status
        _write(self._workspace, f"{REGISTRY_PREFIX}/pipelines/{self.id}.json", self._entry)
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
        from airflow_azml.client.remote import RestBackend, require_deployed
        from airflow_azml.client.rest import AirflowRestClient
        from airflow_azml.core.experiment import Experiment, run_conf
        from airflow_azml.pipeline.core.run import PipelineRun

        if self.status != "Active":
            raise UserErrorException(
                f"Published pipeline {self.id!r} is disabled; call enable() before submitting."
            )
        cont = self.continue_on_step_failure if continue_on_step_failure is None else continue_on_step_failure
        conf = run_conf(self.plan, pipeline_parameters, cont, False)
        conf["azml_experiment"] = experiment_name
        client = AirflowRestClient.from_workspace(workspace)
        require_deployed(client, self.id, wait_for_deploy_seconds)
        run = client.trigger(self.id, conf, run_id=experiment_run_id(experiment_name))
        return PipelineRun(
            Experiment(workspace, experiment_name),
            backend=RestBackend(client, self.id, run["dag_run_id"]),
            plan=self.plan,
        )

    def __repr__(self) -> str:
        return f"PublishedPipeline(id={self.id!r}, name={self.name!r}, version={self.version!r}, status={self.status!r})"


def publish_pipeline(
    pipeline: Any,
    name: str | None,
    description: str | None,
    version: str | None,
    continue_on_step_failure: bool | None,
) -> PublishedPipeline:
    """``Pipeline.publish``: store the compiled plan in the publish registry under a new DAG id."""
    from airflow_azml.compiler import compile_pipeline

    ws = pipeline.workspace
    if not name:
        raise UserErrorException("Pipeline.publish needs a name=.")
    taken = {e["version"] for e in _entries(ws, "pipelines") if e["name"] == name}
    version = str(version) if version is not None else str(len(taken) + 1)
    pid = _safe(f"{name}-v{version}")
    if _read(ws, f"{REGISTRY_PREFIX}/pipelines/{pid}.json") is not None:
        raise UserErrorException(
            f"Pipeline {name!r} version {version!r} is already published (id {pid!r}); "
            "publish with another version=."
        )
    plan = compile_pipeline(pipeline, pid)
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
    _write(ws, f"{REGISTRY_PREFIX}/pipelines/{pid}.json", entry)
    return PublishedPipeline(ws, entry)


class PipelineEndpoint:
    """A named endpoint with versions "0", "1", … (each a published pipeline) and a default version."""

    def __init__(self, workspace: Any, entry: dict[str, Any]):
        self._workspace = workspace
        self._entry = entry
        self.name: str = entry["name"]
        self.id: str = entry["name"]
        self.description: str | None = entry.get("description")

    @property
    def default_version(self) -> str:
        return str(self._entry["default_version"])

    @property
    def status(self) -> str:
        return str(self._entry.get("status", "Active"))

    @property
    def url(self) -> str:
        from airflow_azml.client.rest import airflow_settings

        base = (airflow_settings(self._workspace).get("base_url") or "http://localhost:8080").rstrip("/")
        return f"{base}{ENDPOINT_SUBMIT_ROUTE}/{self.name}"

    endpoint = url

    @classmethod
    def publish(
        cls,
        workspace: Any,
        name: str,
        description: str,
        pipeline: Any,
        _workflow_provider: Any = None,
        _service_endpoint: Any = None,
    ) -> PipelineEndpoint:
        if _read(workspace, f"{REGISTRY_PREFIX}/endpoints/{_safe(name)}.json") is not None:
            raise UserErrorException(
                f"PipelineEndpoint {name!r} exists; use PipelineEndpoint.get(...).add(pipeline)."
            )
        entry = {
            "name": name,
            "description": description,
            "default_version": "0",
            "status": "Active",
            "versions": {"0": _pipeline_id(pipeline)},
        }
        endpoint = cls(workspace, entry)
        endpoint._save()
        return endpoint

    @classmethod
    def get(
        cls, workspace: Any, id: str | None = None, name: str | None = None, **_: Any
    ) -> PipelineEndpoint:
        key = name or id
        entry = _read(workspace, f"{REGISTRY_PREFIX}/endpoints/{_safe(str(key))}.json")
        if entry is None:
            raise UserErrorException(f"No PipelineEndpoint named {key!r} in workspace {workspace.name!r}.")
        return cls(workspace, entry)

    @classmethod
    def list(cls, workspace: Any, active_only: bool = True, **_: Any) -> list[PipelineEndpoint]:
        items = [cls(workspace, e) for e in _entries(workspace, "endpoints")]
        return sorted([e for e in items if e.status == "Active" or not active_only], key=lambda e: e.name)

    def _save(self) -> None:
        _write(self._workspace, f"{REGISTRY_PREFIX}/endpoints/{_safe(self.name)}.json", self._entry)

    def list_versions(self) -> list[dict[str, str]]:
        return [
            {"version": v, "pipeline_id": pid}
            for v, pid in sorted(self._entry["versions"].items(), key=lambda kv: int(kv[0]))
        ]

    def add(self, pipeline: Any) -> str:
        """Add ``pipeline`` as the next version; returns that version."""
        version = str(max(int(v) for v in self._entry["versions"]) + 1)
        self._entry["versions"][version] = _pipeline_id(pipeline)
        self._save()
        return version

    def add_default(self, pipeline: Any) -> str:
        version = self.add(pipeline)
        self.set_default_version(version)
        return version

    def set_default_version(self, version: str | int) -> None:
        if str(version) not in self._entry["versions"]:
            raise UserErrorException(
                f"PipelineEndpoint {self.name!r} has no version {str(version)!r}; "
                f"versions: {sorted(self._entry['versions'], key=int)}."
            )
        self._entry["default_version"] = str(version)
        self._save()

    def get_pipeline(self, version: str | int | None = None) -> PublishedPipeline:
        version = self.default_version if version is None else str(version)
        if version not in self._entry["versions"]:
            raise UserErrorException(f"PipelineEndpoint {self.name!r} has no version {version!r}.")
        return PublishedPipeline.get(self._workspace, self._entry["versions"][version])

    def submit(
        self,
        experiment_name: str,
        pipeline_parameters: dict | None = None,
        parent_run_id: str | None = None,
        pipeline_version: str | None = None,
    ) -> Any:
        return self.get_pipeline(pipeline_version).submit(
            self._workspace, experiment_name, pipeline_parameters
        )

    def enable(self) -> None:
        self._entry["status"] = "Active"
        self._save()

    def disable(self) -> None:
        self._entry["status"] = "Disabled"
        self._save()

    def __repr__(self) -> str:
        return f"PipelineEndpoint(name={self.name!r}, default_version={self.default_version!r})"


def _pipeline_id(pipeline: Any) -> str:
    if isinstance(pipeline, PublishedPipeline):
        return pipeline.id
    raise UserErrorException(
        f"A PipelineEndpoint version must be a PublishedPipeline (pipeline.publish(...)), not {pipeline!r}."
    )


_LOADER_NAMES = ("LOADER_TEXT", "write_loader", "load_published_dags")


def __getattr__(name: str) -> Any:
    """The loader DAG file's side lives in ``published_loader``; deployed loader files import it from here."""
    if name in _LOADER_NAMES:
        from airflow_azml.pipeline.core import published_loader

        return getattr(published_loader, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
