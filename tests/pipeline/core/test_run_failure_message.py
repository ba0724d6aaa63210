"""A failed run's ActivityFailedException says where the run is and then why: the failing step's
error from its run record, last (notebooks and tracebacks show an exception's last line first)."""

from __future__ import annotations

import pytest

from airflow_azml.compiler import compile_pipeline
from airflow_azml.core import Experiment
from airflow_azml.exceptions import ActivityFailedException
from airflow_azml.execution.records import RunRecords
from airflow_azml.pipeline.core import PipelineRun

URL = "Airflow run: http://airflow.example:8080/dags/failing/runs/r1"


class _FailedRemoteRun:
    """The RunStates of a run that ended failed on a running Airflow (what client.remote.RestBackend reads)."""

    def run_id(self) -> str:
        return "r1"

    def state(self) -> str:
        return "failed"

    def task_states(self) -> dict[str, str]:
        return {"a": "failed"}

    def cancel(self) -> None:
        raise AssertionError("not canceled")

    def error(self) -> str:
        return URL


def test_a_failed_remote_run_names_the_step_error_after_its_url(one_step_pipeline):
    ws, pipeline = one_step_pipeline
    plan = compile_pipeline(pipeline, "failing")
    error = "Step 'a' failed: a.py exited with code 1.\nTraceback ...\nValueError: column 'x' is missing"
    RunRecords(ws.get_default_datastore().store, "failing", "r1").write_step(
        "a", {"name": "a", "task_id": "a", "status": "Failed", "error": error}
    )
    run = PipelineRun(Experiment(ws, "failing"), backend=_FailedRemoteRun(), plan=plan)
    with pytest.raises(ActivityFailedException) as caught:
        run.wait_for_completion(show_output=False)
    lines = str(caught.value).splitlines()
    assert lines[0] == "Pipeline run r1 ended Failed." and lines[1] == URL
    assert lines[-1] == "ValueError: column 'x' is missing"
    assert error in run.get_details()["error"]["error"]["message"]
