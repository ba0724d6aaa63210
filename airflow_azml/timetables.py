"""Airflow-side schedule code: the timetables of v1 recurrences and the datastore watcher DAG.

``dag_arguments(recurrence)`` is what a ``ScheduleRecurrence`` (or a ``Schedule``) becomes on a DAG:
Airflow's ``DeltaTriggerTimetable`` for a fixed period, its ``CronTriggerTimetable`` for fixed times
with interval 1, and ``RecurrenceTimetable`` (registered by the airflow-azml plugin, so that the
scheduler can deserialize it) for what cron cannot say, such as every other day at 22:30. The
fire-time arithmetic is ``ScheduleRecurrence.next_fire_time`` (pure, in the v1 model).

The watcher DAG of a datastore schedule: every ``polling_interval`` minutes it lists the
schedule's folder (no subfolders) on the datastore, then triggers the published pipeline once per
new or changed blob with the blob passed as the DataPath parameter. Each trigger uses a run id
derived from the blob's path and version, and ``skip_when_already_exists``: Airflow itself
guarantees a blob version never starts two runs, even if recording the seen versions failed.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import DAG, CronTriggerTimetable, DeltaTriggerTimetable, task
from airflow.timetables.base import DagRunInfo, DataInterval, TimeRestriction, Timetable

from airflow_azml.exceptions import UserErrorException
from airflow_azml.pipeline.core.recurrence import ScheduleRecurrence

__all__ = ["RecurrenceTimetable", "dag_arguments", "datastore_watcher_dag"]


class RecurrenceTimetable(Timetable):
    """A v1 ``ScheduleRecurrence`` as an Airflow timetable: one run at each of its fire times.

    Runs are trigger-style (an exact data interval at the fire time). Without a start_time the
    first run starts at once, as in v1; missed fire times are not caught up unless ``catchup``.
    """

    def __init__(self, recurrence: ScheduleRecurrence | dict[str, Any]):
        self.recurrence = (
            recurrence if isinstance(recurrence, ScheduleRecurrence) else ScheduleRecurrence(**recurrence)
        )
        self.description = f"v1 recurrence: {self.recurrence.describe()}"

    @property
    def summary(self) -> str:
        return self.recurrence.describe()

    def serialize(self) -> dict[str, Any]:
        return {"recurrence": self.recurrence.to_dict()}

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> RecurrenceTimetable:
        return cls(data["recurrence"])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RecurrenceTimetable) and self.recurrence == other.recurrence

    def __hash__(self) -> int:
        return hash(self.recurrence)

    def infer_manual_data_interval(self, *, run_after: pendulum.DateTime) -> DataInterval:
        return DataInterval.exact(run_after)

    def next_dagrun_info(
        self, *, last_automated_data_interval: DataInterval | None, restriction: TimeRestriction
    ) -> DagRunInfo | None:
        rec, now = self.recurrence, pendulum.now("UTC")
        if last_automated_data_interval is None and rec.start_time is None:
            at = now  # v1: without a start_time the first run starts at once
        else:
            if last_automated_data_interval is not None:
                after, inclusive = last_automated_data_interval.end, False
            else:
                after, inclusive = restriction.earliest or rec.anchor(), True
            if not restriction.catchup and after < now:
                after, inclusive = now, False
            at = rec.next_fire_time(after, inclusive=inclusive)
        if restriction.latest is not None and at > restriction.latest:
            return None
        return DagRunInfo.exact(pendulum.instance(at))


def dag_arguments(schedule: Any) -> dict[str, Any]:
    """The DAG arguments (schedule, start_date, catchup=False) of a ScheduleRecurrence or a Schedule."""
    rec: ScheduleRecurrence = schedule if isinstance(schedule, ScheduleRecurrence) else schedule.recurrence
    if rec is None:
        raise UserErrorException(
            f"{schedule!r} is a datastore schedule: it runs as the loader's watcher DAG, not as a DAG's schedule."
        )
    start = pendulum.instance(rec.anchor())
    kind = rec.timetable_kind()
    if kind == "delta":
        table: Any = DeltaTriggerTimetable(rec.delta())
    elif kind == "cron":
        table = CronTriggerTimetable(
            rec.cron(), timezone=rec.timezone_name, run_immediately=rec.start_time is None
        )
    else:
        table = RecurrenceTimetable(rec)
    return {"schedule": table, "start_date": start, "catchup": False}


def datastore_watcher_dag(entry: dict[str, Any], workspace: Any) -> DAG:
    """The DAG ``entry['id']`` that polls ``entry['path_on_datastore']`` and triggers ``entry['pipeline_id']``."""
    # deferred: the plugin imports this module in every Airflow process, the watcher is rarely needed
    from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator

    spec = workspace.to_spec()
    with DAG(
        dag_id=entry["id"],
        schedule=DeltaTriggerTimetable(timedelta(minutes=int(entry.get("polling_interval") or 5))),
        start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
        catchup=False,
        max_active_runs=1,
        is_paused_upon_creation=entry.get("status") != "Active",
        tags=["azml", "azml-schedule"],
        doc_md=f"Datastore schedule **{entry['name']}**: one run of `{entry['pipeline_id']}` per new or changed "
        f"blob in `{entry['datastore']}/{entry.get('path_on_datastore') or ''}`.",
    ) as dag:

        @task(task_id="find_new_blobs")
        def find_new_blobs() -> list[dict[str, Any]]:
            from airflow_azml.core.workspace import Workspace
            from airflow_azml.pipeline.core.schedule import new_blobs

            return new_blobs(Workspace.from_spec(spec), entry)

        @task(task_id="record_seen", trigger_rule="none_failed")
        def record(found: list[dict[str, Any]]) -> int:
            from airflow_azml.core.workspace import Workspace
            from airflow_azml.pipeline.core.schedule import record_seen

            record_seen(Workspace.from_spec(spec), entry, found)
            return len(found)

        found = find_new_blobs()
        triggers = TriggerDagRunOperator.partial(
            task_id="trigger_pipeline",
            trigger_dag_id=entry["pipeline_id"],
            skip_when_already_exists=True,
            logical_date=None,
        ).expand_kwargs(found)
        triggers >> record(found)
    return dag
