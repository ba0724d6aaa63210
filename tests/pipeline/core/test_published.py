"""Publishing into the registry on the default datastore, PipelineEndpoint versions, and the
conversion of v1's submit body into an Airflow run conf."""

from __future__ import annotations

import pytest

from airflow_azml.exceptions import UserErrorException
from airflow_azml.pipeline.core import PublishedPipeline
from airflow_azml.pipeline.core.published import v1_body_to_conf


def test_publish_writes_a_versioned_entry_with_its_plan(one_step_pipeline):
    ws, pipeline = one_step_pipeline
    first = pipeline.publish(name="train pipe", description="d")
    second = pipeline.publish(name="train pipe")
    assert (first.id, first.version, second.id, second.version) == (
        "train_pipe-v1",
        "1",
        "train_pipe-v2",
        "2",
    )
    assert first.plan["dag_id"] == "train_pipe-v1" and first.plan["parameters"]["n"]["default"] == 1
    assert first.status == "Active" and first.endpoint.endswith("/PipelineRuns/PipelineSubmit/train_pipe-v1")
    again = pipeline.publish(name="train pipe", version="2")  # as v1: the same label again, another id
    assert (again.id, again.version) == ("train_pipe-v2_2", "2")
    assert pipeline.publish(name="train pipe", version="2").id == "train_pipe-v2_3"
    assert [p.id for p in PublishedPipeline.list(ws)] == [
        "train_pipe-v1",
        "train_pipe-v2",
        "train_pipe-v2_2",
        "train_pipe-v2_3",
    ]
    first.disable()
    assert [p.id for p in PublishedPipeline.list(ws)] == [
        "train_pipe-v2",
        "train_pipe-v2_2",
        "train_pipe-v2_3",
    ]
    assert PublishedPipeline.get(ws, "train_pipe-v1").status == "Disabled"
    with pytest.raises(UserErrorException, match="disabled"):
        PublishedPipeline.get(ws, "train_pipe-v1").submit(ws, "exp")
    with pytest.raises(UserErrorException, match="No published pipeline 'nope'"):
        PublishedPipeline.get(ws, "nope")


def test_v1_body_becomes_conf():
    conf, experiment = v1_body_to_conf(
        {
            "ExperimentName": "exp",
            "ParameterAssignments": {"n": 3},
            "DataPathAssignments": {"src": {"DataStoreName": "blob", "RelativePath": "raw/a.csv"}},
        }
    )
    assert experiment == "exp"
    assert conf == {
        "n": 3,
        "src": {"datastore": "blob", "path_on_datastore": "raw/a.csv"},
        "azml_experiment": "exp",
    }
    with pytest.raises(UserErrorException, match="DataPathAssignments"):
        v1_body_to_conf({"DataPathAssignments": {"src": "blob/raw"}})


def test_run_from_a_workspace_without_airflow_names_the_settings(one_step_pipeline, monkeypatch):
    for var in ("AZML_AIRFLOW_URL", "AZML_AIRFLOW_USERNAME", "AZML_AIRFLOW_PASSWORD"):
        monkeypatch.delenv(var, raising=False)
    ws, pipeline = one_step_pipeline
    with pytest.raises(Exception, match="AZML_AIRFLOW_URL"):
        pipeline.publish(name="q").submit(ws, "exp")


def test_loader_renders_every_entry_but_a_task_process_reads_only_its_own(
    one_step_pipeline, workspace_dir, monkeypatch
):
    """The dag-processor's parse lists the registry; a task's parse (Airflow's parsing context names
    the DAG) reads that DAG's entries alone, not the whole registry at every task start."""
    from airflow_azml.data.stores.local import LocalStore
    from airflow_azml.pipeline.core import Schedule, ScheduleRecurrence
    from airflow_azml.pipeline.core.published_loader import load_published_dags, write_loader

    ws, pipeline = one_step_pipeline
    first, second = pipeline.publish(name="p"), pipeline.publish(name="p")
    Schedule.create(
        ws, "hourly", pipeline_id=second.id, experiment_name="e", recurrence=ScheduleRecurrence("Hour", 1)
    )
    loader = str(write_loader(workspace_dir))
    monkeypatch.delenv("_AIRFLOW_PARSING_CONTEXT_DAG_ID", raising=False)
    assert sorted(load_published_dags(loader)) == ["dag_azml_sched__hourly", "dag_p-v1", "dag_p-v2"]

    reads, listings = [], []
    real_read, real_list = LocalStore.read_bytes, LocalStore.list_files
    monkeypatch.setattr(LocalStore, "read_bytes", lambda self, rel: reads.append(rel) or real_read(self, rel))
    monkeypatch.setattr(
        LocalStore, "list_files", lambda self, rel="": listings.append(rel) or real_list(self, rel)
    )
    monkeypatch.setenv("_AIRFLOW_PARSING_CONTEXT_DAG_ID", first.id)
    dags = load_published_dags(loader)
    assert list(dags) == ["dag_p-v1"] and dags["dag_p-v1"].dag_id == "p-v1"
    assert listings == [] and reads == [".azml/published/pipelines/p-v1.json"]

    reads.clear()
    monkeypatch.setenv("_AIRFLOW_PARSING_CONTEXT_DAG_ID", "azml_sched__hourly")
    dags = load_published_dags(loader)
    assert list(dags) == ["dag_azml_sched__hourly"] and listings == []
    assert reads == [".azml/published/schedules/hourly.json", ".azml/published/pipelines/p-v2.json"]

    monkeypatch.setenv("_AIRFLOW_PARSING_CONTEXT_DAG_ID", "../../etc/passwd")
    assert load_published_dags(loader) == {}


def test_loader_files_deployed_before_the_split_still_import():
    from airflow_azml.pipeline.core import published, published_loader

    assert published.load_published_dags is published_loader.load_published_dags
    assert published.write_loader is published_loader.write_loader
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        published.nope  # noqa: B018
