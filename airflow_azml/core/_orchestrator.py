"""The orchestrator port: the one way the v1 model reaches Airflow (issue #13).

The model (runs, publishing, schedules, datastore connections, ``Pipeline.to_dag``) never imports
the Airflow side or the REST client, not even inside a function. It asks this module:

* ``orchestrator(workspace)`` for an :class:`Orchestrator`: the embedded Airflow on this machine
  (``airflow_azml.provider.local.orchestrator``), or a running Airflow over REST
  (``airflow_azml.client.remote``) when the workspace file (``airflow.base_url``) or
  ``AZML_AIRFLOW_URL`` names one. This is the one place that choice is made.
* ``airflow_side(name)`` for the few Airflow-side functions the model hands its plans to
  (the DAG renderer, the datastore watcher DAG, the object-store classes of datastores).

Both resolve a dotted name from the tables below, the composition root of the package: the
adapters sit in higher layers, so the model names them here instead of importing them (the
same late binding the plan uses for ``operator_class`` and ``run_class``).
``tests/core/test_orchestrator.py`` checks that every name resolves, in the layer it should,
and that each adapter has every method of the port.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from airflow_azml.core._home import uses_remote_airflow

if TYPE_CHECKING:
    from airflow_azml.compiler.types import Plan

__all__ = ["Orchestrator", "RunStates", "orchestrator", "airflow_side", "ADAPTERS", "AIRFLOW_SIDE"]

#: the two ways to reach Airflow (kind -> "module:Class"); each class is built with the workspace
ADAPTERS = {
    "local": "airflow_azml.provider.local.orchestrator:LocalOrchestrator",
    "rest": "airflow_azml.client.remote:RestOrchestrator",
}
#: Airflow-side functions and classes the model hands its plans and datastores to
AIRFLOW_SIDE = {
    "render_dag": "airflow_azml.provider.operators.render:render_dag",
    "load_published_dags": "airflow_azml.provider.operators.published_loader:load_published_dags",
    "datastore_watcher_dag": "airflow_azml.provider.timetables:datastore_watcher_dag",
    "ObjectStore": "airflow_azml.provider.hooks.object_store:ObjectStore",
    "PublicObjectStore": "airflow_azml.provider.hooks.public_store:PublicObjectStore",
}


@runtime_checkable
class RunStates(Protocol):
    """The states of one DAG run, wherever it runs (what a PipelineRun reads)."""

    def run_id(self) -> str: ...
    def state(self) -> str | None: ...
    def task_states(self) -> dict[str, str | None]: ...
    def cancel(self) -> None: ...
    def error(self) -> str | None: ...


@runtime_checkable
class Orchestrator(Protocol):
    """What the v1 model asks of an Airflow: plain data and RunStates in, never v1 objects out."""

    #: "local" or "rest"
    kind: str

    def submit(self, plan: Plan, conf: dict[str, Any]) -> RunStates:
        """Run a compiled plan (deploying it first where that is needed)."""
        ...

    def trigger(self, dag_id: str, conf: dict[str, Any], run_id: str | None = None) -> RunStates:
        """Start a run of a deployed DAG (a published pipeline, a schedule's pipeline)."""
        ...

    def attach(self, run_id: str, dag_id: str | None) -> tuple[RunStates, Plan]:
        """(states, plan) of a run started elsewhere; ``dag_id`` None: find the DAG from the run id."""
        ...

    def list_runs(self, dag_id: str) -> list[RunStates]:
        """The runs of ``dag_id``, newest first (an empty list when the DAG is not deployed)."""
        ...

    def require_deployed(self, dag_id: str, wait_seconds: float = 0) -> dict[str, Any]:
        """The deployed DAG ``dag_id`` (waiting up to ``wait_seconds`` for its parse), or a UserErrorException."""
        ...

    def set_paused(self, dag_id: str, paused: bool) -> None:
        """Pause or unpause ``dag_id`` where it is deployed (nothing when it is not, yet)."""
        ...

    def put_connection(
        self, conn_id: str, connection: dict[str, Any] | None, container: str | None = None
    ) -> None:
        """Create or replace an Airflow connection (and a Blob container, when ``container`` is given)."""
        ...

    def authentication_header(self) -> dict[str, str]:
        """HTTP headers that authenticate a caller of this Airflow's REST API."""
        ...

    def asset_id(self, uri: str) -> int | None:
        """The id of the Asset ``uri`` where this Airflow knows it (an active DAG declares it), else None."""
        ...

    def post_asset_event(self, asset_id: int, extra: dict[str, Any]) -> None:
        """Add an event to the asset ``asset_id`` (the DAGs scheduled on it see it as any other)."""
        ...


def _resolve(target: str) -> Any:
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def orchestrator(workspace: Any, kind: str | None = None) -> Orchestrator:
    """The Airflow ``workspace`` runs its pipelines on (``kind`` forces "local" or "rest")."""
    if kind is None:
        kind = "rest" if uses_remote_airflow(workspace) else "local"
    return _resolve(ADAPTERS[kind])(workspace)


def airflow_side(name: str) -> Any:
    """The Airflow-side function or class ``name`` of ``AIRFLOW_SIDE`` (imports Airflow)."""
    return _resolve(AIRFLOW_SIDE[name])
