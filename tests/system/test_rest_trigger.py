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
    env = {"AZML_HOME": str(root / "azml_home"), "AZML_WATCH_POLL_SECONDS": "2"}  # watchers look every 2 s
    af = LiveAirflow(dags, home=root / "airflow", extra_env=env)
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


def _echo_published(ws: Workspace, live: LiveAirflow) -> PublishedPipeline:
    """The echo pipeline, published once for the module's datastore schedules."""
    try:
        return PublishedPipeline.get(ws, "echo-v1")
    except Exception:
        published = _echo_pipeline(ws, live).publish(name="echo", version="1")
        live.wait_dag(published.id)
        return published


def test_datastore_schedule_runs_once_per_new_blob(live, ws) -> None:
    published = _echo_published(ws, live)
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
    runs = _blob_runs(live, sched, 2)
    chars = sorted(r.get_steps()[0].get_metrics()["chars"] for r in runs)
    assert chars == [4, 8] and all(r.get_status() == "Finished" for r in runs)
    asset = _asset(live, sched.dag_id)
    assert asset["uri"] == f"file:///{str(root).strip('/')}/incoming" and asset["watchers"]
    _watch_state(live, asset["id"])  # the trigger keeps what it has seen in Airflow's asset state store
    time.sleep(4)  # two looks with nothing new: no event, no run
    assert len(sched.get_pipeline_runs()) == 2 and len(_events(live, asset["id"])) == 2
    live.restart("triggerer")  # the restarted trigger reads its state back: a and b do not fire again
    write(root / "incoming" / "c.txt", "c" * 16)
    runs = _blob_runs(live, sched, 3)
    assert len(runs) == 3
    assert sorted(r.get_steps()[0].get_metrics()["chars"] for r in runs) == [4, 8, 16]
    events = _events(live, asset["id"])  # exactly one asset event per new blob, with its path and ETag
    assert sorted(e["extra"]["payload"]["path"] for e in events) == [f"incoming/{n}.txt" for n in "abc"]
    sched.disable()  # its watcher stops with it (a paused DAG's assets are not watched)


def _blob_runs(live: LiveAirflow, sched: Schedule, count: int) -> list[PipelineRun]:
    """The schedule's runs once there are ``count`` and all have ended."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        runs = sched.get_pipeline_runs()
        if len(runs) >= count and all(r.get_status() in ("Finished", "Failed") for r in runs):
            return runs
        time.sleep(2)
    asset = _asset(live, sched.dag_id)
    raise AssertionError(
        f"expected {count} runs, got {[r.id for r in sched.get_pipeline_runs()]}; watcher runs: "
        f"{[(r['dag_run_id'], r['state']) for r in live.runs(sched.dag_id)]}; asset events: "
        f"{[e['extra'] for e in _events(live, asset['id'])]}\n{_watcher_debug(live, sched.dag_id)}"
    )


def test_datastore_schedule_on_azure_blob_runs_once_per_new_blob(live, ws) -> None:
    """The same watch on a Blob container (Azurite): by ETag, so rewriting a blob is one more run."""
    from airflow_azml.core import Datastore
    from airflow_azml.data.asset_uri import datastore_asset
    from tests.support.azurite import ACCOUNT_KEY, ACCOUNT_NAME, AzuriteServer, require_azurite

    require_azurite()
    with AzuriteServer() as azurite:
        container = azurite.create_container("drops")
        blob = Datastore.register_azure_blob_container(  # its connection goes to the live Airflow too
            ws,
            "dropblob",
            container_name="drops",
            account_name=ACCOUNT_NAME,
            account_key=ACCOUNT_KEY,
            endpoint=azurite.blob_endpoint,
        )
        published = _echo_published(ws, live)  # the pipeline runs the blob of either datastore
        container.upload_blob("in/a.txt", b"aaaa")
        container.upload_blob("in/sub/ignored.txt", b"subfolders are not watched")
        sched = Schedule.create(
            ws,
            "on_azure_blob",
            pipeline_id=published.id,
            experiment_name="azure_blobs",
            datastore=blob,
            path_on_datastore="in",
            polling_interval=1,
            data_path_parameter_name="input_path",
        )
        live.wait_dag(sched.dag_id)
        assert [r.get_status() for r in _blob_runs(live, sched, 1)] == ["Finished"]
        asset = _asset(live, sched.dag_id)
        assert asset["uri"] == datastore_asset(blob.to_spec(), "in", datastore="dropblob").uri
        _watch_state(live, asset["id"])
        time.sleep(4)  # nothing new: no event
        assert len(_events(live, asset["id"])) == 1 and len(sched.get_pipeline_runs()) == 1
        container.upload_blob("in/a.txt", b"a" * 16, overwrite=True)  # a new ETag: a new run
        runs = _blob_runs(live, sched, 2)
        assert sorted(r.get_steps()[0].get_metrics()["chars"] for r in runs) == [4, 16]
        assert [e["extra"]["payload"]["path"] for e in _events(live, asset["id"])] == ["in/a.txt"] * 2
        sched.disable()


FRESH_DAG = """from pathlib import Path

from airflow_azml.core import Dataset, Workspace
from airflow_azml.pipeline.core import Pipeline
from airflow_azml.pipeline.steps import PythonScriptStep

here = Path(__file__).parent
ws = Workspace.from_config(here / "config.json")
step = PythonScriptStep("fresh.py", name="fresh", source_directory=str(here / "steps" / "fresh"))
dag = Pipeline(ws, [step]).to_dag("on_fresh_data", schedule=[Dataset.get_by_name(ws, "fresh")])
"""


def test_pipeline_scheduled_on_a_dataset_runs_when_a_version_is_registered(live, ws) -> None:
    from airflow_azml.core import Dataset, Model

    store = ws.get_default_datastore()
    write(Path(store.root) / "fresh" / "a.csv", "x\n1\n")
    Dataset.File.from_files((store, "fresh/a.csv")).register(ws, "fresh")  # version 1: before the DAG
    write(live.dags_folder / "steps" / "fresh" / "fresh.py", "print('fresh data')\n")
    write(live.dags_folder / "on_fresh_data.py", FRESH_DAG)
    live.wait_dag("on_fresh_data")
    live.unpause("on_fresh_data")  # an asset is watched while a DAG scheduled on it is active
    asset = _asset(live, "on_fresh_data")
    assert asset["uri"] == "azureml://workspaces/seed-workspace/datasets/fresh"
    _watch_state(live, asset["id"])
    assert live.runs("on_fresh_data") == []  # version 1 was registered before the watch: no run
    write(Path(store.root) / "fresh" / "b.csv", "x\n2\n")
    # this process is on the running Airflow (the workspace file's airflow.base_url): register posts
    # the version's asset event itself, and marks the record so the registry watch skips it
    fresh = Dataset.File.from_files((store, "fresh/*.csv")).register(ws, "fresh", create_new_version=True)
    posted = {
        "kind": "datasets",
        "name": "fresh",
        "version": 2,
        "registered_by": {"announced_by": "register"},
    }
    posted["from_rest_api"] = True  # Airflow's mark on an event posted over REST
    (event,) = _events(live, asset["id"])  # at once, not after a look of the watch
    assert fresh.version == 2 and event["extra"] == posted
    deadline = time.monotonic() + 120
    while not live.runs("on_fresh_data") and time.monotonic() < deadline:
        time.sleep(1)
    (run,) = live.runs("on_fresh_data")
    assert live.wait_run("on_fresh_data", run["dag_run_id"]) == "success"
    resp = live.api("GET", f"/api/v2/dags/on_fresh_data/dagRuns/{run['dag_run_id']}/upstreamAssetEvents")
    assert [e["extra"] for e in resp.json()["asset_events"]] == [posted]
    _watch_state(live, asset["id"], seen=2)  # the watch has looked at version 2 since: no second event
    assert [e["extra"] for e in _events(live, asset["id"])] == [posted] and len(
        live.runs("on_fresh_data")
    ) == 1
    # a model no DAG declares: Airflow does not know its asset, so no event (and no asset) at all
    write(live.dags_folder / "unscheduled_model.txt", "weights")
    Model.register(ws, str(live.dags_folder / "unscheduled_model.txt"), "unscheduled")
    uri = "azureml://workspaces/seed-workspace/models/unscheduled"
    assert not live.api("GET", "/api/v2/assets", params={"uri_pattern": uri}).json()["assets"]


def _watcher_debug(live: LiveAirflow, dag_id: str) -> str:
    """Per run of the schedule's DAG: how many events it consumed, its task states, the runs it asked for."""
    out = []
    for r in live.runs(dag_id):
        base = f"/api/v2/dags/{dag_id}/dagRuns/{r['dag_run_id']}"
        events = live.api("GET", f"{base}/upstreamAssetEvents").json().get("asset_events", [])
        tis = live.api("GET", f"{base}/taskInstances").json().get("task_instances", [])
        xcom = live.api("GET", f"{base}/taskInstances/blob_runs/xcomEntries/return_value").json()
        states = [(t["task_id"], t["map_index"], t["state"]) for t in tis]
        out.append(f"{r['dag_run_id']}: {len(events)} events, {states}, runs {xcom.get('value')}")
    return "\n".join(out)


def _asset(live: LiveAirflow, dag_id: str) -> dict:
    """The asset DAG ``dag_id`` is scheduled on (found over REST)."""
    resp = live.api("GET", "/api/v2/assets", params={"dag_ids": dag_id, "limit": 10})
    resp.raise_for_status()
    (asset,) = [a for a in resp.json()["assets"] if any(r["dag_id"] == dag_id for r in a["scheduled_dags"])]
    return dict(asset)


def _events(live: LiveAirflow, asset_id: int) -> list[dict]:
    resp = live.api("GET", "/api/v2/assets/events", params={"asset_id": asset_id, "limit": 100})
    resp.raise_for_status()
    return list(resp.json()["asset_events"])


def _watch_state(live: LiveAirflow, asset_id: int, timeout: float = 90, seen: int | None = None) -> dict:
    """The watcher's state once it has looked (the triggerer picks the trigger up after the DAG's parse);
    with ``seen``, once a version watch has looked at that version."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        resp = live.api("GET", f"/api/v2/assets/{asset_id}/state-store")
        if resp.status_code == 200 and "azml_watch" in resp.text:
            values = [e["value"] for e in resp.json()["asset_state_store"] if e["key"] == "azml_watch"]
            if seen is None or values == [seen]:
                return dict(resp.json())
        time.sleep(1)
    raise AssertionError(f"no watch state for asset {asset_id}:\n{live.log_tail('triggerer')}")


HD_SCRIPT = """import argparse, os
from airflow_azml.core import Run
p = argparse.ArgumentParser(); p.add_argument('--lr', type=float); p.add_argument('--depth', type=int)
a = p.parse_args()
acc = 1 - (a.lr - 0.3) ** 2 - (a.depth - 2) ** 2 / 10
os.makedirs('outputs', exist_ok=True)
open('outputs/model.txt', 'w').write(f'lr={a.lr} depth={a.depth}')
for epoch in (1, 2):
    Run.get_context().log('accuracy', round(acc * epoch / 2, 6))
"""


def test_hyperdrive_best_run_over_rest(live, ws, tmp_path) -> None:
    """v1's top HyperDriveStep question, answered through a running Airflow: the step run found from the
    run id alone (PipelineRun.get over REST) gives get_best_run_by_primary_metric and its model."""
    from airflow_azml.core import ScriptRunConfig
    from airflow_azml.pipeline.core import Pipeline
    from airflow_azml.pipeline.core.hyperdrive_run import HyperDriveStepRun
    from airflow_azml.pipeline.steps import HyperDriveStep
    from airflow_azml.train.hyperdrive import (
        GridParameterSampling,
        HyperDriveConfig,
        PrimaryMetricGoal,
        choice,
    )

    write(tmp_path / "hd" / "train.py", HD_SCRIPT)
    cfg = HyperDriveConfig(
        run_config=ScriptRunConfig(source_directory=str(tmp_path / "hd"), script="train.py"),
        hyperparameter_sampling=GridParameterSampling({"--lr": choice(0.1, 0.3), "--depth": choice(1, 2)}),
        primary_metric_name="accuracy",
        primary_metric_goal=PrimaryMetricGoal.MAXIMIZE,
        max_total_runs=4,
        max_concurrent_runs=2,
    )
    submitted = Experiment(ws, "hd_over_rest").submit(Pipeline(ws, [HyperDriveStep("sweep", cfg)]))
    assert type(submitted._backend).__name__ == "RestBackend"
    assert submitted.wait_for_completion(show_output=False, timeout_seconds=240) == "Finished"

    run = PipelineRun.get(ws, submitted.id)  # from the run id alone, as another notebook would
    (step,) = [s for s in run.get_steps() if s.name == "sweep"]
    assert isinstance(step, HyperDriveStepRun) and step.get_status() == "Finished"
    assert step.get_primary_metric_name() == "accuracy"  # from the step's record: no full plan over REST
    best = step.get_best_run_by_primary_metric()
    assert best.get_hyperparameters() == {"--lr": 0.3, "--depth": 2}
    assert best.get_metrics()["accuracy"] == [0.5, 1.0]
    assert len(step.get_children()) == 4 and {c.get_status() for c in step.get_children()} == {"Completed"}
    saved = best.download_file("outputs/model.txt", str(tmp_path / "dl"))
    assert Path(saved).read_text() == "lr=0.3 depth=2"


def test_seed_outputs_are_assets_with_an_event_per_run(live: LiveAirflow, ws: Workspace) -> None:
    """#16: after two runs of the seed pipeline, Airflow's Assets API lists its outputs and the
    registered dataset, the train task has the prep output among its inlets, each run's events carry
    path, size, version and run id, and the pipeline view links each output to its Asset page."""
    runs = []
    for _ in range(2):
        run_id = live.trigger("seed_pipeline", {"min_rows": 2})
        assert live.wait_run("seed_pipeline", run_id) == "success"
        runs.append(run_id)
    resp = live.api("GET", "/api/v2/assets", params={"dag_ids": "seed_pipeline", "limit": 100})
    resp.raise_for_status()
    assets = {a["uri"].rsplit("/", 1)[-1]: a for a in resp.json()["assets"]}
    processed, model, my_data = assets["processed"], assets["model"], assets["my_data"]
    assert processed["uri"].startswith("file:///")
    assert processed["uri"].endswith("/azureml/seed_pipeline/prep/processed")
    assert my_data["uri"] == "azureml://workspaces/seed-workspace/datasets/my_data"

    def tasks(asset: dict, role: str) -> set[str]:
        return {t["task_id"] for t in asset[role] if t["dag_id"] == "seed_pipeline"}

    assert tasks(processed, "producing_tasks") == {"prep"}
    assert tasks(processed, "consuming_tasks") == {"train"}  # the train step's task has it among its inlets
    assert tasks(model, "producing_tasks") == {"train"} and tasks(my_data, "consuming_tasks") == {"prep"}

    store = ws.get_default_datastore().store
    for run_id in runs:
        resp = live.api(
            "GET", "/api/v2/assets/events", params={"source_dag_id": "seed_pipeline", "source_run_id": run_id}
        )
        resp.raise_for_status()
        events = {e["source_task_id"]: e for e in resp.json()["asset_events"]}
        assert sorted(events) == ["prep", "train"]  # one event per output
        assert events["prep"]["asset_id"] == processed["id"] and events["train"]["asset_id"] == model["id"]
        for task_id, event in events.items():
            extra = event["extra"]
            assert extra["pipeline_run_id"] == run_id and extra["step"] == task_id
            assert extra["size"] > 0 and extra["version"] == store.version(extra["path"])
            assert extra["path"].startswith("azureml/") and extra["datastore"] == "workspaceblobstore"
            if extra["reused"]:
                assert extra["reused_from"]["pipeline_run_id"] != run_id
    # the second run changed nothing: its steps were reused, and their events say from which run
    second = live.api(
        "GET", "/api/v2/assets/events", params={"source_dag_id": "seed_pipeline", "source_run_id": runs[1]}
    ).json()["asset_events"]
    assert all(e["extra"]["reused"] for e in second)

    from urllib.parse import quote

    view = live.api("GET", f"/azml-ui/api/pipeline/seed_pipeline/{quote(runs[0], safe='')}")
    assert view.status_code == 200, view.text
    steps = {s["task_id"]: s for s in view.json()["steps"]}
    (out,) = steps["prep"]["outputs"]
    assert out["asset_uri"] == processed["uri"] and out["asset_url"].endswith(f"/assets/{processed['id']}")
    assert [p["asset_url"] for p in steps["train"]["inputs"]] == [out["asset_url"]]


HD_SLOT_SCRIPT = """import argparse, os, time
from airflow_azml.core import Run
p = argparse.ArgumentParser(); p.add_argument('--data'); p.add_argument('--q', type=float)
a = p.parse_args()
acc = a.q + float(open(os.path.join(a.data, 'offset.txt')).read())  # the input, resolved on the slot's worker
os.makedirs('outputs', exist_ok=True)
open('outputs/model.txt', 'w').write(f'q={a.q}')
for epoch in range(6):
    Run.get_context().log('accuracy', round(acc, 6))
    time.sleep(0.5)
"""

HD_SLOT_PREP = """import argparse, os
p = argparse.ArgumentParser(); p.add_argument('--out'); a = p.parse_args()
os.makedirs(a.out, exist_ok=True); open(os.path.join(a.out, 'offset.txt'), 'w').write('0.05')
"""

HD_SLOT_USE = """import argparse, os
p = argparse.ArgumentParser(); p.add_argument('--model'); p.add_argument('--out'); a = p.parse_args()
os.makedirs(a.out, exist_ok=True)
open(os.path.join(a.out, 'deployed.txt'), 'w').write(open(os.path.join(a.model, 'outputs', 'model.txt')).read())
"""


def test_hyperdrive_children_in_slot_tasks(live, tmp_path) -> None:
    """#15 slot tasks on the live LocalExecutor deployment (opted in by the compute target's
    "hyperdrive_slots": true): prep -> sweep (controller + 2 slot tasks) -> use_model. The grid's
    best is known, Bandit stops the two bad children, every child names the slot task that ran it,
    both slots ran children, at most max_concurrent_runs ran at once, the slots' XComs list what
    each ran, and the best model reaches the downstream step."""
    from airflow_azml.core import ScriptRunConfig
    from airflow_azml.pipeline.core import Pipeline, PipelineData, TrainingOutput
    from airflow_azml.pipeline.steps import HyperDriveStep, PythonScriptStep
    from airflow_azml.train.hyperdrive import (
        BanditPolicy,
        GridParameterSampling,
        HyperDriveConfig,
        PrimaryMetricGoal,
        choice,
    )

    config = json.loads((live.dags_folder / "config.json").read_text())
    config["compute_targets"] = {**config.get("compute_targets", {}), "sweeps": {"hyperdrive_slots": True}}
    write(tmp_path / "config.json", json.dumps(config))
    ws = Workspace.from_config(tmp_path / "config.json")
    store = ws.get_default_datastore()
    write(tmp_path / "hd" / "train.py", HD_SLOT_SCRIPT)
    write(tmp_path / "prep" / "prep.py", HD_SLOT_PREP)
    write(tmp_path / "use" / "use.py", HD_SLOT_USE)
    data = PipelineData("offset", datastore=store)
    prep = PythonScriptStep(
        "prep.py",
        name="prep",
        source_directory=str(tmp_path / "prep"),
        arguments=["--out", data],
        outputs=[data],
    )
    cfg = HyperDriveConfig(
        run_config=ScriptRunConfig(
            source_directory=str(tmp_path / "hd"),
            script="train.py",
            arguments=["--data", data],
            compute_target="sweeps",
        ),
        hyperparameter_sampling=GridParameterSampling({"--q": choice(0.9, 0.2, 0.8, 0.3)}),
        primary_metric_name="accuracy",
        primary_metric_goal=PrimaryMetricGoal.MAXIMIZE,
        max_total_runs=4,
        max_concurrent_runs=2,
        policy=BanditPolicy(evaluation_interval=1, slack_factor=0.2),
    )
    model = PipelineData(
        "model", datastore=store, training_output=TrainingOutput("Model", model_file="outputs")
    )
    sweep = HyperDriveStep("sweep", cfg, inputs=[data], outputs=[model], allow_reuse=False)
    deployed = PipelineData("deployed", datastore=store)
    use = PythonScriptStep(
        "use.py", name="use_model", source_directory=str(tmp_path / "use"), arguments=["--model", model, "--out", deployed],
        inputs=[model], outputs=[deployed],
    )  # fmt: skip
    submitted = Experiment(ws, "hd_slots").submit(Pipeline(ws, [prep, sweep, use]))
    assert submitted.wait_for_completion(show_output=False, timeout_seconds=300) == "Finished"

    run = PipelineRun.get(ws, submitted.id)
    assert sorted(s.name for s in run.get_steps()) == ["prep", "sweep", "use_model"]  # slots are not steps
    (step,) = [s for s in run.get_steps() if s.name == "sweep"]
    children = {c.get_hyperparameters()["--q"]: c for c in step.get_children()}
    assert sorted(children) == [0.2, 0.3, 0.8, 0.9]
    assert step.get_best_run_by_primary_metric().get_hyperparameters() == {"--q": 0.9}
    assert children[0.9].get_metrics()["accuracy"][-1] == pytest.approx(0.95)  # 0.9 + the prep's offset
    assert {q: c.get_status() for q, c in children.items()} == {
        0.9: "Completed",
        0.8: "Completed",
        0.2: "Canceled",
        0.3: "Canceled",
    }
    for q in (0.2, 0.3):
        assert children[q].record["termination_reason"].startswith("Bandit")
    slots = {c.id: c.record["slot"] for c in children.values()}
    assert {s["task"] for s in slots.values()} == {"sweep__slot_1", "sweep__slot_2"}, slots
    events = sorted([(s["started"], 1) for s in slots.values()] + [(s["ended"], -1) for s in slots.values()])
    assert max(sum(d for _, d in events[: i + 1]) for i in range(len(events))) <= 2
    dag_id, run_id = run.records.dag_id, submitted.id
    for k in (1, 2):  # each slot's own task instance says which children it ran
        xcom = live.api(
            "GET",
            f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/sweep__slot_{k}/xcomEntries/return_value",
        ).json()["value"]
        ran = {f"HD_{c.number}" for c in children.values() if slots[c.id]["task"] == f"sweep__slot_{k}"}
        assert set(xcom["children"]) == ran, xcom
    table = live.api(
        "GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/sweep/xcomEntries/azml_hyperdrive"
    ).json()["value"]  # the controller's children table names each child's slot task
    assert {c["run_id"]: c["slot"] for c in table["children"]} == {i: s["task"] for i, s in slots.items()}
    (use_run,) = [s for s in run.get_steps() if s.name == "use_model"]
    local = Path(use_run.get_output_data("deployed").download(str(tmp_path / "dl")))
    assert (local / "deployed.txt").read_text() == "q=0.9"
