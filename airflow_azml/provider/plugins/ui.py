"""The pipeline view in Airflow's UI: a tab on the DAG run and task instance pages.

Served by Airflow's api-server under ``/azml-ui`` (a plugin FastAPI app) and shown in the UI
through ``EXTERNAL_VIEWS`` (an iframe tab "Pipeline (azml)"). Pages:

- ``/azml-ui/pipeline/{dag_id}/{run_id}[?task_id=]`` — step graph (status, Reused marks),
  steps with their inputs/outputs (datastore, path, size), metrics table, charts (a metric
  across runs, log_list/log_row series, log_image images). HTML with inline SVG.
- ``/azml-ui/api/pipeline/{dag_id}/{run_id}`` — the same data as JSON.
- ``.../file/{task_id}/files/...`` — a step's logged images; ``/azml-ui/static/...`` — the JS.

Authentication: Airflow serves plugin apps without auth, so every data endpoint checks the
JWT itself with Airflow's code, from ``Authorization: Bearer`` or the UI session's ``_token``
cookie (what the iframe sends), then asks the auth manager whether the user may read the
DAG's runs. No token -> 401 (an HTML request is redirected to the login page), a bad token
-> 401, no access -> 403. Airflow data (tasks, task states, tags, DAG file) comes from
Airflow's REST API called with the same token (through the package's one REST client,
``client/rest.py``), so its authorization applies too.

Where the run records are: the DAG's workspace is ``$AZML_WORKSPACE_CONFIG`` or
``[azml] workspace_config`` when set, else the workspace file (config.json) found from the
DAG file's folder upwards (as ``Workspace.from_config()`` in the DAG file finds it), else the
default local workspace ($AZML_HOME). Its default datastore holds ``.azml/runs``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from airflow_azml.provider.operators.links import (
    UI_PREFIX,
    HyperDriveSweepLink,
    PipelineViewLink,
    StepOutputsLink,
)
from airflow_azml.provider.plugins._auth import NotAuthenticated, authorize_dag, bearer_token

__all__ = ["app", "FASTAPI_APPS", "EXTERNAL_VIEWS", "OPERATOR_EXTRA_LINKS", "workspace_for"]

app = FastAPI(title="airflow-azml: pipeline view")
_STATIC = Path(__file__).parent / "static"
_PIPELINE_TAG = "azml"


class _LoginRequired(Exception):
    """No credential on an HTML request: send the browser to Airflow's login page."""


def _credential(request: Request) -> str | None:
    """A bearer header, else the Airflow UI session's JWT cookie (what the tab's iframe sends)."""
    token = bearer_token(request)
    if token:
        return token
    from airflow.api_fastapi.auth.managers.base_auth_manager import COOKIE_NAME_JWT_TOKEN

    return request.cookies.get(COOKIE_NAME_JWT_TOKEN) or None


async def _authorize(request: Request, dag_id: str, html: bool = False) -> str:
    """The caller's token once Airflow's auth manager lets the user read ``dag_id``'s runs."""
    token = _credential(request)
    try:
        await authorize_dag(token, dag_id, method="GET", doing="read runs of")
    except NotAuthenticated as exc:
        if html:
            raise _LoginRequired from exc
        raise HTTPException(
            401,
            f"Not authenticated ({exc.detail}): log in to Airflow, or send 'Authorization: Bearer <token>'.",
            headers={"WWW-Authenticate": "Bearer"},
        ) from exc
    return token


@app.exception_handler(_LoginRequired)
async def _to_login(request: Request, _exc: _LoginRequired) -> Response:
    from airflow.api_fastapi.app import get_auth_manager

    return RedirectResponse(get_auth_manager().get_url_login(next_url=str(request.url)), status_code=307)


async def _airflow(token: str, dag_id: str, run_id: str) -> dict[str, Any]:
    """The DAG's details, tasks and this run's task instances, from Airflow's REST API: the one REST
    client (``client/rest.py``) with the caller's token, in a worker thread (it is synchronous)."""
    return await asyncio.to_thread(_airflow_data, token, dag_id, run_id)


def _airflow_data(token: str, dag_id: str, run_id: str) -> dict[str, Any]:
    from airflow.configuration import conf as airflow_conf

    from airflow_azml.client.rest import AirflowRestClient
    from airflow_azml.exceptions import AirflowApiError

    client = AirflowRestClient(
        airflow_conf.get("api", "base_url", fallback="http://127.0.0.1:8080"), token=token
    )
    dag, run = quote(dag_id, safe=""), quote(run_id, safe="")
    try:
        details = client.request("GET", f"/api/v2/dags/{dag}/details").json()
        tasks = client.request("GET", f"/api/v2/dags/{dag}/tasks").json()["tasks"]
        tis = client.request(
            "GET", f"/api/v2/dags/{dag}/dagRuns/{run}/taskInstances", params={"limit": 1000}, ok=(200, 404)
        )
        asset_ids = _asset_ids(client, dag_id)
    except AirflowApiError as exc:
        raise HTTPException(exc.status_code or 502, f"DAG {dag_id!r}: {exc}") from exc
    finally:
        client.close()
    if tis.status_code == 404:
        raise HTTPException(404, f"DAG {dag_id!r} has no run {run_id!r}.")
    states = {ti["task_id"]: ti for ti in tis.json()["task_instances"] if ti.get("map_index", -1) in (-1, 0)}
    return {"details": details, "tasks": tasks, "tis": states, "asset_ids": asset_ids}


def _asset_ids(client: Any, dag_id: str) -> dict[str, int]:
    """The DAG's assets (its steps' inlets and outlets): URI -> id, for links to their pages. Without
    them (a caller not allowed to read assets, an error) the view shows no links, nothing else changes."""
    from airflow_azml.exceptions import AirflowApiError

    try:
        resp = client.request("GET", "/api/v2/assets", params={"dag_ids": dag_id, "limit": 1000}, ok=(200,))
        return {a["uri"]: a["id"] for a in resp.json().get("assets", [])}
    except (AirflowApiError, ValueError, KeyError):
        return {}


def workspace_for(dag_file: str | None) -> Any:
    """The workspace of a pipeline DAG (see the module docstring for the order)."""
    from airflow_azml.core.workspace import Workspace
    from airflow_azml.exceptions import WorkspaceConfigError
    from airflow_azml.provider.deployment import configured_workspace_path

    configured = configured_workspace_path()
    if configured:
        return Workspace.from_config(path=configured)
    if dag_file:
        for folder in Path(dag_file).resolve().parents:
            try:
                return Workspace.from_config(path=folder)
            except WorkspaceConfigError:
                continue
    return Workspace()


def _store_of(ws: Any) -> Any:
    def store_of(name: str) -> Any:
        try:
            return ws._require_datastore(name).store
        except Exception:  # noqa: BLE001 - an unknown/unreachable datastore only hides a size
            return None

    return store_of


async def _view(request: Request, dag_id: str, run_id: str, html: bool) -> tuple[dict[str, Any], Any]:
    from airflow_azml.provider.plugins.ui_data import pipeline_view

    token = await _authorize(request, dag_id, html=html)
    af = await _airflow(token, dag_id, run_id)
    details = af["details"]
    tags = {t["name"] if isinstance(t, dict) else t for t in details.get("tags") or []}
    if _PIPELINE_TAG not in tags:
        raise HTTPException(404, f"{dag_id!r} is not an airflow-azml pipeline DAG (no 'azml' tag).")
    ws = workspace_for(details.get("fileloc"))
    store = ws.get_default_datastore().store
    view = pipeline_view(
        store, dag_id, run_id, af["tasks"], af["tis"], store_of=_store_of(ws), asset_link=_asset_link(af)
    )
    return view, store


def _asset_link(af: dict[str, Any]) -> Any:
    """Asset URI -> its page in Airflow's UI (``<base>/assets/<id>``), for the assets Airflow knows."""
    from airflow.configuration import conf as airflow_conf

    base = urlsplit(airflow_conf.get("api", "base_url", fallback="")).path.rstrip("/")
    ids = af.get("asset_ids") or {}

    def link(uri: str) -> str | None:
        return f"{base}/assets/{ids[uri]}" if uri in ids else None

    return link


@app.get("/pipeline/{dag_id}/{run_id}", response_class=HTMLResponse)
async def pipeline_page(
    request: Request, dag_id: str, run_id: str, task_id: str | None = None
) -> HTMLResponse:
    """The pipeline page of one run (``task_id`` focuses one step)."""
    from airflow_azml.execution.records import RunRecords
    from airflow_azml.provider.plugins.ui_render import render_page

    try:
        view, store = await _view(request, dag_id, run_id, html=True)
    except HTTPException as exc:
        if exc.status_code in (401, 403):
            raise
        return HTMLResponse(f"<!doctype html><p>{exc.detail}</p>", status_code=exc.status_code)
    logs: dict[str, str] = {}
    focus = next((s for s in view["steps"] if s["task_id"] == task_id), None)
    if focus:
        records = RunRecords(store, dag_id, run_id)
        logs = {name: records.read_text(rel) for name, rel in sorted(focus["logs"].items())}
    root = request.scope.get("root_path", "")
    page_base = f"{root}/pipeline/{quote(dag_id, safe='')}/{quote(run_id, safe='')}"
    from airflow.configuration import conf as airflow_conf

    base = urlsplit(airflow_conf.get("api", "base_url", fallback="")).path.rstrip("/")
    return HTMLResponse(
        render_page(
            view,
            task_id=task_id,
            logs=logs,
            file_url=page_base + "/file/{task_id}/{path}",
            static_url=f"{root}/static/azml_ui.js",
            airflow_url=f"{base}/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}",
        )
    )


@app.get("/api/pipeline/{dag_id}/{run_id}")
async def pipeline_json(request: Request, dag_id: str, run_id: str) -> JSONResponse:
    """The pipeline view's data as JSON (steps, edges, metrics, history)."""
    view, _ = await _view(request, dag_id, run_id, html=False)
    return JSONResponse(view)


@app.get("/pipeline/{dag_id}/{run_id}/file/{task_id}/{path:path}")
async def step_file(request: Request, dag_id: str, run_id: str, task_id: str, path: str) -> Response:
    """A file a step logged (``files/images/<name>.png`` from log_image), from the run records."""
    from airflow_azml.execution.records import RunRecords

    token = await _authorize(request, dag_id)
    af = await _airflow(token, dag_id, run_id)
    if (
        not path.startswith("files/")
        or ".." in path.split("/")
        or task_id not in {t["task_id"] for t in af["tasks"]}
    ):
        raise HTTPException(404, "Only files a step logged (files/...) are served.")
    store = workspace_for(af["details"].get("fileloc")).get_default_datastore().store
    rel = f"{RunRecords(store, dag_id, run_id).prefix}/{task_id}/{path}"
    if not store.exists(rel):
        raise HTTPException(404, f"Step {task_id!r} logged no file {path!r} in run {run_id!r}.")
    media = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "svg": "image/svg+xml"}
    return Response(
        store.read_bytes(rel),
        media_type=media.get(path.rsplit(".", 1)[-1].lower(), "application/octet-stream"),
    )


@app.get("/static/{name}")
async def static_file(name: str) -> Response:
    """The page's own script and style sheet (no data in them, so no authentication)."""
    target = _STATIC / name
    if "/" in name or not target.is_file():
        raise HTTPException(404, f"No static file {name!r}.")
    types = {"js": "text/javascript", "css": "text/css"}
    return Response(target.read_bytes(), media_type=types.get(name.rsplit(".", 1)[-1], "text/plain"))


def _href(route: str) -> str:
    """A same-origin path under Airflow's base path (so the iframe sends the session cookie)."""
    try:
        from airflow.configuration import conf as airflow_conf

        base = urlsplit(airflow_conf.get("api", "base_url", fallback="")).path.rstrip("/")
    except Exception:  # noqa: BLE001 - no Airflow config: serve at the root
        base = ""
    return f"{base}{UI_PREFIX}{route}"


FASTAPI_APPS = [{"app": app, "url_prefix": UI_PREFIX, "name": "azml-pipeline-view"}]
EXTERNAL_VIEWS = [
    {
        "name": "Pipeline (azml)",
        "href": _href("/pipeline/{DAG_ID}/{RUN_ID}"),
        "destination": "dag_run",
        "url_route": "azml_pipeline",
    },
    {
        "name": "Pipeline step (azml)",
        "href": _href("/pipeline/{DAG_ID}/{RUN_ID}?task_id={TASK_ID}"),
        "destination": "task_instance",
        "url_route": "azml_step",
    },
]
#: links the API server makes for the step operators' tasks (each link names its operators: links.py)
OPERATOR_EXTRA_LINKS = [PipelineViewLink(), StepOutputsLink(), HyperDriveSweepLink()]
