"""continue_on_step_failure through real runs (Experiment.submit -> dag.test): False cancels
steps that have not started when another step fails; True lets independent steps run, and the
run ends Failed either way."""

from __future__ import annotations

import pytest

from airflow_azml.core import Experiment, Workspace
from airflow_azml.exceptions import ActivityFailedException
from airflow_azml.pipeline.core import Pipeline, PipelineData
from airflow_azml.pipeline.steps import PythonScriptStep
from tests.conftest import write

pytestmark = pytest.mark.slow


def _pipeline(workspace_dir):
    ws = Workspace.from_config(workspace_dir)
    steps = workspace_dir / "steps"
    write(steps / "boom.py", "raise SystemExit('boom failed on purpose')\n")
    write(steps / "first.py", "import os, sys\nos.makedirs(sys.argv[2], exist_ok=True)\nprint('first ran')\n")
    write(steps / "indep.py", "print('independent step ran')\n")
    handoff = PipelineData("handoff")
    boom = PythonScriptStep("boom.py", name="boom", source_directory=str(steps))
    PythonScriptStep(
        "first.py", name="first", source_directory=str(steps), outputs=[handoff], arguments=["--out", handoff]
    )
    indep = PythonScriptStep("indep.py", name="indep", source_directory=str(steps), inputs=[handoff])
    return ws, Pipeline(ws, [boom, indep])


def test_false_cancels_steps_that_had_not_started(embedded_airflow_home, workspace_dir):
    ws, pipeline = _pipeline(workspace_dir)
    run = Experiment(ws, "cosf_false").submit(pipeline, continue_on_step_failure=False)
    with pytest.raises(ActivityFailedException):
        run.wait_for_completion(show_output=False)
    statuses = {s.name: s.get_status() for s in run.get_steps()}
    assert statuses["boom"] == "Failed" and statuses["indep"] == "Canceled"
    assert "Canceled" in (statuses["first"], statuses["indep"])
    assert run.find_step_run("indep")[0].record is None  # it never started


def test_true_lets_independent_steps_run_and_the_run_fails(embedded_airflow_home, workspace_dir):
    ws, pipeline = _pipeline(workspace_dir)
    run = Experiment(ws, "cosf_true").submit(pipeline, continue_on_step_failure=True)
    assert run.wait_for_completion(show_output=False, raise_on_error=False) == "Failed"
    statuses = {s.name: s.get_status() for s in run.get_steps()}
    assert statuses == {"boom": "Failed", "first": "Finished", "indep": "Finished"}
    assert "independent step ran" in run.find_step_run("indep")[0].get_stdout_log()
