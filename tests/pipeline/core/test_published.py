"""Publishing into the registry on the default datastore, PipelineEndpoint versions, and the
conversion of v1's submit body into an Airflow run conf."""

from __future__ import annotations

import pytest

from airflow_azml.exceptions import UserErrorException
from airflow_azml.pipeline.core import PipelineEndpoint, PublishedPipeline
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
    with pytest.raises(UserErrorException, match="already published"):
        pipeline.publish(name="train pipe", version="2")
    assert [p.id for p in PublishedPipeline.list(ws)] == ["train_pipe-v1", "train_pipe-v2"]
    first.disable()
    assert [p.id for p in PublishedPipeline.list(ws)] == ["train_pipe-v2"]
    assert PublishedPipeline.get(ws, "train_pipe-v1").status == "Disabled"
    with pytest.raises(UserErrorException, match="disabled"):
        PublishedPipeline.get(ws, "train_pipe-v1").submit(ws, "exp")
    with pytest.raises(UserErrorException, match="No published pipeline 'nope'"):
        PublishedPipeline.get(ws, "nope")


def test_endpoint_versions_and_default(one_step_pipeline):
    ws, pipeline = one_step_pipeline
    one, two = pipeline.publish(name="p"), pipeline.publish(name="p")
    ep = PipelineEndpoint.publish(ws, "ep", "endpoint", one)
    assert ep.add(two) == "1" and ep.default_version == "0"
    ep = PipelineEndpoint.get(ws, name="ep")
    assert ep.get_pipeline().id == one.id and ep.get_pipeline("1").id == two.id
    ep.set_default_version("1")
    assert PipelineEndpoint.get(ws, name="ep").get_pipeline().id == two.id
    assert ep.list_versions() == [
        {"version": "0", "pipeline_id": one.id},
        {"version": "1", "pipeline_id": two.id},
    ]
    with pytest.raises(UserErrorException, match="no version '7'"):
        ep.set_default_version(7)
    with pytest.raises(UserErrorException, match="must be a PublishedPipeline"):
        ep.add(pipeline)


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
