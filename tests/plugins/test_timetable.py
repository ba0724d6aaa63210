"""RecurrenceTimetable through Airflow: registered by the plugin, serialized with a DAG and read back
as the scheduler reads it, and its next_dagrun_info gives the recurrence's fire times."""

from __future__ import annotations

from datetime import UTC, datetime

import pendulum
import pytest

from airflow_azml.pipeline.core import Pipeline, ScheduleRecurrence
from airflow_azml.pipeline.steps import PythonScriptStep
from tests.conftest import write


def _serialized_dag(workspace_dir, recurrence: ScheduleRecurrence):
    from airflow.serialization.serialized_objects import DagSerialization

    from airflow_azml.core import Workspace

    ws = Workspace.from_config(workspace_dir)
    write(workspace_dir / "s" / "a.py", "print(1)\n")
    step = PythonScriptStep("a.py", name="a", source_directory=str(workspace_dir / "s"))
    dag = Pipeline(ws, [step]).to_dag("every_other_day", schedule=recurrence)
    data = DagSerialization.to_dict(dag)
    return dag, data, DagSerialization.from_dict(data)


def test_plugin_registers_the_timetable():
    from airflow import plugins_manager

    from airflow_azml.provider.timetables import RecurrenceTimetable

    assert plugins_manager.get_timetables_plugins()[
        "airflow_azml.provider.timetables.RecurrenceTimetable"
    ] is (RecurrenceTimetable)


def test_every_other_day_round_trips_and_schedules(workspace_dir):
    from airflow.timetables.base import DagRunInfo

    from airflow_azml.provider.timetables import RecurrenceTimetable

    rec = ScheduleRecurrence("Day", 2, hours=[22], minutes=[30], start_time="2030-05-01T09:00:00")
    dag, data, restored = _serialized_dag(workspace_dir, rec)
    assert data["dag"]["timetable"]["__type"] == "airflow_azml.provider.timetables.RecurrenceTimetable"
    assert isinstance(restored.timetable, RecurrenceTimetable) and restored.timetable == dag.timetable
    assert restored.timetable.summary == "every 2 days at 22:30"

    first = restored.next_dagrun_info(last_automated_run_info=None)
    assert first.run_after == datetime(2030, 5, 1, 22, 30, tzinfo=UTC)
    assert first.data_interval.start == first.data_interval.end == first.run_after
    second = restored.next_dagrun_info(last_automated_run_info=first)
    third = restored.next_dagrun_info(last_automated_run_info=DagRunInfo.exact(second.run_after))
    assert [second.run_after, third.run_after] == [
        datetime(2030, 5, 3, 22, 30, tzinfo=UTC),
        datetime(2030, 5, 5, 22, 30, tzinfo=UTC),
    ]


def test_without_start_time_the_first_run_is_now_then_the_recurrence(workspace_dir):
    rec = ScheduleRecurrence("Week", 2, week_days=["Monday"], time_of_day="06:00")
    _, _, restored = _serialized_dag(workspace_dir, rec)
    before = pendulum.now("UTC")
    first = restored.next_dagrun_info(last_automated_run_info=None)
    assert before <= first.run_after <= pendulum.now("UTC")
    second = restored.next_dagrun_info(last_automated_run_info=first)
    assert second.run_after == rec.next_fire_time(first.run_after)
    assert second.run_after.weekday() == 0 and (second.run_after.hour, second.run_after.minute) == (6, 0)


@pytest.mark.parametrize(
    ("recurrence", "kind"),
    [
        (ScheduleRecurrence("Hour", 2), "DeltaTriggerTimetable"),
        (ScheduleRecurrence("Day", 1, hours=[22], minutes=[30]), "CronTriggerTimetable"),
        (ScheduleRecurrence("Day", 2, hours=[22], minutes=[30]), "RecurrenceTimetable"),
    ],
)
def test_airflow_timetables_where_they_can_say_it(recurrence, kind):
    from airflow_azml.provider.timetables import dag_arguments

    args = dag_arguments(recurrence)
    assert type(args["schedule"]).__name__ == kind and args["catchup"] is False
