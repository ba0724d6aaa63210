"""Compute targets become Airflow routing on the rendered tasks; unknown executors are a clear error."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from airflow_azml.core import Workspace
from airflow_azml.core.compute import AmlCompute, ComputeTarget, DatabricksCompute
from airflow_azml.exceptions import ComputeTargetException, PipelineValidationError
from airflow_azml.pipeline.core import Pipeline
from airflow_azml.pipeline.steps import EstimatorStep, PythonScriptStep
from airflow_azml.provider.operators.routing import check_executors, configured_executors
from airflow_azml.train.estimator import Estimator
from tests.conftest import write

GPU = {
    "type": "AmlCompute",
    "executor": "CeleryExecutor",
    "queue": "gpu",
    "pool": "gpu_pool",
    "pool_slots": 2,
    "priority_weight": 7,
    "execution_timeout": 600,
    "retries": 2,
    "retry_delay": 30,
}


@pytest.fixture
def ws(tmp_path, azml_home, monkeypatch):
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "LocalExecutor,CeleryExecutor")
    write(tmp_path / "steps" / "train.py", "print('hi')\n")
    (tmp_path / "config.json").write_text(
        json.dumps(
            {
                "workspace_name": "routing",
                "compute_targets": {
                    "gpu": GPU,
                    "k8s": {"executor": "KubernetesExecutor", "queue": "big"},
                    "cpu": {"queue": "cpu"},
                },
            }
        )
    )
    return Workspace.from_config(tmp_path)


def _step(ws, name, target, **kw):
    return PythonScriptStep(
        "train.py", name=name, source_directory=str(ws.config_dir / "steps"), compute_target=target, **kw
    )


def test_routing_attributes_on_rendered_tasks(ws):
    est = Estimator(str(ws.config_dir / "steps"), entry_script="train.py", max_run_duration_seconds=90)
    steps = [
        _step(ws, "on_gpu", AmlCompute(ws, "gpu")),
        _step(ws, "on_cpu", "cpu"),
        _step(ws, "anywhere", None),
        EstimatorStep(name="est", estimator=est, compute_target="gpu"),
    ]
    dag = Pipeline(ws, steps).to_dag("routing_dag")
    gpu = dag.get_task("on_gpu")
    assert (gpu.executor, gpu.queue, gpu.pool, gpu.pool_slots) == ("CeleryExecutor", "gpu", "gpu_pool", 2)
    assert (gpu.priority_weight, gpu.retries) == (7, 2)
    assert gpu.execution_timeout == timedelta(seconds=600)
    assert gpu.retry_delay == timedelta(seconds=30)
    assert dag.get_task("on_cpu").queue == "cpu" and dag.get_task("on_cpu").executor is None
    assert dag.get_task("anywhere").executor is None and dag.get_task("anywhere").pool_slots == 1
    assert dag.get_task("est").execution_timeout == timedelta(seconds=90), "max_run_duration_seconds wins"
    assert dag.get_task("est").queue == "gpu"


def test_unknown_executor_is_a_clear_error(ws):
    with pytest.raises(ComputeTargetException) as err:
        Pipeline(ws, [_step(ws, "big", "k8s"), _step(ws, "ok", "gpu")]).to_dag("bad_executor")
    msg = str(err.value)
    assert "step 'big' (compute target 'k8s') asks for executor 'KubernetesExecutor'" in msg
    assert "Configured executors ([core] executor): LocalExecutor, CeleryExecutor" in msg
    assert "AIRFLOW__CORE__EXECUTOR='LocalExecutor,KubernetesExecutor'" in msg
    assert "'ok'" not in msg


def test_executor_names_like_airflow():
    raw = "LocalExecutor,fast:CeleryExecutor,mine:my.pkg.MyExecutor;team1=other.mod.TeamExecutor"
    names = [sorted(e.names) for e in configured_executors(raw)]
    assert names[0] == ["LocalExecutor", "airflow.executors.local_executor.LocalExecutor"]
    assert "fast" in names[1] and "CeleryExecutor" in names[1]
    assert names[2] == ["MyExecutor", "mine", "my.pkg.MyExecutor"]
    assert configured_executors(raw)[3].team == "team1"
    plan = {
        "dag_id": "d",
        "steps": {
            "a": {"name": "a", "routing": {"executor": "mine"}},
            "b": {"name": "b", "routing": {"executor": "my.pkg.MyExecutor"}},
            "c": {"name": "c", "routing": {"executor": "CeleryExecutor"}},
        },
    }
    check_executors(plan, raw)
    with pytest.raises(ComputeTargetException, match="'KubernetesExecutor'"):
        check_executors(
            {"dag_id": "d", "steps": {"a": {"name": "a", "routing": {"executor": "KubernetesExecutor"}}}}, raw
        )


def test_v1_notebook_provisioning_runs_unchanged(ws, capsys):
    try:
        target = AmlCompute(ws, "cpu-cluster")
    except ComputeTargetException as exc:
        assert "Known targets: cpu, gpu, k8s" in str(exc)
        config = AmlCompute.provisioning_configuration(vm_size="STANDARD_D2_V2", max_nodes=4)
        target = ComputeTarget.create(ws, "cpu-cluster", config)
        target.wait_for_completion(show_output=True)
    assert "is ready" in capsys.readouterr().out
    assert AmlCompute(ws, "cpu-cluster").name == "cpu-cluster" and "cpu-cluster" in ws.compute_targets
    assert [t.name for t in ComputeTarget.list(ws)] == ["cpu", "cpu-cluster", "gpu", "k8s"]
    task = Pipeline(ws, [_step(ws, "s", target)]).to_dag("provisioned").get_task("s")
    assert task.executor is None and task.queue == "default", (
        "a created target routes to the default executor"
    )


def test_unknown_target_refused_when_built(ws):
    with pytest.raises(PipelineValidationError, match=r"unknown compute target 'gpu2'.*Did you mean 'gpu'"):
        Pipeline(ws, [_step(ws, "s", "gpu2")]).to_dag("unknown_target")


def test_databricks_compute_attaches_to_a_connection(ws):
    config = DatabricksCompute.attach_configuration(conn_id="my_databricks")
    target = ComputeTarget.attach(ws, "dbx", config)
    assert isinstance(DatabricksCompute(ws, "dbx"), DatabricksCompute)
    assert target.conn_id == "my_databricks"
