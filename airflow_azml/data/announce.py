"""A version registered from a notebook or driver, announced at once as its Asset's event.

``Dataset.register`` / ``Model.register`` outside a step, with the workspace on a running Airflow
(``airflow.base_url`` or ``AZML_AIRFLOW_URL``), post the new version's asset event over the
orchestrator port when that Airflow knows the asset (an active DAG declares it). The record is
marked ``registered_by.announced_by = "register"`` before it is written, so the registry watch
(``airflow_azml.provider.triggers``) skips it, as it skips a ``register_on_complete`` version (marked
``"task"``). Everywhere else (the embedded local Airflow, a step, an asset no DAG declares) the
record is written unmarked and the watch announces it, as before.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

from airflow_azml.core._home import uses_remote_airflow
from airflow_azml.core._orchestrator import Orchestrator, orchestrator
from airflow_azml.data.watch import registry_asset
from airflow_azml.exceptions import AirflowApiError, WorkspaceConfigError
from airflow_azml.runtime import CONTEXT_ENV

__all__ = ["ANNOUNCED_BY_REGISTER", "write_announced"]

log = logging.getLogger(__name__)

#: ``registered_by.announced_by`` of a version whose event ``register`` posted itself
ANNOUNCED_BY_REGISTER = "register"


def _target(workspace: Any, uri: str) -> tuple[Orchestrator, int] | None:
    """(the running Airflow, the asset's id) when this process should post the event itself."""
    if os.environ.get(CONTEXT_ENV) or not uses_remote_airflow(workspace):
        return None
    port = orchestrator(workspace, "rest")
    try:
        asset_id = port.asset_id(uri)
    except (AirflowApiError, WorkspaceConfigError) as exc:
        log.warning(
            "Could not look up the asset %s on Airflow (%s); the registry watch announces it.", uri, exc
        )
        return None
    if asset_id is None:
        log.debug("No DAG on Airflow declares %s: no asset event for the registered version.", uri)
        return None
    return port, asset_id


def write_announced(
    workspace: Any, kind: str, record: dict[str, Any], write: Callable[[dict[str, Any]], None]
) -> dict[str, Any]:
    """Write ``record`` (a new version of a ``kind`` 'datasets' or 'models') with ``write``, and post its
    asset event when this process is the one to announce it; returns the record as written."""
    names = {"workspace_name": workspace.name, "subscription_id": workspace.subscription_id}
    ref = registry_asset({**names, "resource_group": workspace.resource_group}, kind, record["name"])
    target = _target(workspace, ref.uri)
    if target is None:
        write(record)
        return record
    by = record.get("registered_by") or ({"run_id": record["run_id"]} if record.get("run_id") else {})
    by = {**by, "announced_by": ANNOUNCED_BY_REGISTER}
    marked = {**record, "registered_by": by}
    write(marked)  # marked first: the watch must never see it unmarked and announce it too
    extra = {"kind": kind, "name": record["name"], "version": record["version"], "registered_by": by}
    port, asset_id = target
    try:
        port.post_asset_event(asset_id, extra)
    except (AirflowApiError, WorkspaceConfigError) as exc:
        write(record)  # unmarked: the watch announces it, unless it looked in between
        log.warning(
            "%s %r version %s is registered, but its asset event could not be posted to Airflow (%s); "
            "the registry watch announces it unless it already looked at that version.",
            kind.rstrip("s").capitalize(),
            record["name"],
            record["version"],
            exc,
        )
        return record
    return marked
