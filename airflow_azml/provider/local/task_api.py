"""Airflow's in-process Execution API, made ready once before a local run's task children fork.

Each task of a local run is a forked child that talks to the in-process Execution API (the FastAPI
app ``dag.test()`` uses): every XCom push or pull, the start and end of the task, its asset checks
and events are requests to it. What that app would compute again in every child is computed here,
in the parent, so that the children inherit it:

- its versioned routes (~3 s of CPU on its first request);
- where each endpoint's source is (file, line): FastAPI reads and tokenizes the endpoint's source
  file on the first request to it, for its error messages, and caches it per process: ~25 ms of
  CPU per endpoint a task uses (its start, each XCom kind, its asset check, its end);
- the analysis of each dependency (its signature, its annotations). FastAPI keeps a route's analysed
  dependencies, but re-analyses every one on every request when the app has dependency overrides,
  which the in-process API always has (its stand-ins for token checks, the DAG bag of ``dag.test``'s
  client): ~3 ms of CPU per request. Kept here per (path, callable, name, scopes), and made here for
  every route of the API version the Task SDK speaks, overrides applied as a request applies them:
  the same analysis FastAPI would redo, as a deployment's API server (no overrides) uses the
  routes' own. (The DAG bag override is new in every task, so its trivial analysis is still made.)
- the fields of each parameter model (one pydantic model for a route's query or headers): a
  TypeAdapter each, built on the first request that reads them, then kept by FastAPI.

Cadwyn solves a request's dependencies a second time with its head version's routes, so those are
warmed too. Same app, same endpoints, same database writes: only repeated work is gone. The
warm-up costs ~0.2 s of CPU once per process (the warm server pays it once for all its runs).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

__all__ = ["warm_task_api", "ready_for_run"]

log = logging.getLogger(__name__)


def warm_task_api() -> None:
    """Build the in-process Execution API and warm it (see the module doc). Calling it again is cheap.
    No thread is left running: each child starts its own transport thread."""
    import asyncio

    import httpx
    from airflow.sdk.execution_time.supervisor import in_process_api_server

    app = in_process_api_server().app

    async def first_request() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://in-process.invalid") as client:
            await client.get("/execution/health/ping")

    asyncio.run(first_request())
    if getattr(app.state, "azml_warm", False):  # done in this process already (the warm server)
        return
    routes = _routes(app)
    _locate_endpoints(routes)
    # Cadwyn solves a request's dependencies again with its head version's (among app.router.routes)
    routes += app.router.routes
    _analyse_dependencies(app, routes)
    _parameter_models(routes)
    app.state.azml_warm = True


def ready_for_run(dag_run: Any, session: Any) -> None:
    """What the task children of ``dag_run`` would each redo, done once here before they fork:

    - **The run's DAG, deserialized once.** The Execution API reads a task's DAG from its DAG bag
      (a task's inlet/outlet check, fail-fast). ``dag.test()``'s client gives each task a new, empty
      bag, so every task child read and deserialized the whole serialized DAG again (~6 ms for ten
      steps); a deployment's API server keeps them in one bag (``CachedDBDagBag``). Every task of this
      run gets one bag that already holds it, with the same revalidation (``DBDagBag``: the DAG's hash
      is checked again after ``[core] min_serialized_dag_update_interval``).
    - **The SQL of the read-only requests compiled.** SQLAlchemy compiles a statement once per
      process and engine and keeps it; the task children are forks of this process, so what is
      compiled here is compiled for them all. The inlet/outlet check and an XCom read (a step's
      inputs) are made once here, for the first task: read-only. So is the registration of a
      task's asset events (its success with outlets: five statements, three of them joins), in a
      session of its own that is rolled back: nothing is kept, and its listener calls (which
      Airflow hands back to the caller) are never made.

    An optimisation only: if Airflow's internals it uses change, the tasks do it all themselves."""
    try:
        session.commit()  # the run and its task instances, which every request below reads
        bag = _share_dag_bag(dag_run, session)
        if bag is not None:
            _compile_requests(dag_run, bag)
    except Exception:  # noqa: BLE001 - nothing is lost: each task reads and compiles on its own
        log.debug("no shared DAG bag for the run's tasks", exc_info=True)


def _share_dag_bag(dag_run: Any, session: Any) -> Any:
    from airflow.api_fastapi.common.dagbag import dag_bag_from_app
    from airflow.models.dagbag import DBDagBag
    from airflow.sdk.execution_time.supervisor import InProcessTestSupervisor, in_process_api_server

    bag = DBDagBag()
    if bag.get_dag_for_run(dag_run=dag_run, session=session) is None:
        return None

    def run_dag_bag() -> Any:  # one callable: FastAPI's analysis of it is kept (see _kept)
        return bag

    made = InProcessTestSupervisor.__dict__["_api_client"]
    original = getattr(made, "azml_original", made.__func__)

    def api_client(dag: Any = None) -> Any:
        client = original(dag)
        if dag is not None:  # where dag.test()'s client puts a new DBDagBag for the task
            in_process_api_server().app.dependency_overrides[dag_bag_from_app] = run_dag_bag
        return client

    api_client.azml_original = original  # type: ignore[attr-defined]
    api_client.azml_bag = bag  # type: ignore[attr-defined]
    InProcessTestSupervisor._api_client = staticmethod(api_client)
    return bag


def _compile_requests(dag_run: Any, bag: Any) -> None:
    """The read-only requests of the run's tasks and one asset-event registration, made once in a session
    of their own as a request's is (a fresh identity map: the lazy loads a task's request makes are made
    here too), rolled back after each: nothing is kept."""
    import structlog
    from airflow import settings
    from airflow.api_fastapi.execution_api.routes.task_instances import validate_inlets_and_outlets
    from airflow.api_fastapi.execution_api.routes.xcoms import (
        GetXComSliceFilterParams,
        get_mapped_xcom_by_slice,
    )
    from airflow.models.taskinstance import TaskInstance
    from airflow.serialization.definitions.assets import SerializedAsset

    bound = structlog.contextvars.get_contextvars()
    session = settings.NonScopedSession()
    try:
        dag = bag.get_dag_for_run(dag_run=dag_run, session=session)
        tis = [ti for ti in dag_run.get_task_instances(session=session) if dag.has_task(ti.task_id)]
        if not tis:
            return
        tasks = {ti.task_id: dag.get_task(ti.task_id) for ti in tis}
        lineage = [ti for ti in tis if tasks[ti.task_id].inlets or tasks[ti.task_id].outlets]
        if lineage:  # a task without inlets/outlets never asks
            validate_inlets_and_outlets(task_instance_id=lineage[0].id, session=session, dag_bag=bag)
            session.rollback()
        get_mapped_xcom_by_slice(
            dag_id=dag_run.dag_id,
            run_id=dag_run.run_id,
            task_id=tis[0].task_id,
            key="return_value",
            params=GetXComSliceFilterParams(),
            session=session,
        )
        session.rollback()
        for ti in lineage:
            outlets = [a.asprofile() for a in tasks[ti.task_id].outlets if isinstance(a, SerializedAsset)]
            if outlets:  # the listener calls it returns are dropped: no listener hears of it
                TaskInstance.register_asset_changes_in_db(ti, outlets, [], session=session)
                break
    finally:  # the check binds the task instance's id for its log lines: not for the children
        session.rollback()
        session.close()
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(**bound)


def _routes(app: Any) -> list[Any]:
    """The routes a task's requests reach: the unversioned ones and those of the API version the Task
    SDK asks for (Cadwyn's router for it; every version's when that is not one of the app's)."""
    from airflow.sdk.api.datamodels._generated import API_VERSION

    router = app.router
    versioned = getattr(router, "versioned_routers", None)
    if versioned is None:  # a plain FastAPI router
        return list(router.routes)
    routes = list(getattr(router, "unversioned_routes", ()))
    for version in [API_VERSION] if API_VERSION in versioned else list(versioned):
        routes += list(versioned[version].routes)
    return routes


def _locate_endpoints(routes: list[Any]) -> None:
    """Fill FastAPI's per-process cache of endpoint source locations for ``routes``."""
    try:
        from fastapi.routing import _extract_endpoint_context as locate
    except ImportError:  # a FastAPI without the cache has nothing to warm
        return
    for route in routes:
        dependant = getattr(route, "dependant", None)
        if dependant is not None and dependant.call is not None:
            locate(dependant.call)


def _analyse_dependencies(app: Any, routes: list[Any]) -> None:
    """Make FastAPI's ``get_dependant`` keep its result per arguments (once per process), then make
    the analyses a request to each of ``routes`` makes, as ``solve_dependencies`` makes them."""
    from fastapi.dependencies import utils

    if not getattr(utils.get_dependant, "azml_kept", False):
        utils.get_dependant = _kept(utils.get_dependant)
    overrides = app.dependency_overrides

    def walk(dependant: Any) -> None:
        for sub in dependant.dependencies:
            call = overrides.get(sub.call, sub.call)
            walk(
                utils.get_dependant(
                    path=sub.path,
                    call=call,
                    name=sub.name,
                    parent_oauth_scopes=sub.oauth_scopes,
                    scope=sub.scope,
                )
            )

    for route in routes:
        dependant = getattr(route, "dependant", None)
        try:
            if dependant is not None:
                walk(dependant)
        except Exception:  # noqa: BLE001 - a request to it makes (and reports) the analysis itself
            continue


def _parameter_models(routes: list[Any]) -> None:
    """Build the fields of every parameter model (one pydantic model for a route's query, headers...)
    that ``routes`` and their dependencies read; FastAPI keeps them per process."""
    from fastapi.dependencies import utils
    from pydantic import BaseModel

    fields_of = getattr(utils, "get_cached_model_fields", None)
    if fields_of is None:
        return

    def walk(dependant: Any) -> None:
        for params in (
            dependant.path_params,
            dependant.query_params,
            dependant.header_params,
            dependant.cookie_params,
        ):
            model = params[0].field_info.annotation if len(params) == 1 else None
            if isinstance(model, type) and issubclass(model, BaseModel):
                fields_of(model)
        for sub in dependant.dependencies:
            walk(sub)

    for route in routes:
        dependant = getattr(route, "dependant", None)
        if dependant is not None:
            walk(dependant)


def _kept(analyse: Callable[..., Any]) -> Callable[..., Any]:
    known: dict[tuple[Any, ...], Any] = {}

    @functools.wraps(analyse)
    def get_dependant(**kwargs: Any) -> Any:
        key = tuple(
            (name, tuple(value) if isinstance(value, list) else value)
            for name, value in sorted(kwargs.items())
        )
        try:
            return known[key]
        except KeyError:
            pass
        except TypeError:  # an unhashable dependency: analysed every time, as FastAPI does
            return analyse(**kwargs)
        known[key] = dependant = analyse(**kwargs)
        return dependant

    get_dependant.azml_kept = True  # type: ignore[attr-defined]
    return get_dependant
