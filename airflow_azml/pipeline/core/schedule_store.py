"""Schedule entries in the publish registry: ids and keys, the pipeline an entry runs, the
datastore-watch fields, and the run one new or changed blob starts (``blob_run``).

The watch itself (which blobs are new or changed) is ``airflow_azml.data.watch``, run by the
schedule's event trigger in Airflow's triggerer (``airflow_azml.provider.triggers``); the DAG that turns its
events into pipeline runs is ``airflow_azml.provider.timetables.datastore_watcher_dag``. Everything here is
pure registry code, no Airflow.
"""

from __future__ import annotations

import hashlib
from typing import Any

from airflow_azml.core import registry
from airflow_azml.core.registry import KINDS
from airflow_azml.core.registry import safe_id as _safe
from airflow_azml.exceptions import UserErrorException

__all__ = [
    "blob_run",
    "schedule_key",
    "scheduled_pipeline_id",
    "free_schedule_id",
    "datastore_fields",
    "schedule_options",
    "SCHEDULE_ID_PREFIX",
    "SCHEDULES_PREFIX",
]

SCHEDULES_PREFIX = KINDS["schedules"]
SCHEDULE_ID_PREFIX = "azml_sched__"  # + the schedule's key in the registry = its DAG id


def schedule_key(entry: dict[str, Any]) -> str:
    """The schedule's file name in the registry (its id without the prefix): stays when it is renamed."""
    return str(entry.get("id") or f"{SCHEDULE_ID_PREFIX}{_safe(entry['name'])}")[len(SCHEDULE_ID_PREFIX) :]


def blob_run(schedule: dict[str, Any], rel: str, version: str) -> dict[str, Any]:
    """TriggerDagRunOperator kwargs (run id + conf) of the run for one blob version.

    The run id is derived from the schedule, the blob's path and its version: the same version
    never starts two runs (the trigger uses ``skip_when_already_exists``), whatever repeats an event.
    """
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
    return {"trigger_run_id": f"sched_{schedule_key(schedule)}__{digest}", "conf": conf}


def scheduled_pipeline_id(workspace: Any, entry: dict[str, Any]) -> str | None:
    """The published pipeline a schedule runs now: its own, or its endpoint's default version."""
    if not entry.get("pipeline_endpoint_id"):
        return entry.get("pipeline_id")
    endpoint = registry.read(workspace, "endpoints", entry["pipeline_endpoint_id"])
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
    base, n = f"{SCHEDULE_ID_PREFIX}{_safe(name)}", 1
    ident = base
    while registry.exists(workspace, "schedules", ident[len(SCHEDULE_ID_PREFIX) :]):
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
