"""Schedule and ScheduleRecurrence: v1's schedules as Airflow timetables and watcher DAGs.

Two ways in, both with v1's names:

* In a DAG file (no I/O at parse time): pass the recurrence as the schedule,
  ``pipeline.to_dag("my_pipe", schedule=ScheduleRecurrence(frequency="Hour", interval=2))``.
  The renderer turns it into DAG arguments with ``airflow_azml.timetables.dag_arguments``.
* From a notebook, unchanged v1 code: ``Schedule.create(ws, name, pipeline_id=published.id,
  experiment_name=..., recurrence=...)`` writes the schedule to the publish registry
  (``.azml/published/schedules/<name>.json``); the deployment's loader DAG file (see
  ``published.py``) then renders the DAG ``azml_sched__<name>``: for a recurrence, the published
  pipeline's steps on that timetable (its runs are the schedule's runs); for a datastore
  schedule, a watcher that lists ``path_on_datastore`` every ``polling_interval`` minutes and
  triggers the published pipeline once per new or changed blob, with run id
  ``sched_<name>__<hash of path and version>`` — Airflow refuses a second run with that id, so
  no blob version is ever triggered twice, and the versions seen are kept on the datastore.

Mapping of a recurrence (``airflow_azml.timetables.dag_arguments``): a fixed period ->
``DeltaTriggerTimetable``; fixed times with interval 1 -> ``CronTriggerTimetable`` in ``time_zone``;
fixed times with interval > 1 (every other day at 22:30) -> ``RecurrenceTimetable``, registered by
the plugin. No ``start_time`` -> the first run starts at once; with one, runs start from it.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from airflow_azml.exceptions import UserErrorException
from airflow_azml.pipeline.core.recurrence import ScheduleRecurrence, TimeZone, _safe

__all__ = [
    "Schedule",
    "ScheduleRecurrence",
    "TimeZone",
    "schedule_dags",
    "new_blobs",
    "record_seen",
    "SCHEDULE_ID_PREFIX",
]

_PREFIX = ".azml/published/schedules"
SCHEDULE_ID_PREFIX = "azml_sched__"  # + the schedule's file name in the registry = its DAG id


class Schedule:
    """A schedule of a published pipeline: recurrence-based, or datastore-based (one run per new blob)."""

    def __init__(self, workspace: Any, entry: dict[str, Any]):
        self._workspace = workspace
        self._entry = entry
        self.name: str = entry["name"]
        self.id: str = entry["id"]
        self.pipeline_id: str = entry["pipeline_id"]
        self.experiment_name: str = entry["experiment_name"]
        self.description: str | None = entry.get("description")

    @property
    def status(self) -> str:
        return str(self._entry.get("status", "Active"))

    @property
    def recurrence(self) -> ScheduleRecurrence | None:
        rec = self._entry.get("recurrence")
        return ScheduleRecurrence(**rec) if rec else None

    @property
    def datastore_name(self) -> str | None:
        return self._entry.get("datastore")

    @property
    def path_on_datastore(self) -> str | None:
        return self._entry.get("path_on_datastore")

    @property
    def polling_interval(self) -> int:
        return int(self._entry.get("polling_interval") or 5)

    @property
    def data_path_parameter_name(self) -> str | None:
        return self._entry.get("data_path_parameter_name")

    @property
    def dag_id(self) -> str:
        """The Airflow DAG that carries out this schedule."""
        return self.id

    @classmethod
    def create(
        cls,
        workspace: Any,
        name: str,
        pipeline_id: str,
        experiment_name: str,
        recurrence: ScheduleRecurrence | None = None,
        description: str | None = None,
        pipeline_parameters: dict | None = None,
        wait_for_provisioning: bool = False,
        wait_timeout: int = 3600,
        datastore: Any = None,
        polling_interval: int = 5,
        data_path_parameter_name: str | None = None,
        continue_on_step_failure: bool | None = None,
        path_on_datastore: str | None = None,
        **_: Any,
    ) -> Schedule:
        """Record a schedule in the publish registry; the deployment's loader turns it into a DAG."""
        from airflow_azml.data.stores import check_relative
        from airflow_azml.pipeline.core.published import PublishedPipeline

        if (recurrence is None) == (datastore is None):
            raise UserErrorException(f"Schedule {name!r}: give exactly one of recurrence= or datastore=.")
        if datastore is not None and (not isinstance(polling_interval, int) or polling_interval < 1):
            raise UserErrorException(
                f"Schedule {name!r}: polling_interval must be a whole number of minutes >= 1."
            )
        published = PublishedPipeline.get(workspace, pipeline_id)
        if data_path_parameter_name and data_path_parameter_name not in published.plan["parameters"]:
            raise UserErrorException(
                f"Schedule {name!r}: the pipeline {pipeline_id!r} has no parameter "
                f"{data_path_parameter_name!r} (data_path_parameter_name)."
            )
        entry = {
            "id": f"{SCHEDULE_ID_PREFIX}{_safe(name)}",
            "name": name,
            "pipeline_id": pipeline_id,
            "experiment_name": experiment_name,
            "description": description,
            "status": "Active",
            "pipeline_parameters": dict(pipeline_parameters or {}),
            "continue_on_step_failure": continue_on_step_failure,
            "recurrence": recurrence.to_dict() if recurrence else None,
            "datastore": getattr(datastore, "name", datastore),
            "polling_interval": polling_interval,
            "path_on_datastore": check_relative(path_on_datastore) if datastore is not None else None,
            "data_path_parameter_name": data_path_parameter_name,
        }
        schedule = cls(workspace, entry)
        schedule._save()
        return schedule

    def _save(self) -> None:
        self._workspace.get_default_datastore().store.write_bytes(
            f"{_PREFIX}/{_safe(self.name)}.json", json.dumps(self._entry, indent=1, default=str).encode()
        )

    @classmethod
    def get(cls, workspace: Any, id: str, **_: Any) -> Schedule:
        for sched in cls.list(workspace, active_only=False):
            if id in (sched.id, sched.name):
                return sched
        raise UserErrorException(f"No schedule {id!r} in workspace {workspace.name!r}.")

    @classmethod
    def list(
        cls, workspace: Any, active_only: bool = True, pipeline_id: str | None = None, **_: Any
    ) -> list[Schedule]:
        from airflow_azml.pipeline.core.published import _entries

        items = [cls(workspace, e) for e in _entries(workspace, "schedules")]
        return sorted(
            [
                s
                for s in items
                if (s.status == "Active" or not active_only)
                and (pipeline_id is None or s.pipeline_id == pipeline_id)
            ],
            key=lambda s: s.name,
        )

    @classmethod
    def get_schedules_for_pipeline_id(cls, workspace: Any, pipeline_id: str, **_: Any) -> list[Schedule]:
        return cls.list(workspace, active_only=False, pipeline_id=pipeline_id)

    def _set_status(self, status: str) -> None:
        from airflow_azml.pipeline.core.published import _set_paused

        self._entry["status"] = status
        self._save()
        _set_paused(self._workspace, self.dag_id, status != "Active")

    def enable(self, wait_for_provisioning: bool = False, wait_timeout: int = 3600) -> None:
        self._set_status("Active")

    def disable(self, wait_for_provisioning: bool = False, wait_timeout: int = 3600) -> None:
        self._set_status("Disabled")

    def get_pipeline_runs(self) -> list[Any]:
        """Runs this schedule started, newest first (through the REST API)."""
        from airflow_azml.client.remote import RestBackend
        from airflow_azml.client.rest import AirflowRestClient
        from airflow_azml.core.experiment import Experiment
        from airflow_azml.pipeline.core.published import PublishedPipeline
        from airflow_azml.pipeline.core.run import PipelineRun

        client = AirflowRestClient.from_workspace(self._workspace)
        plan = PublishedPipeline.get(self._workspace, self.pipeline_id).plan
        if self.datastore_name:
            runs = [
                r
                for r in client.list_runs(self.pipeline_id)
                if r["dag_run_id"].startswith(self._run_prefix())
            ]
        else:
            plan["dag_id"] = self.dag_id
            runs = client.list_runs(self.dag_id) if client.get_dag(self.dag_id) else []
        experiment = Experiment(self._workspace, self.experiment_name)
        return [
            PipelineRun(
                experiment,
                r["dag_run_id"],
                backend=RestBackend(client, r["dag_id"], r["dag_run_id"]),
                plan=plan,
            )
            for r in runs
        ]

    def get_last_pipeline_run(self) -> Any:
        runs = self.get_pipeline_runs()
        return runs[0] if runs else None

    def _run_prefix(self) -> str:
        return f"sched_{_safe(self.name)}__"

    def __repr__(self) -> str:
        return f"Schedule(name={self.name!r}, pipeline_id={self.pipeline_id!r}, status={self.status!r})"


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
        out.append({"trigger_run_id": f"sched_{_safe(schedule['name'])}__{digest}", "conf": conf})
    return out


def _seen_path(schedule: dict[str, Any]) -> str:
    return f"{_PREFIX}/{_safe(schedule['name'])}/seen.json"


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


def schedule_dags(
    workspace: Any, pipelines: dict[str, dict[str, Any]], entries: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The DAG of every schedule in ``entries`` (default: the registry) whose pipeline is published
    (imports Airflow)."""
    from airflow_azml.pipeline.core.published import _entries

    dags: dict[str, Any] = {}
    for entry in _entries(workspace, "schedules") if entries is None else entries:
        published = pipelines.get(entry["pipeline_id"])
        if published is None:
            continue
        if entry.get("recurrence"):
            dag = _recurrence_dag(entry, published)
        else:
            from airflow_azml.timetables import datastore_watcher_dag

            dag = datastore_watcher_dag(entry, workspace)
        dags[f"dag_{entry['id']}"] = dag
    return dags


def _recurrence_dag(entry: dict[str, Any], published: dict[str, Any]) -> Any:
    from airflow_azml.operators.render import render_dag

    plan = json.loads(json.dumps(published["plan"]))
    plan["dag_id"] = entry["id"]
    for name, value in entry.get("pipeline_parameters", {}).items():
        if name in plan["parameters"]:
            plan["parameters"][name]["default"] = value
    return render_dag(
        plan,
        schedule=ScheduleRecurrence(**entry["recurrence"]),
        is_paused_upon_creation=entry.get("status") != "Active",
        tags=["azml", "azml-schedule"],
    )
