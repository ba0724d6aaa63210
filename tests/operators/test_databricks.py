"""DatabricksStep through Airflow for real, against the fake Databricks REST server.

Pipelines run with Experiment.submit (dag.test in the local runner); the provider's hook talks
to tests/fakes/databricks_server.py over loopback, which checks and records every request.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from airflow_azml.core import Experiment, Workspace
from airflow_azml.data.data_reference import DataReference
from airflow_azml.exceptions import ActivityFailedException
from airflow_azml.execution.records import run_slug
from airflow_azml.pipeline.core import Pipeline, PipelineData, PipelineParameter
from airflow_azml.pipeline.steps import DatabricksStep
from airflow_azml.pipeline.steps.databricks_step import JarLibrary, MavenLibrary, PyPiLibrary
from tests.conftest import write
from tests.fakes.databricks_server import FAILED, PENDING, RUNNING, SUCCESS, FakeDatabricks, RunScript

LAKE = "abfss://data@acct.dfs.core.windows.net"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Any:
    with FakeDatabricks(token="tok") as server:
        monkeypatch.setenv("AIRFLOW_CONN_AZML_DBX", server.connection_json())
        yield server


def workspace(workspace_dir: Path, **target: Any) -> Workspace:
    cfg = json.loads((workspace_dir / "config.json").read_text())
    cfg["compute_targets"]["databricks"] = {
        "type": "Databricks",
        "conn_id": "azml_dbx",
        "polling_period_seconds": 0,
        "retries": 0,
        **target,
    }
    cfg["datastores"] = {
        "lake": {
            "type": "adls_gen2",
            "container_name": "data",
            "account_name": "acct",
            "conn_id": "lake_conn",
        }
    }
    (workspace_dir / "config.json").write_text(json.dumps(cfg))
    return Workspace.from_config(workspace_dir)


def three_steps(ws: Workspace, folder: Path) -> tuple[Pipeline, Path]:
    """notebook on an existing cluster -> python script (uploaded) on an autoscaling cluster -> jar on a pool."""
    lake = ws.datastores["lake"]
    raw = DataReference(
        ws.get_default_datastore(), data_reference_name="raw_data", path_on_datastore="raw/in.csv"
    )
    scored = PipelineData("scored", datastore=lake)
    features = PipelineData("features", datastore=lake)
    epochs = PipelineParameter("epochs", default_value=3)
    script = write(folder / "featurize.py", "print('featurize')\n")
    write(folder / "helpers" / "util.py", "X = 1\n")
    score = DatabricksStep(
        name="score",
        inputs=[raw],
        outputs=[scored],
        existing_cluster_id="0101-abc",
        notebook_path="/Shared/score",
        notebook_params={"alpha": 0.5, "epochs": epochs},
        pypi_libraries=[PyPiLibrary("scikit-learn==1.5.0")],
        timeout_seconds=900,
        compute_target="databricks",
    )
    featurize = DatabricksStep(
        name="featurize",
        inputs=[scored],
        outputs=[features],
        python_script_name="featurize.py",
        source_directory=str(folder),
        python_script_params=["--mode", "full", epochs],
        spark_version="13.3.x-scala2.12",
        node_type="Standard_D3_v2",
        min_workers=1,
        max_workers=4,
        spark_conf={"spark.speculation": "true"},
        spark_env_variables={"STAGE": "test"},
        pypi_libraries=["pandas==2.2.3"],
        run_name="featurize-run",
        compute_target="databricks",
    )
    train = DatabricksStep(
        name="train_jar",
        inputs=[features],
        main_class_name="com.example.Train",
        jar_params=["--lr", 0.1, epochs],
        jar_libraries=[JarLibrary("dbfs:/jars/train.jar")],
        maven_libraries=[MavenLibrary("org.example:dep:1.0")],
        instance_pool_id="pool-1",
        num_workers=2,
        spark_version="13.3.x-scala2.12",
        compute_target="databricks",
    )
    return Pipeline(ws, [score, featurize, train]), script


@pytest.mark.slow
def test_notebook_python_and_jar_payloads_through_airflow(embedded_airflow_home, workspace_dir, fake):
    ws = workspace(workspace_dir)
    pipeline, script = three_steps(ws, workspace_dir / "dbx")
    run = Experiment(ws, "dbx_three").submit(pipeline, pipeline_parameters={"epochs": 7})
    assert run.wait_for_completion(show_output=False) == "Finished"
    slug = run_slug(run.id)
    raw_uri = (ws.get_default_datastore().root / "raw" / "in.csv").as_uri()
    scored_uri = f"{LAKE}/azureml/{slug}/score/scored"
    features_uri = f"{LAKE}/azureml/{slug}/featurize/features"
    notebook, python, jar = fake.submitted()
    assert notebook == {
        "notebook_task": {
            "notebook_path": "/Shared/score",
            "base_parameters": {"alpha": "0.5", "epochs": "7", "raw_data": raw_uri, "scored": scored_uri},
        },
        "existing_cluster_id": "0101-abc",
        "libraries": [{"pypi": {"package": "scikit-learn==1.5.0"}}],
        "run_name": "score",
        "timeout_seconds": "900",
    }
    python_file = python["spark_python_task"]["python_file"]
    assert python_file.startswith("dbfs:/azml/src/") and python_file.endswith("/featurize.py")
    assert python == {
        "spark_python_task": {
            "python_file": python_file,
            "parameters": [
                "--mode",
                "full",
                "--epochs",
                "7",
                "-scored",
                scored_uri,
                "-features",
                features_uri,
            ],
        },
        "new_cluster": {
            "spark_version": "13.3.x-scala2.12",
            "node_type_id": "Standard_D3_v2",
            "autoscale": {"min_workers": "1", "max_workers": "4"},
            "spark_conf": {"spark.speculation": "true"},
            "spark_env_vars": {"STAGE": "test"},
        },
        "libraries": [{"pypi": {"package": "pandas==2.2.3"}}],
        "run_name": "featurize-run",
    }
    assert fake.dbfs[python_file[len("dbfs:") :]] == script.read_bytes()
    assert fake.dbfs[python_file[len("dbfs:") :].replace("featurize.py", "helpers/util.py")] == b"X = 1\n"
    assert jar == {
        "spark_jar_task": {
            "main_class_name": "com.example.Train",
            "parameters": ["--lr", "0.1", "--epochs", "7", "-features", features_uri],
        },
        "new_cluster": {
            "spark_version": "13.3.x-scala2.12",
            "instance_pool_id": "pool-1",
            "num_workers": "2",
        },
        "libraries": [{"maven": {"coordinates": "org.example:dep:1.0"}}, {"jar": "dbfs:/jars/train.jar"}],
        "run_name": "train_jar",
    }
    assert {r.token for r in fake.requests} == {"tok"}
    steps = {s.name: s for s in run.get_steps()}
    assert [s.get_status() for s in steps.values()] == ["Finished"] * 3
    rec = steps["score"].record
    assert rec["outputs"] == {"scored": {"datastore": "lake", "path": f"azureml/{slug}/score/scored"}}
    assert rec["run_page_url"] == fake.run_page_url(rec["databricks_run_id"])
    assert rec["data_uris"] == {"raw_data": raw_uri, "scored": scored_uri}


@pytest.mark.slow
def test_failed_run_carries_state_message_and_output_error(embedded_airflow_home, workspace_dir, fake):
    ws = workspace(workspace_dir)
    fake.scripts.append(RunScript(states=[RUNNING, FAILED], error="ZeroDivisionError: division by zero"))
    step = DatabricksStep(
        name="nb", notebook_path="/Shared/boom", existing_cluster_id="c1", compute_target="databricks"
    )
    run = Experiment(ws, "dbx_fail").submit(Pipeline(ws, [step]))
    with pytest.raises(ActivityFailedException):
        run.wait_for_completion(show_output=False)
    (step_run,) = run.get_steps()
    assert step_run.get_status() == "Failed"
    error = step_run.record["error"]
    assert "Task failed with an error" in error
    assert "ZeroDivisionError: division by zero" in error
    assert len(fake.calls("/jobs/runs/get-output")) == 1
    assert fake.calls("/jobs/runs/get-output")[0].query == {
        "run_id": str(step_run.record["databricks_run_id"] + 500_000)
    }


@pytest.mark.slow
def test_retry_reattaches_to_the_running_run(embedded_airflow_home, workspace_dir, fake):
    """The first try's poll hits HTTP 500s and fails the task; the retry finds the run id it stored
    in task_state_store, sees the run still RUNNING and waits on it: one runs/submit only."""
    ws = workspace(workspace_dir, retries=1, retry_delay=0, databricks_retry_limit=1)
    fake.scripts.append(RunScript(states=[PENDING, RUNNING, RUNNING, RUNNING, SUCCESS], fail_gets={3}))
    step = DatabricksStep(
        name="nb", notebook_path="/Shared/slow", existing_cluster_id="c1", compute_target="databricks"
    )
    run = Experiment(ws, "dbx_retry").submit(Pipeline(ws, [step]))
    assert run.wait_for_completion(show_output=False) == "Finished"
    assert len(fake.submitted()) == 1
    (step_run,) = run.get_steps()
    assert step_run.record["try_number"] == 2
    assert step_run.record["databricks_run_id"] == 1001


@pytest.mark.slow
def test_deferrable_by_default_deferrable(embedded_airflow_home, workspace_dir, fake, monkeypatch):
    monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", "True")
    ws = workspace(workspace_dir)
    step = DatabricksStep(
        name="nb", notebook_path="/Shared/x", existing_cluster_id="c1", compute_target="databricks"
    )
    run = Experiment(ws, "dbx_defer").submit(Pipeline(ws, [step]))
    assert run.wait_for_completion(show_output=False) == "Finished"
    assert len(fake.submitted()) == 1
    (step_run,) = run.get_steps()
    assert step_run.record["status"] == "Finished"
    assert "Running step nb: no earlier run" in step_run.get_job_log()  # logged before the deferral


# -- operator-level: the provider machinery driven directly with a small task context ----------
class FakeTI:
    """What the operator touches on a task instance: ids, try number, XCom."""

    def __init__(self, dag_id: str, task_id: str):
        self.dag_id, self.task_id, self.try_number, self.stats_tags = dag_id, task_id, 1, {}
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = value

    def xcom_pull(self, task_ids: str, key: str) -> Any:
        return None


def operator_for(ws: Workspace, step: DatabricksStep, dag_id: str) -> tuple[Any, dict[str, Any]]:
    from airflow_azml.compiler import compile_pipeline
    from airflow_azml.provider.operators.databricks import DatabricksStepOperator

    plan = compile_pipeline(Pipeline(ws, [step]), dag_id)
    spec = plan["steps"][step.task_id]
    op = DatabricksStepOperator(
        task_id=step.task_id,
        step=spec,
        pipeline={"workspace": plan["workspace"], "parameters": plan["parameters"]},
    )
    context = {
        "ti": FakeTI(dag_id, step.task_id),
        "run_id": "manual__2024-01-01",
        "params": {},
        "dag_run": SimpleNamespace(conf={}),
        "task_state_store": None,
    }
    return op, context


def script_step(folder: Path) -> DatabricksStep:
    """A DatabricksStep running ``folder/job.py`` (written here: ``print(1)``), an uploaded script, on cluster c1."""
    write(folder / "job.py", "print(1)\n")
    return DatabricksStep(
        name="py",
        python_script_name="job.py",
        source_directory=str(folder),
        existing_cluster_id="c1",
        compute_target="databricks",
    )


def test_on_kill_cancels_the_run_and_the_run_page_url_feeds_the_extra_link(azml_home, workspace_dir, fake):
    from airflow.providers.databricks.operators.databricks import DatabricksJobRunLink

    ws = workspace(workspace_dir)
    fake.scripts.append(RunScript(states=[RUNNING]))
    step = DatabricksStep(
        name="nb", notebook_path="/Shared/forever", existing_cluster_id="c1", compute_target="databricks"
    )
    op, context = operator_for(ws, step, "dbx_kill")
    errors: list[BaseException] = []

    def run() -> None:
        try:
            op.execute(context)
        except BaseException as exc:  # the cancelled run fails the task
            errors.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    deadline = time.monotonic() + 30
    while not fake.calls("/jobs/runs/get") and time.monotonic() < deadline:
        time.sleep(0.05)
    op.on_kill()
    worker.join(30)
    assert not worker.is_alive()
    (cancel,) = fake.calls("/jobs/runs/cancel")
    assert cancel.body == {"run_id": 1001}
    assert "CANCELED" in str(errors[0])
    assert any(isinstance(link, DatabricksJobRunLink) for link in op.operator_extra_links)
    assert context["ti"].xcom["run_page_url"] == fake.run_page_url(1001)
    assert context["ti"].xcom["run_id"] == 1001
    record = json.loads(
        (
            ws.get_default_datastore().root / ".azml" / "runs" / "dbx_kill" / "manual__2024-01-01" / "nb.json"
        ).read_text()
    )
    assert record["status"] == "Canceled" and record["outputs"] == {}  # told to stop: not a failure


def test_unchanged_source_is_not_uploaded_again(azml_home, workspace_dir, fake):
    ws = workspace(workspace_dir)
    folder = workspace_dir / "src"
    step = script_step(folder)
    op, _ = operator_for(ws, step, "dbx_upload")
    first = op._upload_source("job.py")
    assert len(fake.calls("/dbfs/put")) == 1
    assert op._upload_source("job.py") == first
    assert len(fake.calls("/dbfs/put")) == 1
    assert [r.query["path"] for r in fake.calls("/dbfs/get-status")] == [first[5:]] * 2
    write(folder / "job.py", "print(2)\n")
    second = op._upload_source("job.py")
    assert second != first and fake.dbfs[second[5:]] == b"print(2)\n"
    put = fake.calls("/dbfs/put")[-1].body
    assert put == {"path": second[5:], "contents": "cHJpbnQoMikK", "overwrite": True}


@pytest.mark.slow
def test_local_mode_without_pyspark_fails_with_the_fix(embedded_airflow_home, workspace_dir, fake):
    import importlib.util

    if importlib.util.find_spec("pyspark") is not None:
        pytest.skip("pyspark is installed: the local-mode run is covered by test_local_mode_runs_the_script")
    ws = workspace(workspace_dir, local=True)
    write(workspace_dir / "spark" / "job.py", "print('hi')\n")
    step = DatabricksStep(
        name="local_py",
        python_script_name="job.py",
        source_directory=str(workspace_dir / "spark"),
        existing_cluster_id="c1",
        compute_target="databricks",
    )
    run = Experiment(ws, "dbx_local_nospark").submit(Pipeline(ws, [step]))
    with pytest.raises(ActivityFailedException):
        run.wait_for_completion(show_output=False)
    (step_run,) = run.get_steps()
    assert "needs PySpark on the worker: pip install pyspark" in step_run.record["error"]
    assert fake.requests == []


@pytest.mark.slow
def test_local_mode_runs_the_script_with_a_local_spark_session(
    embedded_airflow_home, workspace_dir, fake, tmp_path
):
    pytest.importorskip("pyspark")
    ws = workspace(workspace_dir, local=True)
    write(ws.get_default_datastore().root / "raw" / "in.csv", "a\n1\n2\n")
    write(
        workspace_dir / "spark" / "job.py",
        """\
import argparse, os
from pyspark.sql import SparkSession
p = argparse.ArgumentParser()
p.add_argument("-raw_data"); p.add_argument("-counted"); p.add_argument("--factor", type=int)
a = p.parse_args()
spark = SparkSession.builder.master("local[1]").getOrCreate()
n = spark.read.csv(a.raw_data, header=True).count()
os.makedirs(a.counted, exist_ok=True)
open(os.path.join(a.counted, "n.txt"), "w").write(str(n * a.factor))
""",
    )
    raw = DataReference(
        ws.get_default_datastore(), data_reference_name="raw_data", path_on_datastore="raw/in.csv"
    )
    step = DatabricksStep(
        name="local_py",
        python_script_name="job.py",
        source_directory=str(workspace_dir / "spark"),
        python_script_params=[PipelineParameter("factor", default_value=3)],
        inputs=[raw],
        outputs=[PipelineData("counted")],
        existing_cluster_id="c1",
        compute_target="databricks",
    )
    run = Experiment(ws, "dbx_local").submit(Pipeline(ws, [step]))
    assert run.wait_for_completion(show_output=False) == "Finished"
    (step_run,) = run.get_steps()
    local = Path(step_run.get_output_data("counted").download(str(tmp_path / "dl"), show_progress=False))
    assert (local / "n.txt").read_text() == "6"
    assert fake.requests == []
