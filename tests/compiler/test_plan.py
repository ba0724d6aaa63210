"""Pipeline -> Plan: pure data, no I/O, every edge and placeholder explicit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_azml.compiler import compile_pipeline, load_plan, plan_to_json
from airflow_azml.compiler.capture import plans_of
from airflow_azml.core import Dataset, Workspace
from airflow_azml.data import DataPath, DataPathComputeBinding
from airflow_azml.exceptions import UserErrorException
from airflow_azml.pipeline.core import Pipeline, PipelineData, PipelineParameter
from airflow_azml.pipeline.steps import EstimatorStep, PythonScriptStep
from airflow_azml.train.estimator import Estimator
from tests.conftest import write


@pytest.fixture
def pipeline(workspace_dir: Path) -> Pipeline:
    write(workspace_dir / "src" / "prep.py", "")
    write(workspace_dir / "src" / "train.py", "")
    ws = Workspace.from_config(workspace_dir)
    raw = Dataset.get_by_name(ws, "my_data")
    processed = PipelineData("processed")
    n = PipelineParameter("n", 5)
    path = PipelineParameter("path", DataPath(ws.get_default_datastore(), "raw/in"))
    _prep = PythonScriptStep(
        "prep.py",
        name="prep step",
        source_directory=str(workspace_dir / "src"),
        inputs=[raw.as_named_input("raw_data"), (path, DataPathComputeBinding(mode="download"))],
        outputs=[processed],
        arguments=["--out", processed, "--n", n],
        params={"alpha": n},
        compute_target="cpu",
    )
    est = Estimator(
        source_directory=str(workspace_dir / "src"),
        entry_script="train.py",
        script_params={"--lr": 0.1, "--flag": ""},
        max_run_duration_seconds=60,
    )
    train = EstimatorStep(
        "train",
        estimator=est,
        inputs=[processed.as_download()],
        estimator_entry_script_arguments=["--data", processed],
    )
    return Pipeline(ws, [train], description="demo")


def test_plan_shape(pipeline: Pipeline):
    plan = compile_pipeline(pipeline, "demo_exp")
    assert list(plan["steps"]) == ["prep_step", "train"]
    assert plan["parameters"] == {
        "n": {"type": "int", "default": 5, "description": None},
        "path": {
            "type": "datapath",
            "default": {"datastore": "workspaceblobstore", "path_on_datastore": "raw/in"},
            "description": None,
        },
    }
    prep, train = plan["steps"]["prep_step"], plan["steps"]["train"]
    assert prep["name"] == "prep step" and prep["kind"] == "python_script"
    assert prep["operator"] == "airflow_azml.provider.operators.step.PythonScriptStepOperator"
    assert prep["arguments"] == ["--out", {"$output": "processed"}, "--n", {"$param": "n"}]
    assert prep["params"] == {"alpha": {"$param": "n"}}
    assert prep["routing"] == {"queue": "cpu", "retries": 0}
    assert [(i["name"], i["source"], i["mode"]) for i in prep["inputs"]] == [
        ("raw_data", "dataset", "direct"),
        ("path", "datapath_param", "download"),
    ]
    assert prep["inputs"][0]["dataset"] == {"name": "my_data", "version": "latest"}
    assert train["upstream"] == ["prep_step"]
    assert train["arguments"] == ["--lr", 0.1, "--flag", "--data", {"$input": "processed"}]
    assert train["inputs"][0] | {"path_on_compute": None} == {
        "name": "processed",
        "source": "step_output",
        "mode": "download",
        "path_on_compute": None,
        "overwrite": None,
        "step": "prep_step",
        "output": "processed",
    }
    assert train["timeout_seconds"] == 60


def test_plan_round_trips_through_json(pipeline: Pipeline):
    plan = compile_pipeline(pipeline, "demo_exp")
    assert load_plan(plan_to_json(plan)) == json.loads(json.dumps(plan, default=str))


def test_bad_dag_id(pipeline: Pipeline):
    with pytest.raises(UserErrorException, match="Experiment/DAG id 'has space' is invalid"):
        compile_pipeline(pipeline, "has space")


def test_capture_reads_a_dag_file_without_airflow(tmp_path: Path, azml_home: Path):
    write(tmp_path / "s" / "a.py", "")
    dag_file = write(
        tmp_path / "pipe.py",
        (
            "from airflow_azml.core import Workspace\n"
            "from airflow_azml.pipeline.core import Pipeline\n"
            "from airflow_azml.pipeline.steps import PythonScriptStep\n"
            "ws = Workspace.from_config()\n"
            "dag = Pipeline(ws, [PythonScriptStep('a.py', source_directory='s')]).to_dag('captured')\n"
        ),
    )
    found = plans_of(dag_file)
    assert [f["plan"]["dag_id"] for f in found] == ["captured"]
    assert found[0]["plan"]["steps"]["a.py"]["source_directory"] == str(tmp_path / "s")


def test_environment_without_runconfig_matches_runconfig_spec():
    from airflow_azml.core.runconfig import runconfig_spec
    from airflow_azml.pipeline.steps.python_script_step import environment_spec

    assert environment_spec(None) == runconfig_spec(None)


def test_a_plan_built_under_the_compat_switch_renders_compat_steps_anywhere(pipeline: Pipeline):
    """A plan compiled in a notebook with compat.enable() runs its steps' ``import azureml`` on a
    worker whose DAG was rendered where the switch is off (a running Airflow's published loader)."""
    from airflow_azml import compat
    from airflow_azml.provider.operators.render import render_dag

    was_on = compat.is_enabled()
    try:
        compat.disable()
        plain = compile_pipeline(pipeline, "demo_exp")
        compat.enable()
        under_compat = compile_pipeline(pipeline, "demo_exp")
        compat.disable()
        assert "compat" not in plain and under_compat["compat"] is True
        assert load_plan(plan_to_json(under_compat))["compat"] is True
        assert all(t.pipeline["compat"] for t in render_dag(under_compat).tasks)
        assert not any(t.pipeline["compat"] for t in render_dag(plain).tasks)
    finally:
        compat.enable() if was_on else compat.disable()
