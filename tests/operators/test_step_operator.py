"""The script step operator: built from a plan step with for_step(), one constructor level."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from airflow_azml.core import Workspace
from airflow_azml.pipeline.core import Pipeline, PipelineData, PipelineParameter
from airflow_azml.pipeline.steps import PythonScriptStep
from airflow_azml.provider.operators.render import render_dag
from airflow_azml.provider.operators.step import AzmlStepOperator, PythonScriptStepOperator
from tests.conftest import write


@pytest.fixture
def plan_and_dag(workspace_dir):
    write(workspace_dir / "src" / "a.py", "print('a')\n")
    ws = Workspace.from_config(path=workspace_dir)
    out = PipelineData("out")
    step = PythonScriptStep(
        "a.py",
        name="a",
        source_directory=str(workspace_dir / "src"),
        arguments=["--out", out, "--n", PipelineParameter("n", 3)],
        outputs=[out],
    )
    pipeline = Pipeline(ws, [step])
    from airflow_azml.compiler import compile_pipeline

    plan = compile_pipeline(pipeline, "op_test")
    return plan, render_dag(plan)


def test_no_own_init_so_airflow_handles_the_arguments_once():
    # Airflow wraps each class's own __init__ (deep-copying the DAG params each time).
    assert "__init__" not in AzmlStepOperator.__dict__
    assert "__init__" not in PythonScriptStepOperator.__dict__


def test_rendered_task_carries_its_plan_step(plan_and_dag):
    plan, dag = plan_and_dag
    task = dag.get_task("a")
    assert isinstance(task, PythonScriptStepOperator)
    assert task.step == plan["steps"]["a"]
    assert task.pipeline["parameters"] == {"n": {"type": "int", "default": 3, "description": None}}
    assert task.do_xcom_push is False
    assert task.params["n"] == 3


def test_an_operator_built_without_for_step_says_how_to_build_it():
    op = PythonScriptStepOperator(task_id="lonely")
    context = {"dag_run": SimpleNamespace(conf={}), "ti": None, "run_id": "r", "params": {}}
    with pytest.raises(TypeError, match=r"no step plan: build it with PythonScriptStepOperator\.for_step"):
        op.execute(context)


def test_unknown_keyword_is_refused_by_airflow_with_the_task_id():
    with pytest.raises(TypeError, match="Invalid arguments were passed to PythonScriptStepOperator"):
        PythonScriptStepOperator(task_id="t", step={}, pipeline={})
