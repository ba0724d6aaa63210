"""Schedule and ScheduleRecurrence: v1's schedules as Airflow timetables and watcher DAGs.

Two ways in, both with v1's names:

* In a DAG file (no I/O at parse time): pass the recurrence as the schedule,
  ``pipeline.to_dag("my_pipe", schedule=ScheduleRecurrence(frequency="Hour", interval=2))``.
  The renderer turns it into DAG arguments with ``airflow_azml.provider.timetables.dag_arguments``.
* From a notebook, unchanged v1 code: ``Schedule.create(ws, name, pipeline_id=..., experiment_name=...,
  recurrence=...)`` (or ``create_for_pipeline_endpoint``: each run uses the endpoint's default
  version) writes ``.azml/published/schedules/<key>.json``; the deployment's loader DAG file renders
  the DAG ``azml_sched__<key>`` (the schedule's id, kept when it is renamed): the pipeline's steps on
  the recurrence's timetable, or a datastore watcher (``schedule_store.py``) that triggers the
  pipeline once per new or changed blob in ``path_on_datastore``.

Mapping of a recurrence (``airflow_azml.provider.timetables.dag_arguments``): a fixed period ->
``DeltaTriggerTimetable``; fixed times with interval 1 -> ``CronTriggerTimetable`` in ``time_zone``;
fixed times with interval > 1 (every other day at 22:30) -> ``RecurrenceTimetable``, registered by
the plugin. No ``start_time`` -> the first run starts at once; with one, runs start from it.
"""

from __future__ import annotations

import json
from typing import Any

from airflow_azml.core import registry
from airflow_azml.core._orchestrator import airflow_side, orchestrator
from airflow_azml.exceptions import UserErrorException
from airflow_azml.pipeline.core._entry import RegistryEntry
from airflow_azml.pipeline.core.recurrence import ScheduleRecurrence, TimeZone
from airflow_azml.pipeline.core.schedule_store import (
    SCHEDULE_ID_PREFIX,
    blob_run,
    datastore_fields,
    free_schedule_id,
    schedule_options,
    scheduled_pipeline_id,
)
from airflow_azml.pipeline.core.schedule_store import schedule_key as _key

__all__ = [
    "Schedule",
    "ScheduleRecurrence",
    "TimeZone",
    "schedule_dags",
    "blob_run",
    "SCHEDULE_ID_PREFIX",
]


class Schedule(RegistryEntry):
    """A schedule of a published pipeline: recurrence-based, or datastore-based (one run per new blob)."""

    def __init__(self, workspace: Any, entry: dict[str, Any]):
        super().__init__(workspace, entry)
        self.id: str = entry["id"]

    @property
    def experiment_name(self) -> str:
        return str(self._entry["experiment_name"])

    @property
    def pipeline_endpoint_id(self) -> str | None:
        """Set for a schedule of a PipelineEndpoint: each run uses the endpoint's default version then."""
        return self._entry.get("pipeline_endpoint_id")

    @property
    def pipeline_id(self) -> str | None:
        """The published pipeline the schedule runs (for an endpoint schedule: its current default)."""
        return scheduled_pipeline_id(self._workspace, self._entry)

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
        from airflow_azml.pipeline.core.published import PublishedPipeline

        published = PublishedPipeline.get(workspace, pipeline_id)
        args = schedule_options(
            recurrence,
            description,
            pipeline_parameters,
            datastore,
            polling_interval,
            data_path_parameter_name,
            continue_on_step_failure,
            path_on_datastore,
        )
        return cls._create(workspace, name, {"pipeline_id": pipeline_id}, published, experiment_name, args)

    @classmethod
    def create_for_pipeline_endpoint(
        cls,
        workspace: Any,
        name: str,
        pipeline_endpoint_id: str,
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
        """A schedule of a PipelineEndpoint: every run uses the endpoint's default version at that time."""
        from airflow_azml.pipeline.core.pipeline_endpoint import PipelineEndpoint

        endpoint = PipelineEndpoint.get(workspace, id=pipeline_endpoint_id)
        target = {"pipeline_id": None, "pipeline_endpoint_id": endpoint.id}
        args = schedule_options(
            recurrence,
            description,
            pipeline_parameters,
            datastore,
            polling_interval,
            data_path_parameter_name,
            continue_on_step_failure,
            path_on_datastore,
        )
        return cls._create(workspace, name, target, endpoint.get_pipeline(), experiment_name, args)

    @classmethod
    def _create(
        cls, workspace: Any, name: str, target: dict, published: Any, experiment_name: str, args: dict
    ) -> Schedule:
        recurrence, datastore = args["recurrence"], args["datastore"]
        if (recurrence is None) == (datastore is None):
            raise UserErrorException(f"Schedule {name!r}: give exactly one of recurrence= or datastore=.")
        entry = {
            "id": free_schedule_id(workspace, name),
            "name": name,
            **target,
            "experiment_name": experiment_name,
            "description": args["description"],
            "status": "Active",
            "pipeline_parameters": dict(args["pipeline_parameters"] or {}),
            "continue_on_step_failure": args["continue_on_step_failure"],
            "recurrence": recurrence.to_dict() if recurrence else None,
        }
        entry.update(datastore_fields(name, published, datastore, args))
        schedule = cls(workspace, entry)
        schedule._save()
        return schedule

    def _save(self) -> None:
        registry.write(self._workspace, "schedules", _key(self._entry), self._entry)

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
        items = [cls(workspace, e) for e in registry.entries(workspace, "schedules")]
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

    @classmethod
    def get_schedules_for_pipeline_endpoint_id(
        cls, workspace: Any, pipeline_endpoint_id: str, **_: Any
    ) -> list[Schedule]:
        return [
            s
            for s in cls.list(workspace, active_only=False)
            if s.pipeline_endpoint_id == pipeline_endpoint_id
        ]

    def update(
        self,
        name: str | None = None,
        description: str | None = None,
        recurrence: ScheduleRecurrence | None = None,
        pipeline_parameters: dict | None = None,
        status: str | None = None,
        wait_for_provisioning: bool = False,
        wait_timeout: int = 3600,
        datastore: Any = None,
        polling_interval: int | None = None,
        data_path_parameter_name: str | None = None,
        continue_on_step_failure: bool | None = None,
        path_on_datastore: str | None = None,
    ) -> None:
        """Change what is given; the id (and so the DAG id) stays. The loader's next parse applies it."""
        if (recurrence is not None and self.datastore_name) or (datastore is not None and self.recurrence):
            raise UserErrorException(
                f"Schedule {self.name!r}: a recurrence schedule cannot become a datastore schedule or back; "
                "create a new schedule instead."
            )
        if status is not None and status not in ("Active", "Disabled"):
            raise UserErrorException(f"Schedule {self.name!r}: status must be 'Active' or 'Disabled'.")
        changes = {
            "name": name,
            "description": description,
            "recurrence": recurrence.to_dict() if recurrence is not None else None,
            "pipeline_parameters": pipeline_parameters,
            "continue_on_step_failure": continue_on_step_failure,
        }
        if datastore is not None or any(
            v is not None for v in (polling_interval, data_path_parameter_name, path_on_datastore)
        ):
            from airflow_azml.pipeline.core.published import PublishedPipeline

            args = {
                "datastore": datastore if datastore is not None else self.datastore_name,
                "polling_interval": polling_interval or self.polling_interval,
                "data_path_parameter_name": data_path_parameter_name or self.data_path_parameter_name,
                "path_on_datastore": path_on_datastore
                if path_on_datastore is not None
                else self.path_on_datastore,
            }
            published = PublishedPipeline.get(self._workspace, str(self.pipeline_id))
            changes.update(datastore_fields(self.name, published, args["datastore"], args))
        self._entry.update({k: v for k, v in changes.items() if v is not None})
        self._save()
        if status is not None and status != self.status:
            self._set_status(status)

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
        from airflow_azml.pipeline.core.published import PublishedPipeline
        from airflow_azml.pipeline.core.run import PipelineRun

        port = orchestrator(self._workspace, "rest")
        plan = PublishedPipeline.get(self._workspace, self.pipeline_id).plan
        if self.datastore_name:
            runs = [r for r in port.list_runs(self.pipeline_id) if r.run_id().startswith(self._run_prefix())]
        else:
            plan["dag_id"] = self.dag_id
            runs = port.list_runs(self.dag_id)
        experiment = self._workspace._experiment(self.experiment_name)
        return [PipelineRun(experiment, r.run_id(), backend=r, plan=plan) for r in runs]

    def get_last_pipeline_run(self) -> Any:
        runs = self.get_pipeline_runs()
        return runs[0] if runs else None

    def _run_prefix(self) -> str:
        return f"sched_{_key(self._entry)}__"

    def __repr__(self) -> str:
        return f"Schedule(name={self.name!r}, pipeline_id={self.pipeline_id!r}, status={self.status!r})"


def schedule_dags(
    workspace: Any, pipelines: dict[str, dict[str, Any]], entries: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The DAG of every schedule in ``entries`` (default: the registry) whose pipeline is published
    (imports Airflow)."""
    dags: dict[str, Any] = {}
    for listed in registry.entries(workspace, "schedules") if entries is None else entries:
        entry = {**listed, "pipeline_id": scheduled_pipeline_id(workspace, listed)}
        published = pipelines.get(entry["pipeline_id"])
        if published is None:
            continue
        if entry.get("recurrence"):
            dag = _recurrence_dag(entry, published)
        else:
            dag = airflow_side("datastore_watcher_dag")(entry, workspace)
        dags[f"dag_{entry['id']}"] = dag
    return dags


def _recurrence_dag(entry: dict[str, Any], published: dict[str, Any]) -> Any:
    render_dag = airflow_side("render_dag")
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
