"""Airflow-side schedule code: the timetables of v1 recurrences and the datastore watcher DAG.

``dag_arguments(recurrence)`` is what a ``ScheduleRecurrence`` (or a ``Schedule``) becomes on a DAG:
Airflow's ``DeltaTriggerTimetable`` for a fixed period, its ``CronTriggerTimetable`` for fixed times
with interval 1, and ``RecurrenceTimetable`` (registered by the airflow-azml plugin, so that the
scheduler can deserialize it) for what cron cannot say, such as every other day at 22:30. The
fire-time arithmetic is ``ScheduleRecurrence.next_fire_time`` (pure, in the v1 model).

The watcher DAG of a datastore schedule is scheduled on the Asset of the schedule's folder. The
asset's watcher, ``airflow_azml.provider.triggers.DatastoreChangeTrigger`` in Airflow's triggerer, lists the
folder (no subfolders) every ``polling_interval`` minutes and fires one asset event per new or
changed blob, none when nothing changed; each run of the DAG triggers the published pipeline once
per blob event it was triggered by (Airflow may fold several events into one run), with the blob
passed as the DataPath parameter. Each trigger uses a run id derived from the blob's path and
version, and ``skip_when_already_exists``: a blob version never starts two runs, even if an event
is repeated (a trigger restarted before its state was kept).
"""

from __future__ import annotations

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
    """The DAG ``entry['id']``: scheduled on the Asset of ``entry['path_on_datastore']``, whose watcher
    (``airflow_azml.provider.triggers.DatastoreChangeTrigger`` in the triggerer) fires one event per new or
    changed blob; each run starts ``entry['pipeline_id']`` once per event it was triggered by."""
    # deferred: the plugin imports this module in every Airflow process, the watcher is rarely needed
    from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator

    from airflow_azml.pipeline.core.schedule_store import schedule_key
    from airflow_azml.provider.triggers import folder_asset

    key = schedule_key(entry)
    asset = folder_asset(
        workspace,
        entry["datastore"],
        entry.get("path_on_datastore") or "",
        poll_interval=60.0 * int(entry.get("polling_interval") or 5),
        watcher=f"azml_sched_{key}",
    )
    with DAG(
        dag_id=entry["id"],
        schedule=[asset],
        start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
        catchup=False,
        is_paused_upon_creation=entry.get("status") != "Active",
        tags=["azml", "azml-schedule"],
        doc_md=f"Datastore schedule **{entry['name']}**: one run of `{entry['pipeline_id']}` per new or changed "
        f"blob in `{entry['datastore']}/{entry.get('path_on_datastore') or ''}` (asset `{asset.name}`, "
        "watched by the triggerer).",
    ) as dag:

        @task(task_id="blob_runs", inlets=[asset])
        def blob_runs(**context: Any) -> list[dict[str, Any]]:
            """One pipeline run per blob event not handled yet (see _pending_events)."""
            from airflow_azml.pipeline.core.schedule_store import blob_run

            events, until = _pending_events(context, asset)
            context["ti"].xcom_push(key="until", value=until)
            out, done = [], set()
            for event in events:
                payload = (event.extra or {}).get("payload") or {}
                if payload.get("path") and (payload["path"], payload.get("version")) not in done:
                    done.add((payload["path"], payload.get("version")))
                    out.append(blob_run(entry, payload["path"], str(payload.get("version"))))
            return out

        @task(task_id="record_handled", inlets=[asset], trigger_rule="none_failed")
        def record_handled(**context: Any) -> None:
            """Once every run is started: the events up to here are handled."""
            until = context["ti"].xcom_pull(task_ids="blob_runs", key="until")
            if until:
                context["asset_state_store"][asset].set(_HANDLED_KEY, until)

        triggers = TriggerDagRunOperator.partial(
            task_id="trigger_pipeline",
            trigger_dag_id=entry["pipeline_id"],
            skip_when_already_exists=True,
            logical_date=None,
        ).expand_kwargs(blob_runs())
        triggers >> record_handled()
    return dag


_HANDLED_KEY = "azml_handled_until"


def _pending_events(context: Any, asset: Any) -> tuple[list[Any], str | None]:
    """(the asset's events after the last one a run of this DAG handled, the newest one's timestamp).

    Not only the events that triggered this run: when two events arrive together Airflow may start
    one run for the first and fold the second into the queue entry it has just consumed, so that
    no run is ever triggered by it. Reading every event since the last handled one (kept in the
    asset state store) picks such an event up in this run; repeats start nothing (the run ids).
    """
    store = context.get("asset_state_store")
    try:
        after = store[asset].get(_HANDLED_KEY) if store is not None else None
    except (KeyError, TypeError):
        store, after = None, None
    if store is None:  # no state store (an older Airflow): what triggered this run
        events = list(context["triggering_asset_events"].get(asset, []))
    else:
        accessor = context["inlet_events"][asset]
        events = list(accessor.after(after) if after else accessor)
    until = max((e.timestamp for e in events), default=None)
    return events, until.isoformat() if until is not None else after
