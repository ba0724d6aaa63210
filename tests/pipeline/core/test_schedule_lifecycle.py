"""Schedules after creation, as the v1 notebooks drive them: update (rename, new recurrence, status),
equal names, schedules of a PipelineEndpoint (they follow its default version), and what the
deployment's loader renders for them."""

from __future__ import annotations

import pytest

from airflow_azml.exceptions import UserErrorException
from airflow_azml.pipeline.core import PipelineEndpoint, Schedule, ScheduleRecurrence
from airflow_azml.pipeline.core.published_loader import load_published_dags, write_loader


@pytest.fixture
def published(one_step_pipeline, monkeypatch):
    for var in ("AZML_AIRFLOW_URL", "AZML_AIRFLOW_USERNAME", "AZML_AIRFLOW_PASSWORD"):
        monkeypatch.delenv(var, raising=False)
    ws, pipeline = one_step_pipeline
    return ws, pipeline, pipeline.publish(name="p")


def test_update_renames_and_reschedules_under_the_same_id(published):
    ws, _, pub = published
    every_other_day = ScheduleRecurrence(frequency="Day", interval=2, hours=[22], minutes=[30])
    sched = Schedule.create(
        ws, name="My_Schedule", pipeline_id=pub.id, experiment_name="e", recurrence=every_other_day
    )
    sched.disable(wait_for_provisioning=True)
    assert Schedule.get(ws, sched.id).status == "Disabled"
    sched.update(
        name="My_Updated_Schedule",
        description="Updated",
        status="Active",
        recurrence=ScheduleRecurrence(frequency="Hour", interval=2),
        pipeline_parameters={"n": 4},
    )
    got = Schedule.get(ws, sched.id)
    assert (got.id, got.name, got.description, got.status) == (
        sched.id,
        "My_Updated_Schedule",
        "Updated",
        "Active",
    )
    assert got.recurrence == ScheduleRecurrence("Hour", 2) and got._entry["pipeline_parameters"] == {"n": 4}
    # the name is free again; the new schedule gets an id of its own
    again = Schedule.create(
        ws, "My_Schedule", pipeline_id=pub.id, experiment_name="e", recurrence=every_other_day
    )
    assert (
        again.id == "azml_sched__My_Schedule_2" and Schedule.get(ws, sched.id).name == "My_Updated_Schedule"
    )
    with pytest.raises(UserErrorException, match="cannot become a datastore schedule"):
        got.update(datastore=ws.get_default_datastore())
    with pytest.raises(UserErrorException, match="status must be 'Active' or 'Disabled'"):
        got.update(status="Paused")


def test_datastore_schedule_update_checks_the_parameter(published):
    ws, _, pub = published
    sched = Schedule.create(
        ws, "watch", pipeline_id=pub.id, experiment_name="e", datastore=ws.get_default_datastore()
    )
    sched.update(polling_interval=10, path_on_datastore="incoming", data_path_parameter_name="n")
    got = Schedule.get(ws, "watch")
    assert (got.polling_interval, got.path_on_datastore, got.data_path_parameter_name) == (
        10,
        "incoming",
        "n",
    )
    with pytest.raises(UserErrorException, match="has no parameter 'nope'"):
        got.update(data_path_parameter_name="nope")


def test_endpoint_schedule_follows_the_default_version(published, workspace_dir, monkeypatch):
    ws, pipeline, pub = published
    endpoint = PipelineEndpoint.publish(ws, "ep", "d", pub)
    sched = Schedule.create_for_pipeline_endpoint(
        workspace=ws,
        name="My_Endpoint_Schedule",
        pipeline_endpoint_id=endpoint.id,
        experiment_name="e",
        recurrence=ScheduleRecurrence(frequency="Day", interval=2, hours=[22], minutes=[30]),
    )
    assert sched.pipeline_endpoint_id == endpoint.id and sched.pipeline_id == pub.id
    found = Schedule.get_schedules_for_pipeline_endpoint_id(ws, pipeline_endpoint_id=endpoint.id)
    assert [s.id for s in found] == [sched.id]
    assert [s.id for s in Schedule.get_schedules_for_pipeline_id(ws, pub.id)] == [
        sched.id
    ]  # what it runs now
    newer = pipeline.publish(name="p")
    endpoint.add_default(newer)
    assert Schedule.get(ws, sched.id).pipeline_id == newer.id
    assert Schedule.get_schedules_for_pipeline_id(ws, pub.id) == []
    with pytest.raises(UserErrorException, match="No PipelineEndpoint with id 'missing'"):
        Schedule.create_for_pipeline_endpoint(
            ws, "x", "missing", "e", recurrence=ScheduleRecurrence("Hour", 1)
        )

    loader = str(write_loader(workspace_dir))
    monkeypatch.delenv("_AIRFLOW_PARSING_CONTEXT_DAG_ID", raising=False)
    dag = load_published_dags(loader)[f"dag_{sched.id}"]
    assert type(dag.timetable).__name__ == "RecurrenceTimetable" and dag.task_ids == ["a"]
    monkeypatch.setenv("_AIRFLOW_PARSING_CONTEXT_DAG_ID", sched.id)
    assert list(load_published_dags(loader)) == [f"dag_{sched.id}"]
