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
from collections.abc import Callable
from typing import Any

__all__ = ["warm_task_api"]


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
