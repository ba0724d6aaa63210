"""PipelineEndpoint in the publish registry: publishing from a Pipeline or a PublishedPipeline, versions
and the default, renaming, statuses, the REST URL, and what submitting says without an Airflow."""

from __future__ import annotations

import pytest

from airflow_azml.core import Experiment
from airflow_azml.exceptions import UserErrorException, WorkspaceConfigError
from airflow_azml.pipeline.core import PipelineEndpoint, PublishedPipeline


@pytest.fixture
def no_airflow(monkeypatch):
    for var in ("AZML_AIRFLOW_URL", "AZML_AIRFLOW_USERNAME", "AZML_AIRFLOW_PASSWORD"):
        monkeypatch.delenv(var, raising=False)


def test_publishing_a_pipeline_publishes_it_first(one_step_pipeline):
    ws, pipeline = one_step_pipeline
    ep = PipelineEndpoint.publish(
        workspace=ws, name="nightly", pipeline=pipeline, description="the nightly run"
    )
    first = ep.get_pipeline()
    assert isinstance(first, PublishedPipeline) and first.name == "nightly"
    assert ep.get_default_version() == "0" and ep.status == "Active"
    assert PublishedPipeline.get(ws, first.id).plan["steps"].keys() == {"a"}
    with pytest.raises(UserErrorException, match="A PipelineEndpoint named 'nightly' exists"):
        PipelineEndpoint.publish(ws, "nightly", "again", pipeline)


def test_versions_default_and_lookups(one_step_pipeline):
    ws, pipeline = one_step_pipeline
    one, two, three = (pipeline.publish(name="p") for _ in range(3))
    ep = PipelineEndpoint.publish(ws, "ep", "endpoint", one)
    assert ep.add(two) == "1" and ep.get_default_version() == "0"
    assert ep.add_default(three) == "2" and ep.get_pipeline().id == three.id
    ep.set_default(two)
    assert PipelineEndpoint.get(ws, name="ep").get_pipeline().id == two.id
    ep.set_default_version("0")
    by_id = PipelineEndpoint.get(workspace=ws, id=ep.id)
    assert by_id.name == "ep" and by_id.get_pipeline().id == one.id and by_id.get_pipeline(2).id == three.id
    assert [(v.version, v.pipeline_id, v.pipeline.id) for v in ep.list_versions()] == [
        ("0", one.id, one.id),
        ("1", two.id, two.id),
        ("2", three.id, three.id),
    ]
    two.disable()
    assert [p.id for p in ep.list_pipelines()] == [one.id, three.id]
    assert [p.id for p in ep.list_pipelines(active_only=False)] == [one.id, two.id, three.id]
    with pytest.raises(UserErrorException, match=r"no version '7'; versions: \['0', '1', '2'\]"):
        ep.set_default_version(7)
    with pytest.raises(UserErrorException, match="must be a PublishedPipeline"):
        ep.add(pipeline)
    with pytest.raises(UserErrorException, match="has no version with pipeline 'other-v1'"):
        ep.set_default(pipeline.publish(name="other"))
    with pytest.raises(
        UserErrorException, match=r"No PipelineEndpoint with name 'nope'.*endpoints: \['ep'\]"
    ):
        PipelineEndpoint.get(ws, name="nope")


def test_rename_keeps_the_id_and_the_url(one_step_pipeline, monkeypatch):
    monkeypatch.setenv("AZML_AIRFLOW_URL", "http://airflow.example:8080/")
    ws, pipeline = one_step_pipeline
    ep = PipelineEndpoint.publish(ws, "old", "d", pipeline.publish(name="p"))
    url = ep.endpoint
    assert (
        url
        == f"http://airflow.example:8080/azml/pipelines/v1.0/PipelineRuns/PipelineEndpointSubmit/Id/{ep.id}"
    )
    ep.set_name(name="new")
    renamed = PipelineEndpoint.get(ws, name="new")
    assert renamed.id == ep.id and renamed.endpoint == url
    # v1 notebooks build the by-name URL from the by-id one
    assert url.split("Id", 1)[0] + "Name?name=new" == (
        "http://airflow.example:8080/azml/pipelines/v1.0/PipelineRuns/PipelineEndpointSubmit/Name?name=new"
    )
    with pytest.raises(UserErrorException, match="No PipelineEndpoint with name 'old'"):
        PipelineEndpoint.get(ws, name="old")


def test_statuses_disable_archive_reactivate(one_step_pipeline, no_airflow):
    ws, pipeline = one_step_pipeline
    ep = PipelineEndpoint.publish(ws, "ep", "d", pipeline.publish(name="p"))
    ep.disable()
    assert PipelineEndpoint.list(ws) == [] and [
        e.name for e in PipelineEndpoint.list(ws, active_only=False)
    ] == ["ep"]
    with pytest.raises(UserErrorException, match="'ep' is disabled; call enable"):
        ep.submit("exp")
    ep.enable()
    ep.archive()
    assert PipelineEndpoint.list(ws, active_only=False) == []
    replacement = PipelineEndpoint.publish(ws, "ep", "the name is free again", pipeline.publish(name="q"))
    archived = PipelineEndpoint.get(ws, id=ep.id)
    assert archived.status == "Archived"
    with pytest.raises(UserErrorException, match="named 'ep' exists"):
        archived.reactivate()
    archived.reactivate(name="ep_old")
    assert sorted(e.name for e in PipelineEndpoint.list(ws)) == ["ep", "ep_old"]
    assert PipelineEndpoint.get(ws, name="ep").id == replacement.id


def test_submitting_without_an_airflow_names_the_settings(one_step_pipeline, no_airflow):
    ws, pipeline = one_step_pipeline
    ep = PipelineEndpoint.publish(ws, "ep", "d", pipeline)
    with pytest.raises(WorkspaceConfigError, match="AZML_AIRFLOW_URL"):
        ep.submit("exp", pipeline_version="0")
    with pytest.raises(WorkspaceConfigError, match="AZML_AIRFLOW_URL"):
        Experiment(ws, "exp").submit(ep, tags={"t": "1"}, pipeline_version="0")
    with pytest.raises(UserErrorException, match="no version '3'"):
        Experiment(ws, "exp").submit(ep, pipeline_version="3")


def test_rest_header_without_settings_names_the_variable_to_set(monkeypatch, no_airflow):
    """What a notebook's REST cells meet first: the header call says which setting is missing."""
    from airflow_azml.core.authentication import InteractiveLoginAuthentication

    with pytest.raises(WorkspaceConfigError, match="set AZML_AIRFLOW_URL, AZML_AIRFLOW_USERNAME"):
        InteractiveLoginAuthentication().get_authentication_header()
    monkeypatch.setenv("AZML_AIRFLOW_URL", "http://127.0.0.1:9")
    with pytest.raises(WorkspaceConfigError, match="AZML_AIRFLOW_USERNAME / AZML_AIRFLOW_PASSWORD"):
        InteractiveLoginAuthentication().get_authentication_header()
