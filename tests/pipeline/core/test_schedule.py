"""ScheduleRecurrence: v1's validation rules and the Airflow timetable each recurrence becomes;
Schedule.create/list/get in the publish registry."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from airflow_azml.core import Workspace
from airflow_azml.exceptions import UserErrorException
from airflow_azml.pipeline.core import Pipeline, Schedule, ScheduleRecurrence
from airflow_azml.pipeline.steps import PythonScriptStep
from tests.conftest import write


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"frequency": "Second", "interval": 1}, "frequency must be one of"),
        ({"frequency": "Hour", "interval": 0}, "interval must be an integer >= 1"),
        (
            {"frequency": "Hour", "interval": 1, "hours": [3]},
            "hours and minutes can be given only when frequency is Day or Week",
        ),
        ({"frequency": "Minute", "interval": 5, "minutes": [3]}, "only when frequency is Day or Week"),
        (
            {"frequency": "Day", "interval": 1, "week_days": ["Monday"]},
            "week_days can be given only when frequency is Week",
        ),
        ({"frequency": "Week", "interval": 1, "week_days": ["Funday"]}, "week day 'Funday'"),
        ({"frequency": "Day", "interval": 1, "hours": [24]}, "hour 24 is not in 0..23"),
        (
            {"frequency": "Week", "interval": 1, "time_of_day": "7:30", "hours": [7]},
            "either time_of_day or hours",
        ),
        ({"frequency": "Month", "interval": 1, "time_of_day": "07:30"}, "time_of_day can be given only"),
    ],
)
def test_invalid_recurrences_are_refused(kwargs, message):
    with pytest.raises(UserErrorException, match=message):
        ScheduleRecurrence(**kwargs)


def test_fixed_times_become_cron_in_the_time_zone():
    from airflow_azml.provider.timetables import dag_arguments

    rec = ScheduleRecurrence(
        frequency="Week",
        interval=1,
        week_days=["Monday", "Sunday"],
        hours=[6, 18],
        minutes=[30],
        time_zone="PacificStandardTime",
    )
    assert rec.cron() == "30 6,18 * * 1,0"
    table = dag_arguments(rec)["schedule"]
    assert type(table).__name__ == "CronTriggerTimetable"
    assert str(table.timezone) == "America/Los_Angeles" and table.expression == "30 6,18 * * 1,0"
    assert ScheduleRecurrence("Day", 1, time_of_day="07:05").cron() == "5 7 * * *"


def test_intervals_become_deltas_and_no_start_time_runs_at_once():
    from airflow_azml.provider.timetables import dag_arguments

    table = dag_arguments(ScheduleRecurrence(frequency="Minute", interval=15))["schedule"]
    assert type(table).__name__ == "DeltaTriggerTimetable"
    assert table.delta == timedelta(minutes=15)
    args = dag_arguments(ScheduleRecurrence(frequency="Hour", interval=2))
    assert (
        args["start_date"] < datetime(2025, 1, 1, tzinfo=args["start_date"].tzinfo)
        and args["catchup"] is False
    )
    assert ScheduleRecurrence("Month", 3).delta().months == 3


def test_start_time_is_read_in_the_time_zone():
    rec = ScheduleRecurrence(frequency="Day", interval=1, start_time="2030-05-01T08:00:00", time_zone="UTC")
    assert rec.anchor().isoformat() == "2030-05-01T08:00:00+00:00"


def test_to_dag_takes_a_recurrence_as_the_schedule(workspace_dir):
    ws = Workspace.from_config(workspace_dir)
    write(workspace_dir / "s" / "a.py", "print(1)\n")
    step = PythonScriptStep("a.py", name="a", source_directory=str(workspace_dir / "s"))
    dag = Pipeline(ws, [step]).to_dag("every_two_hours", schedule=ScheduleRecurrence("Hour", 2))
    assert type(dag.timetable).__name__ == "DeltaTriggerTimetable" and dag.catchup is False


def test_schedule_create_list_get_and_refusals(one_step_pipeline):
    ws, pipeline = one_step_pipeline
    published = pipeline.publish(name="p", version="1")
    with pytest.raises(UserErrorException, match="exactly one of recurrence= or datastore="):
        Schedule.create(ws, "none", pipeline_id=published.id, experiment_name="e")
    with pytest.raises(UserErrorException, match="no parameter 'missing'"):
        Schedule.create(
            ws,
            "d",
            pipeline_id=published.id,
            experiment_name="e",
            datastore=ws.get_default_datastore(),
            path_on_datastore="in",
            data_path_parameter_name="missing",
        )
    sched = Schedule.create(
        ws,
        "hourly",
        pipeline_id=published.id,
        experiment_name="e",
        recurrence=ScheduleRecurrence("Hour", 1),
        pipeline_parameters={"n": 5},
    )
    assert sched.dag_id == "azml_sched__hourly"
    got = Schedule.get(ws, "hourly")
    assert got.recurrence.frequency == "Hour" and got.status == "Active" and got.pipeline_id == published.id
    got.disable()  # no Airflow configured: the registry alone changes
    assert Schedule.list(ws) == [] and [s.name for s in Schedule.list(ws, active_only=False)] == ["hourly"]


def test_datastore_watch_fires_per_new_and_changed_blob_on_azurite(azml_home, tmp_path, monkeypatch):
    """The schedule's event trigger on a real Azure Blob API (Azurite): one event per new or changed
    blob directly in the folder (one listing per look, by ETag), none when nothing changed; each
    event's run id is made of the blob's path and ETag. The live-Airflow run is in tests/system."""
    import asyncio
    import json

    from airflow_azml.pipeline.core.schedule import blob_run
    from airflow_azml.provider.triggers import DatastoreChangeTrigger, _watch_spec
    from tests.support.azurite import AzuriteServer, blob_datastore, require_azurite

    require_azurite()
    with AzuriteServer() as azurite:
        for key, value in azurite.airflow_conn_env("azml_watch", "wasb").items():
            monkeypatch.setenv(key, value)
        container = azurite.create_container("watched")
        (tmp_path / "config.json").write_text(
            json.dumps(
                {
                    "workspace_name": "w",
                    "datastores": {"blob": blob_datastore("watched", "azml_watch")},
                }
            )
        )
        ws = Workspace.from_config(tmp_path)
        for name, text in (("in/a.csv", "1"), ("in/b.csv", "22"), ("in/sub/c.csv", "333")):
            container.upload_blob(name, text.encode())
        entry = {
            "name": "watch",
            "datastore": "blob",
            "path_on_datastore": "in",
            "experiment_name": "e",
            "data_path_parameter_name": "data",
            "pipeline_parameters": {"n": 2},
        }
        trigger = DatastoreChangeTrigger(_watch_spec(ws.to_spec(), "blob"), "blob", "in", "blobs", 0.1)

        async def watch() -> tuple[list[dict], list[dict]]:
            gen = trigger.run()
            first = [(await asyncio.wait_for(gen.__anext__(), 30)).payload for _ in range(2)]
            with pytest.raises(TimeoutError):  # nothing changed: no event
                await asyncio.wait_for(gen.__anext__(), 1.0)
            gen = DatastoreChangeTrigger(**trigger.serialize()[1]).run()  # no state kept: all again
            again = [(await asyncio.wait_for(gen.__anext__(), 30)).payload for _ in range(2)]
            container.upload_blob("in/a.csv", b"changed", overwrite=True)
            changed = (await asyncio.wait_for(gen.__anext__(), 30)).payload
            await gen.aclose()
            assert again == first
            return first, [changed]

        found, changed = asyncio.run(watch())
        assert [f["path"] for f in found] == ["in/a.csv", "in/b.csv"] and all(f["version"] for f in found)
        assert [c["path"] for c in changed] == ["in/a.csv"] and changed[0]["version"] != found[0]["version"]
        runs = [blob_run(entry, f["path"], f["version"]) for f in found + changed]
        assert runs[0]["conf"]["data"] == {"datastore": "blob", "path_on_datastore": "in/a.csv"}
        assert all(r["conf"]["n"] == 2 and r["trigger_run_id"].startswith("sched_watch__") for r in runs)
        assert len({r["trigger_run_id"] for r in runs}) == 3  # a's new ETag is a new run
