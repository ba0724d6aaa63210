"""PipelineDraft in the workspace registry: create (checked when made), list by tags, get, update,
publish, delete, drafts of a published pipeline or of a run, and a draft's run on the embedded Airflow."""

from __future__ import annotations

import pytest

from airflow_azml.exceptions import UserErrorException
from airflow_azml.pipeline.core import Pipeline, PipelineDraft, PipelineParameter, PublishedPipeline
from airflow_azml.pipeline.steps import PythonScriptStep
from tests.conftest import write


def _draft(ws, pipeline, **kwargs):
    args = {
        "name": "TestPipelineDraft",
        "description": "draft description",
        "experiment_name": "pipeline_draft_sample",
        "pipeline": pipeline,
        "continue_on_step_failure": True,
        "tags": {"dev": "true"},
        "properties": {"train": "value"},
    }
    return PipelineDraft.create(ws, **{**args, **kwargs})


def test_create_list_get(one_step_pipeline):
    ws, pipeline = one_step_pipeline
    draft = _draft(ws, pipeline, pipeline_parameters={"n": "7"})
    other = _draft(ws, pipeline, name="Other", tags={"dev": "false"})
    assert [d.id for d in PipelineDraft.list(ws, tags={"dev": "true"})] == [draft.id]
    assert [d.id for d in PipelineDraft.list(ws)] == [draft.id, other.id]
    got = PipelineDraft.get(ws, id=draft.id)
    assert (got.name, got.description, got.experiment_name) == (
        "TestPipelineDraft",
        "draft description",
        "pipeline_draft_sample",
    )
    assert got.pipeline_parameters == {"n": 7}  # checked against the parameter's type and kept as such
    assert got.continue_on_step_failure is True and got.properties == {"train": "value"}
    assert got.get_graph() == {"a": []} and "TestPipelineDraft" in str(got)
    with pytest.raises(UserErrorException, match=r"No PipelineDraft 'nope'"):
        PipelineDraft.get(ws, id="nope")


def test_bad_input_is_refused_when_the_draft_is_made(one_step_pipeline):
    ws, pipeline = one_step_pipeline
    with pytest.raises(UserErrorException, match="Unknown pipeline parameter 'm'"):
        _draft(ws, pipeline, pipeline_parameters={"m": 1})
    with pytest.raises(UserErrorException, match="experiment_name 'bad name!' is invalid"):
        _draft(ws, pipeline, experiment_name="bad name!")
    with pytest.raises(UserErrorException, match="needs a Pipeline"):
        _draft(ws, "not a pipeline")
    assert PipelineDraft.list(ws) == []


def test_update_publish_delete(one_step_pipeline, workspace_dir):
    ws, pipeline = one_step_pipeline
    draft = _draft(ws, pipeline)
    write(workspace_dir / "t" / "train.py", "print(2)\n")
    new_step = PythonScriptStep(
        "train.py",
        name="New_Training_Step",
        source_directory=str(workspace_dir / "t"),
        arguments=["--k", PipelineParameter("k", 3)],
    )
    draft.update(
        name="UpdatedPipelineDraft", description="has updated train step", pipeline=Pipeline(ws, [new_step])
    )
    got = PipelineDraft.get(ws, draft.id)
    assert got.name == "UpdatedPipelineDraft" and list(got.plan["steps"]) == ["New_Training_Step"]
    assert got.tags == {"dev": "true"} and got.experiment_name == "pipeline_draft_sample"  # untouched
    with pytest.raises(UserErrorException, match="Unknown pipeline parameter 'n'"):
        got.update(pipeline_parameters={"n": 1})  # 'n' belonged to the old pipeline
    published = got.publish()
    assert isinstance(published, PublishedPipeline) and published.name == "UpdatedPipelineDraft"
    assert PublishedPipeline.get(ws, published.id).plan["steps"].keys() == {"New_Training_Step"}
    assert published.continue_on_step_failure is True
    got.delete()
    assert PipelineDraft.list(ws) == []
    assert PublishedPipeline.get(ws, published.id).id == published.id  # publishing outlives the draft


def test_draft_of_a_published_pipeline(one_step_pipeline):
    ws, pipeline = one_step_pipeline
    published = pipeline.publish(name="p", description="the published one", continue_on_step_failure=False)
    draft = PipelineDraft.create_from_published_pipeline(
        ws, published, experiment_name="exp", tags={"a": "1"}
    )
    assert (draft.name, draft.description, draft.continue_on_step_failure) == (
        "p",
        "the published one",
        False,
    )
    assert draft.plan["steps"].keys() == published.plan["steps"].keys()
    assert draft.parent_pipeline_id == published.id and draft.parent_pipeline_run_id is None
    assert draft.publish().id == "p-v2"


@pytest.mark.slow
def test_submit_run_runs_the_draft_and_a_draft_of_that_run(embedded_airflow_home, one_step_pipeline):
    ws, pipeline = one_step_pipeline
    draft = _draft(ws, pipeline, pipeline_parameters={"n": 5})
    run = draft.submit_run()
    assert run.wait_for_completion(show_output=False) == "Finished"
    assert run.experiment.name == "pipeline_draft_sample"
    assert PipelineDraft.get(ws, draft.id).last_submitted_pipeline_run_id == run.id
    assert run.find_step_run("a")[0].record["parameters"]["n"] == 5
    again = PipelineDraft.create_from_run(ws, run, name="from_run")
    assert again.experiment_name == "pipeline_draft_sample" and again.plan["steps"].keys() == {"a"}
    assert again.parent_pipeline_run_id == run.id
