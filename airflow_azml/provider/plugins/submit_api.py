"""The Azure ML v1-compatible submit endpoint, served by Airflow's api-server under ``/azml``.

POST ``/azml/<anything>/PipelineRuns/PipelineSubmit/{pipelineId}`` or
``/azml/<anything>/PipelineRuns/PipelineEndpointSubmit/(Id|Name)/{endpoint}`` (or ``Name?name=``) with v1's body
``{"ExperimentName", "ParameterAssignments", "DataPathAssignments"}`` and a bearer token
creates a DAG run and answers ``{"Id": run_id}``: a v1 client changes its base URL and token.

Airflow serves plugin apps without authentication, so the token is checked here with
Airflow's own code (``resolve_user_from_token`` and the configured auth manager's
``is_authorized_dag`` for creating runs): no token or a bad one -> 401, a role that may not
trigger the DAG (viewer) -> 403. The run is then created through Airflow's own REST API with
the same token (``client/rest.py``, the package's one REST caller, in a worker thread), so its
Param validation applies unchanged: a wrong parameter type -> 400 with Airflow's message naming
the parameter.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

from airflow_azml.client.rest import AirflowRestClient
from airflow_azml.exceptions import AirflowApiError
from airflow_azml.provider.plugins._auth import NotAuthenticated, authorize_dag, bearer_token

__all__ = ["app", "FASTAPI_APPS"]

app = FastAPI(title="airflow-azml: Azure ML v1-compatible pipeline submit API")
#: how long a submit waits for the dag-processor to parse a pipeline published moments before
DEPLOY_WAIT_SECONDS = 90


async def _authorize(request: Request, dag_id: str) -> str:
    """The caller's bearer token once Airflow's auth manager allows it to trigger ``dag_id``."""
    token = bearer_token(request)
    try:
        await authorize_dag(token, dag_id, method="POST", doing="start runs of")
    except NotAuthenticated as exc:
        raise HTTPException(
            401,
            f"Not authenticated ({exc.detail}): send 'Authorization: Bearer <token from /auth/token>'.",
            headers={"WWW-Authenticate": "Bearer"},
        ) from exc
    return token


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError as exc:
        raise HTTPException(
            400, "The request body must be JSON (ExperimentName, ParameterAssignments, ...)."
        ) from exc
    return body if isinstance(body, dict) else {}


async def _trigger(token: str, dag_id: str, body: dict[str, Any]) -> JSONResponse:
    from airflow_azml.exceptions import UserErrorException
    from airflow_azml.pipeline.core.published import experiment_run_id, v1_body_to_conf

    try:
        run_conf, experiment = v1_body_to_conf(body)
    except UserErrorException as exc:
        raise HTTPException(400, str(exc)) from exc
    # the one REST caller is synchronous: it runs in a worker thread, as the pipeline view's does
    return await asyncio.to_thread(_trigger_run, token, dag_id, run_conf, experiment_run_id(experiment))


def _trigger_run(token: str, dag_id: str, run_conf: dict[str, Any], run_id: str) -> JSONResponse:
    """Create the run through Airflow's REST API with the caller's token (its Params validate ``run_conf``)."""
    from airflow.configuration import conf as airflow_conf

    base = airflow_conf.get("api", "base_url", fallback="http://127.0.0.1:8080")
    client = AirflowRestClient(base, token=token, timeout=60)
    try:
        dag = _published_dag(client, dag_id)
        if dag.get("is_paused"):
            raise HTTPException(400, f"Pipeline {dag_id!r} is disabled (its DAG is paused); enable it first.")
        run = client.trigger(dag_id, run_conf, run_id=run_id)
    except AirflowApiError as exc:
        code = exc.status_code or 502
        message = exc.detail if exc.detail is not None else str(exc)
        return JSONResponse({"error": {"code": code, "message": message}}, status_code=code)
    finally:
        client.close()
    return JSONResponse({"Id": run["dag_run_id"]})


def _published_dag(client: AirflowRestClient, dag_id: str) -> dict[str, Any]:
    """The DAG of a published pipeline. One published moments ago is in the registry before the
    dag-processor has parsed it: wait for that parse (up to DEPLOY_WAIT_SECONDS) instead of a 404."""
    dag = client.get_dag(dag_id)
    if dag is None and _is_published(dag_id):
        dag = client.wait_dag(dag_id, DEPLOY_WAIT_SECONDS)
    if dag is None:
        raise HTTPException(
            404, f"No pipeline {dag_id!r}: it is not published, or its DAG is not parsed yet."
        )
    return dag


def _is_published(dag_id: str) -> bool:
    from airflow_azml.exceptions import UserErrorException
    from airflow_azml.pipeline.core.published import PublishedPipeline

    try:
        PublishedPipeline.get(_workspace(), dag_id)
    except UserErrorException:
        return False
    return True


@app.post("/{prefix:path}/PipelineRuns/PipelineSubmit/{pipeline_id}")
@app.post("/PipelineRuns/PipelineSubmit/{pipeline_id}")
async def pipeline_submit(pipeline_id: str, request: Request, prefix: str = "") -> JSONResponse:
    """v1's PipelineSubmit: run the published pipeline ``pipeline_id`` (= its DAG id)."""
    token = await _authorize(request, pipeline_id)
    return await _trigger(token, pipeline_id, await _body(request))


@app.post("/{prefix:path}/PipelineRuns/PipelineEndpointSubmit/{kind}/{endpoint}")
@app.post("/PipelineRuns/PipelineEndpointSubmit/{kind}/{endpoint}")
@app.post("/{prefix:path}/PipelineRuns/PipelineEndpointSubmit/{kind}")
@app.post("/PipelineRuns/PipelineEndpointSubmit/{kind}")
async def endpoint_submit(
    kind: str,
    request: Request,
    endpoint: str | None = None,
    prefix: str = "",
    name: str | None = None,
    id: str | None = None,  # noqa: A002 - v1's query name
    pipelineVersion: str | None = None,  # noqa: N803 - v1's query name
) -> JSONResponse:
    """v1's PipelineEndpointSubmit: ``Id/<id>``, ``Name/<name>`` or ``Name?name=<name>`` (``&pipelineVersion=N``)
    runs the endpoint's default or requested version."""
    from airflow_azml.exceptions import UserErrorException
    from airflow_azml.pipeline.core.pipeline_endpoint import PipelineEndpoint

    body = await _body(request)
    key = endpoint or (name if kind.lower() == "name" else id)
    try:
        if not key:
            raise UserErrorException(
                "Name the endpoint: .../PipelineEndpointSubmit/Name?name=<name> or Id/<id>."
            )
        by = {"id": key} if kind.lower() == "id" else {"name": key}
        ep = PipelineEndpoint.get(_workspace(), **by)
        if ep.status != "Active":
            raise UserErrorException(f"PipelineEndpoint {ep.name!r} is {ep.status.lower()}; enable it first.")
        dag_id = ep.get_pipeline(pipelineVersion or body.get("PipelineVersion")).id
    except UserErrorException as exc:
        await _authorize(request, str(key))  # never tell an unauthenticated caller what exists
        raise HTTPException(404, str(exc)) from exc
    token = await _authorize(request, dag_id)
    return await _trigger(token, dag_id, body)


def _workspace() -> Any:
    """The deployment's workspace: the configured workspace file, else config.json in the dags folder."""
    from pathlib import Path

    from airflow.configuration import conf as airflow_conf

    from airflow_azml.core.workspace import Workspace
    from airflow_azml.provider.deployment import configured_workspace_path

    configured = configured_workspace_path()
    if configured:
        return Workspace.from_config(path=configured)
    folder = Path(airflow_conf.get("core", "dags_folder"))
    return (
        Workspace.from_config(path=folder) if (folder / "config.json").is_file() else Workspace.from_config()
    )


FASTAPI_APPS = [{"app": app, "url_prefix": "/azml", "name": "azml-submit"}]
