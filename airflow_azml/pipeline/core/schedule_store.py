"""Schedule entries in the publish registry: ids and keys, the pipeline an entry runs, the
datastore-watch fields, and the watch itself (which blobs in the folder are new or changed).

``new_blobs`` / ``record_seen`` run inside the watcher DAG's tasks
(``airflow_azml.timetables.datastore_watcher_dag``); everything here is pure registry and
datastore code, no Airflow.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from airflow_azml.exceptions import UserErrorException
from airflow_azml.pipeline.core.published import _safe

__all__ = [
    "new_blobs",
    "record_seen",
    "schedule_key",
    "scheduled_pipeline_id",
    "free_schedule_id",
    "datastore_fields",
    "schedule_options",
    "SCHEDULE_ID_PREFIX",
    "SCHEDULES_PREFIX",
]

SCHEDULES_PREFIX = ".azml/published/schedules"
SCHEDULE_ID_PREFIX = "azml_sched__"  # + the schedule's key in the registry = its DAG id


def schedule_key(entry: dict[str, Any]) -> str:
    """The schedule's file name in the registry (its id without the prefix): stays when it is renamed."""
    return str(entry.get("id") or f"{SCHEDULE_ID_PREFIX}{_safe(entry['name'])}")[len(SCHEDULE_ID_PREFIX) :]


def new_blobs(workspace: Any, schedule: dict[str, Any]) -> list[dict[str, Any]]:
    """Trigger kwargs (run id + conf) for each blob directly in the folder that is new or changed."""
    store = workspace._require_datastore(schedule["datastore"]).store
    folder = schedule["path_on_datastore"] or ""
    seen = _seen(workspace, schedule)
    prefix = f"{folder}/" if folder else ""
    out = []
    for rel in store.list_files(folder) if store.exists(folder) else []:
        if "/" in rel[len(prefix) :] or rel.rsplit("/", 1)[-1].startswith("."):
            continue
        version = store.version(rel)
        if seen.get(rel) == version:
            continue
        digest = hashlib.sha256(f"{rel}\0{version}".encode()).hexdigest()[:20]
        conf = {
            **schedule.get("pipeline_parameters", {}),
            "azml_experiment": schedule["experiment_name"],
            "azml_blob_version": version,
        }
        if schedule.get("data_path_parameter_name"):
            conf[schedule["data_path_parameter_name"]] = {
                "datastore": schedule["datastore"],
                "path_on_datastore": rel,
            }
        if schedule.get("continue_on_step_failure") is not None:
            conf["continue_on_step_failure"] = schedule["continue_on_step_failure"]
        out.append({"trigger_run_id": f"sched_{schedule_key(schedule)}__{digest}", "conf": conf})
    return out


def _seen_path(schedule: dict[str, Any]) -> str:
    return f"{SCHEDULES_PREFIX}/{schedule_key(schedule)}/seen.json"


def _seen(workspace: Any, schedule: dict[str, Any]) -> dict[str, str]:
    store = workspace.get_default_datastore().store
    rel = _seen_path(schedule)
    return json.loads(store.read_bytes(rel)) if store.exists(rel) else {}


def record_seen(workspace: Any, schedule: dict[str, Any], found: list[dict[str, Any]]) -> None:
    """Remember the blob versions just triggered (Airflow's unique run ids guard against repeats too)."""
    seen = _seen(workspace, schedule)
    for item in found:
        key = schedule.get("data_path_parameter_name")
        path = item["conf"][key]["path_on_datastore"] if key else None
        if path:
            seen[path] = item["conf"]["azml_blob_version"]
    workspace.get_default_datastore().store.write_bytes(
        _seen_path(schedule), json.dumps(seen, indent=1).encode()
    )


def scheduled_pipeline_id(workspace: Any, entry: dict[str, Any]) -> str | None:
    """The published pipeline a schedule runs now: its own, or its endpoint's default version."""
    if not entry.get("pipeline_endpoint_id"):
        return entry.get("pipeline_id")
    from airflow_azml.pipeline.core.published import REGISTRY_PREFIX, _read

    endpoint = _read(workspace, f"{REGISTRY_PREFIX}/endpoints/{_safe(entry['pipeline_endpoint_id'])}.json")
    return None if endpoint is None else endpoint["versions"][str(endpoint["default_version"])]


def schedule_options(*values: Any) -> dict[str, Any]:
    """The optional arguments of Schedule.create / create_for_pipeline_endpoint, by name."""
    names = (
        "recurrence description pipeline_parameters datastore polling_interval "
        "data_path_parameter_name continue_on_step_failure path_on_datastore"
    ).split()
    return dict(zip(names, values, strict=True))


def free_schedule_id(workspace: Any, name: str) -> str:
    """``azml_sched__<name>``, with a number added when another schedule holds that id (v1 allows equal names)."""
    store = workspace.get_default_datastore().store
    base, n = f"{SCHEDULE_ID_PREFIX}{_safe(name)}", 1
    ident = base
    while store.exists(f"{SCHEDULES_PREFIX}/{ident[len(SCHEDULE_ID_PREFIX) :]}.json"):
        n += 1
        ident = f"{base}_{n}"
    return ident


def datastore_fields(name: str, published: Any, datastore: Any, args: dict[str, Any]) -> dict[str, Any]:
    """The datastore-watch part of a schedule entry, checked against the pipeline it runs."""
    from airflow_azml.data.stores import check_relative

    polling_interval, parameter = args["polling_interval"], args["data_path_parameter_name"]
    if datastore is not None and (not isinstance(polling_interval, int) or polling_interval < 1):
        raise UserErrorException(
            f"Schedule {name!r}: polling_interval must be a whole number of minutes >= 1."
        )
    if parameter and parameter not in published.plan["parameters"]:
        raise UserErrorException(
            f"Schedule {name!r}: the pipeline {published.id!r} has no parameter "
            f"{parameter!r} (data_path_parameter_name)."
        )
    return {
        "datastore": getattr(datastore, "name", datastore),
        "polling_interval": polling_interval,
        "path_on_datastore": check_relative(args["path_on_datastore"]) if datastore is not None else None,
        "data_path_parameter_name": parameter,
    }
