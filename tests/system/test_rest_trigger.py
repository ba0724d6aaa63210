"""Against a real running Airflow (api-server, scheduler, dag-processor, triggerer; LocalExecutor):
REST triggers with conf, the v1-compatible submit endpoint and its auth, Experiment.submit over
REST, published pipelines, a recurrence schedule that fires and a datastore schedule."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from airflow_azml.core import Experiment, Workspace
from airflow_azml.exceptions import AirflowApiError
from airflow_azml.pipeline.core import PipelineRun, PublishedPipeline, Schedule, ScheduleRecurrence
from airflow_azml.pipeline.core.published import PipelineEndpoint, write_loader
from tests.conftest import REPO, write
from tests.support.live_airflow import PASSWORDS, LiveAirflow, LiveAirflowError

pytestmark = pytest.mark.slow

ECHO_SCRIPT = """import argparse
from airflow_azml.core import Run
p = argparse.ArgumentParser(); p.add_argument('--data'); a = p.parse_args()
text = open(a.data).read()
Run.get_context().log('chars', len(text))
print('echo read', len(text), 'chars from', a.data)
"""


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveAirflow]:
    """One deployment for the module: the seed DAGs, the published-pipelines loader, a shared datastore."""
    root = tmp_path_factory.mktemp("live")
    dags = root / "dags"
    shutil.copytree(REPO / "dags", dags, ignore=shutil.ignore_patterns("__pycache__"))
    write(dags / "steps" / "echo" / "echo.py", ECHO_SCRIPT)
    af = LiveAirflow(dags, home=root / "airflow", extra_env={"AZML_HOME": str(root / "azml_home")})
    config = json.loads((dags / "config.json").read_text())
    config["datastores"]["workspaceblobstore"] = {"type": "local", "path": str(root / "store")}
    config["airflow"] = {"base_url": af.base_url, "username": "admin", "password_env": "LIVE_TEST_AIRFLOW_PW"}
    (dags / "config.json").write_text(json.dumps(config, indent=1))
    write_loader(dags)
    mp = pytest.MonkeyPatch()
    mp.setenv("LIVE_TEST_AIRFLOW_PW", PASSWORDS["admin"])
    mp.setenv("AZML_HOME", str(root / "azml_home"))
    mp.setenv("AZML_WORKSPACE_CONFIG", str(dags / "config.json"))
    try:
        af.start()
    except LiveAirflowError as exc:
        pytest.fail(str(exc))
    try:
        af.wait_dag("seed_pipeline")
        yield af
    finally:
        af.stop()
        mp.undo()


@pytest.fixture
def ws(live: LiveAirflow) -> Workspace:
    return Workspace.from_config(live.dags_folder / "config.json")


def _seed_pipeline(live: LiveAirflow):
    spec = importlib.util.spec_from_file_location("live_seed_pipeline", live.dags_folder / "seed_pipeline.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.pipeline


def _published(live: LiveAirflow, ws: Workspace, name: str, version: str = "1") -> PublishedPipeline:
    try:
        return PublishedPipeline.get(ws, f"{name}-v{version}")
    except Exception:
        published = _seed_pipeline(live).publish(name=name, description="seed, published", version=version)
        live.wait_dag(published.id)
        return published


def test_trigger_through_airflow_rest_api_with_conf(live: LiveAirflow, ws: Workspace) -> None:
    run_id = live.trigger("seed_pipeline", {"min_rows": 3})
    assert live.wait_run("seed_pipeline", run_id) == "success"
    run = PipelineRun.get(ws, run_id, "seed_pipeline")
    assert run.get_status() == "Finished"
    steps = {s.name: s for s in run.get_steps()}
    assert {n: s.get_status() for n, s in steps.items()} == {"prep": "Finished", "train": "Finished"}
    assert steps["prep"].record["parameters"]["min_rows"] == 3
    assert "prep: wrote" in steps["prep"].get_stdout_log()
    assert PipelineRun.get(ws, run_id).id == run_id  # the DAG found from the run id alone


def test_wrong_parameter_type_is_refused_with_400_naming_it(live: LiveAirflow) -> None:
    from airflow_azml.client import AirflowRestClient

    client = AirflowRestClient(live.base_url, "admin", PASSWORDS["admin"])
    with pytest.raises(AirflowApiError) as err:
        client.trigger("seed_pipeline", {"min_rows": "many"})
    assert err.value.status_code == 400
    assert "min_rows" in str(err.value)


def test_experiment_submit_runs_on_the_live_airflow_with_progress(live, ws, capsys) -> None:
    pipeline = _seed_pipeline(live)
    run = Experiment(ws, "seed_pipeline").submit(pipeline, pipeline_parameters={"min_rows": 4})
    assert type(run._backend).__name__ == "RestBackend"
    assert run.wait_for_completion(show_output=True, timeout_seconds=240) == "Finished"
    out = capsys.readouterr().out
    assert "StepRun(prep) Status: Finished" in out and "StepRun(train) Status: Finished" in out
    assert out.index("StepRun(prep) Status: Finished") < out.index("StepRun(train) Status: Finished")
    assert run.find_step_run("prep")[0].record["parameters"]["min_rows"] == 4


def test_submit_without_a_dag_file_goes_through_the_loader(live, ws, tmp_path, monkeypatch) -> None:
    """No DAG file builds the experiment: the plan goes into the registry the deployment's loader reads
    (as a notebook's Experiment.submit does); a workspace whose registry the deployment does not read
    gets an error naming what the dags folder needs."""
    from airflow_azml.client import remote
    from airflow_azml.pipeline.core.pipeline import Pipeline

    pipeline = _seed_pipeline(live)
    run = Experiment(ws, "never_deployed").submit(
        Pipeline(ws, pipeline.steps), pipeline_parameters={"min_rows": 2}
    )
    assert run.wait_for_completion(show_output=False, timeout_seconds=240) == "Finished"
    tags = {t["name"] for t in live.api("GET", "/api/v2/dags/never_deployed").json()["tags"]}
    assert "azml-submitted" in tags and any(t.startswith("azml-plan:") for t in tags)

    config = json.loads((live.dags_folder / "config.json").read_text())
    config["datastores"]["workspaceblobstore"] = {"type": "local", "path": str(tmp_path / "elsewhere")}
    write(tmp_path / "other" / "config.json", json.dumps(config))
    monkeypatch.setattr(remote, "DEPLOY_WAIT_SECONDS", 4)
    other = Workspace.from_config(tmp_path / "other" / "config.json")
    with pytest.raises(Exception, match="did not load the pipeline 'elsewhere_only'.*loader"):
        Experiment(other, "elsewhere_only").submit(Pipeline(other, pipeline.steps))


def test_v1_compatible_submit_endpoint_and_its_auth(live, ws) -> None:
    published = _published(live, ws, "seed_v1")
    url = published.endpoint
    assert url.startswith(live.base_url) and url.endswith(f"/PipelineRuns/PipelineSubmit/{published.id}")
    body = {"ExperimentName": "v1_client", "ParameterAssignments": {"min_rows": 2}}
    assert httpx.post(url, json=body, timeout=30).status_code == 401
    assert (
        httpx.post(url, json=body, headers={"Authorization": "Bearer not-a-jwt"}, timeout=30).status_code
        == 401
    )
    viewer = {"Authorization": f"Bearer {live.token('viewer1')}"}
    assert httpx.post(url, json=body, headers=viewer, timeout=30).status_code == 403
    admin = {"Authorization": f"Bearer {live.token('admin')}"}
    bad = httpx.post(url, json={"ParameterAssignments": {"min_rows": "lots"}}, headers=admin, timeout=30)
    assert bad.status_code == 400 and "min_rows" in bad.text
    resp = httpx.post(url, json=body, headers=admin, timeout=30)
    assert resp.status_code == 200, resp.text
    run_id = resp.json()["Id"]
    assert run_id.startswith("v1_client__")
    assert live.wait_run(published.id, run_id) == "success"
    run = PipelineRun.get(ws, run_id, published.id)
    assert run.find_step_run("prep")[0].record["parameters"]["min_rows"] == 2
    # v1 code follows such a run with PipelineRun(experiment, run_id): the run belongs to the published
    # pipeline's DAG, the experiment name only to its run id
    again = PipelineRun(Experiment(ws, "v1_client"), run_id)
    assert again.get_status() == "Finished" and again.experiment.name == "v1_client"
    assert [s.name for s in again.get_children()] == ["prep", "train"]


def test_published_pipeline_submit_disable_and_endpoint_versions(live, ws) -> None:
    published = _published(live, ws, "seed_pub")
    assert [p.id for p in PublishedPipeline.list(ws) if p.name == "seed_pub"] == [published.id]
    run = published.submit(ws, "pub_exp", {"min_rows": 1})
    assert run.wait_for_completion(show_output=False, timeout_seconds=240) == "Finished"
    published.disable()
    assert PublishedPipeline.get(ws, published.id).status == "Disabled"
    assert live.api("GET", f"/api/v2/dags/{published.id}").json()["is_paused"] is True
    with pytest.raises(Exception, match="disabled"):
        PublishedPipeline.get(ws, published.id).submit(ws, "pub_exp")
    published.enable()
    assert live.api("GET", f"/api/v2/dags/{published.id}").json()["is_paused"] is False
    second = _published(live, ws, "seed_pub", version="2")
    endpoint = PipelineEndpoint.publish(ws, "seed_ep", "two versions", published)
    assert endpoint.add_default(second) == "1"
    resp = httpx.post(
        PipelineEndpoint.get(ws, name="seed_ep").url,
        params={"pipelineVersion": "0"},
        json={"ExperimentName": "ep"},
        headers={"Authorization": f"Bearer {live.token()}"},
        timeout=30,
    )
    assert resp.status_code == 200, resp.text
    assert live.wait_run(published.id, resp.json()["Id"]) == "success"
    run = PipelineEndpoint.get(ws, name="seed_ep").submit("ep_default")
    assert run._backend.dag_id == second.id
    assert run.wait_for_completion(show_output=False, timeout_seconds=240) == "Finished"


def test_a_minute_recurrence_schedule_fires_at_once(live, ws) -> None:
    published = _published(live, ws, "seed_sched")
    sched = Schedule.create(
        ws,
        "every_minute",
        pipeline_id=published.id,
        experiment_name="sched_exp",
        recurrence=ScheduleRecurrence(frequency="Minute", interval=1),
        pipeline_parameters={"min_rows": 1},
    )
    live.wait_dag(sched.dag_id)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        last = sched.get_last_pipeline_run()
        if last is not None and last.get_status() in ("Finished", "Failed"):
            break
        time.sleep(2)
    assert last is not None and last.get_status() == "Finished"
    assert last.find_step_run("prep")[0].record["parameters"]["min_rows"] == 1
    assert [s.name for s in Schedule.list(ws, pipeline_id=published.id)] == ["every_minute"]
    sched.disable()
    assert live.api("GET", f"/api/v2/dags/{sched.dag_id}").json()["is_paused"] is True


def _echo_pipeline(ws: Workspace, live: LiveAirflow):
    from airflow_azml.data.datapath import DataPath, DataPathComputeBinding
    from airflow_azml.pipeline.core import Pipeline, PipelineParameter
    from airflow_azml.pipeline.steps import PythonScriptStep

    data = PipelineParameter("input_path", DataPath(ws.get_default_datastore(), "incoming/none.txt"))
    binding = (data, DataPathComputeBinding(mode="download"))
    step = PythonScriptStep(
        "echo.py",
        name="echo",
        source_directory=str(live.dags_folder / "steps" / "echo"),
        inputs=[binding],
        arguments=["--data", binding],
    )
    return Pipeline(ws, [step])


def test_datastore_schedule_runs_once_per_new_blob(live, ws) -> None:
    published = _echo_pipeline(ws, live).publish(name="echo", version="1")
    live.wait_dag(published.id)
    root = Path(ws.get_default_datastore().root)
    write(root / "incoming" / "a.txt", "aaaa")
    write(root / "incoming" / "b.txt", "bbbbbbbb")
    write(root / "incoming" / "sub" / "ignored.txt", "subfolders are not watched")
    sched = Schedule.create(
        ws,
        "on_blob",
        pipeline_id=published.id,
        experiment_name="blobs",
        datastore=ws.get_default_datastore(),
        path_on_datastore="incoming",
        polling_interval=1,
        data_path_parameter_name="input_path",
    )
    live.wait_dag(sched.dag_id)

    def blob_runs(count: int) -> list[PipelineRun]:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            runs = sched.get_pipeline_runs()
            if len(runs) >= count and all(r.get_status() in ("Finished", "Failed") for r in runs):
                return runs
            time.sleep(2)
        raise AssertionError(f"expected {count} runs, got {[r.id for r in sched.get_pipeline_runs()]}")

    runs = blob_runs(2)
    chars = sorted(r.get_steps()[0].get_metrics()["chars"] for r in runs)
    assert chars == [4, 8] and all(r.get_status() == "Finished" for r in runs)
    watcher = live.trigger(sched.dag_id)  # a poll with nothing new starts nothing
    assert live.wait_run(sched.dag_id, watcher) == "success"
    assert len(sched.get_pipeline_runs()) == 2
    write(root / "incoming" / "c.txt", "c" * 16)
    watcher = live.trigger(sched.dag_id)
    assert live.wait_run(sched.dag_id, watcher) == "success"
    runs = blob_runs(3)
    assert len(runs) == 3
    assert sorted(r.get_steps()[0].get_metrics()["chars"] for r in runs) == [4, 8, 16]
