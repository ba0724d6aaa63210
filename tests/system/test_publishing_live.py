"""Publishing against a real running Airflow, set up the way a v1 notebook meets it: only the
AZML_AIRFLOW_* variables and a shared AZML_HOME, no workspace file, the deployment's dags folder
holding nothing but the published-pipelines loader (as tools/live_airflow.py sets it up).

Covers: a PipelineEndpoint published from a Pipeline and called over REST at once (by name with a
version, by id) with InteractiveLoginAuthentication's header; Experiment.submit of an endpoint;
a PipelineDraft run there through the loader; a schedule that only our RecurrenceTimetable can
express, parsed by the dag-processor with the next run the recurrence gives."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from airflow_azml.core import Experiment, Workspace
from airflow_azml.core.authentication import InteractiveLoginAuthentication
from airflow_azml.pipeline.core import (
    Pipeline,
    PipelineDraft,
    PipelineEndpoint,
    PipelineParameter,
    Schedule,
    ScheduleRecurrence,
)
from airflow_azml.pipeline.steps import PythonScriptStep
from tests.conftest import write
from tests.support.live_airflow import LiveAirflow
from tests.support.live_notebook import notebook_airflow

pytestmark = pytest.mark.slow

SCRIPT = "import sys\nprint('greeting', sys.argv[1:])\n"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveAirflow]:
    yield from notebook_airflow(tmp_path_factory.mktemp("publishing_live"))


@pytest.fixture
def greeting(live: LiveAirflow, tmp_path: Path) -> Pipeline:
    """A one-step pipeline in the default (local) workspace a notebook gets."""
    ws = Workspace.from_config()
    write(tmp_path / "greet" / "greet.py", SCRIPT)
    step = PythonScriptStep(
        "greet.py",
        name="greet",
        source_directory=str(tmp_path / "greet"),
        arguments=["--who", PipelineParameter("who", "world")],
    )
    return Pipeline(ws, [step])


def test_endpoint_over_rest_right_after_publishing(live: LiveAirflow, greeting: Pipeline) -> None:
    ws = greeting.workspace
    endpoint = PipelineEndpoint.publish(workspace=ws, name="Greeter", pipeline=greeting, description="d")
    endpoint.add_default(greeting.publish(name="Greeter"))
    header = InteractiveLoginAuthentication().get_authentication_header()
    by_name = endpoint.endpoint.split("Id", 1)[0] + "Name?name=Greeter&pipelineVersion=0"
    body = {"ExperimentName": "rest_exp", "RunSource": "SDK", "ParameterAssignments": {"who": "v0"}}
    resp = httpx.post(by_name, headers=header, json=body, timeout=180)  # not parsed yet: the plugin waits
    assert resp.status_code == 200, resp.text
    v0 = endpoint.get_pipeline("0").id
    assert live.wait_run(v0, resp.json()["Id"]) == "success"
    resp = httpx.post(endpoint.endpoint, headers=header, json={"ExperimentName": "rest_exp"}, timeout=180)
    assert resp.status_code == 200, resp.text
    assert live.wait_run(endpoint.get_pipeline().id, resp.json()["Id"]) == "success"
    endpoint.disable()
    refused = httpx.post(endpoint.endpoint, headers=header, json={"ExperimentName": "x"}, timeout=60)
    assert refused.status_code == 404 and "disabled" in refused.text
    endpoint.enable()
    run = Experiment(ws, "endpoint_exp").submit(endpoint, pipeline_version="0")
    assert run._backend.dag_id == v0
    assert run.wait_for_completion(show_output=False, timeout_seconds=240) == "Finished"


def test_draft_runs_on_the_deployment_through_the_loader(live: LiveAirflow, greeting: Pipeline) -> None:
    draft = PipelineDraft.create(
        greeting.workspace,
        greeting,
        name="draft",
        experiment_name="draft_exp",
        pipeline_parameters={"who": "d"},
    )
    run = draft.submit_run()
    assert type(run._backend).__name__ == "RestBackend"
    assert run.wait_for_completion(show_output=False, timeout_seconds=300) == "Finished"
    tags = {t["name"] for t in live.api("GET", "/api/v2/dags/draft_exp").json()["tags"]}
    assert "azml-submitted" in tags


def test_every_other_day_schedule_is_parsed_with_its_next_run(live: LiveAirflow, greeting: Pipeline) -> None:
    published = greeting.publish(name="Scheduled")
    recurrence = ScheduleRecurrence(
        frequency="Day", interval=2, hours=[22], minutes=[30], start_time="2030-05-01T09:00:00"
    )
    sched = Schedule.create(
        greeting.workspace,
        "Every_Other_Day",
        pipeline_id=published.id,
        experiment_name="e",
        recurrence=recurrence,
    )
    dag = live.wait_dag(sched.dag_id)
    assert dag["timetable_summary"] == "every 2 days at 22:30"
    assert datetime.fromisoformat(dag["next_dagrun_run_after"]) == datetime(2030, 5, 1, 22, 30, tzinfo=UTC)
    assert live.api("GET", "/api/v2/importErrors").json()["import_errors"] == []


READ_WEB_V1 = """
from azureml.core import Run
frame = Run.get_context().input_datasets["titanic"].to_pandas_dataframe()
print("rows", len(frame))
"""


def test_a_notebook_pipeline_reads_web_data_through_the_notebook_proxy_on_the_workers(
    live: LiveAirflow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The workers were started without any proxy; the notebook has one (and the compat switch on).
    With AZML_AIRFLOW_FORWARD_NETWORK=1 the pipeline carries the proxy and CA bundle to the steps, and
    the plan says it was built under the compat switch, so the script's `import azureml` works there."""
    from airflow_azml import compat
    from airflow_azml.core import Dataset
    from airflow_azml.data.dataset_consumption_config import DatasetConsumptionConfig
    from tests.support.web import LocalWeb

    web = LocalWeb(tmp_path / "web")
    web.site.put("/demo/Titanic.csv", b"PassengerId,Survived\n1,0\n2,1\n3,1\n")
    for name, value in web.proxy_env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AZML_AIRFLOW_FORWARD_NETWORK", "1")
    was_on = compat.is_enabled()
    compat.enable()
    try:
        write(tmp_path / "read" / "read_web.py", READ_WEB_V1)
        table = DatasetConsumptionConfig(
            "titanic", Dataset.Tabular.from_delimited_files(web.proxied_url("/demo/Titanic.csv"))
        )
        step = PythonScriptStep(
            "read_web.py", name="read_web", source_directory=str(tmp_path / "read"), inputs=[table]
        )
        ws = Workspace.from_config()
        run = Experiment(ws, "web_forwarded").submit(Pipeline(ws, [step]))
        assert run.wait_for_completion(show_output=False, timeout_seconds=300) == "Finished"
        assert "rows 3" in run.get_steps()[0].get_stdout_log()
        assert web.site.tunnels  # the worker's fetches went through the notebook's proxy
    finally:
        compat.enable() if was_on else compat.disable()
        web.close()
