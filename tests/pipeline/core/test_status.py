"""The one Airflow-state -> v1-status map: the run objects and the pipeline view agree on every state."""

from __future__ import annotations

import subprocess
import sys

import pytest

from airflow_azml.pipeline.core.run import StepRun
from airflow_azml.pipeline.core.status import (
    AIRFLOW_TO_V1,
    airflow_to_v1,
    is_terminal,
    step_status,
    wait_until_ended,
)
from airflow_azml.provider.plugins.ui_data import display_status

ALL_STATES = [*AIRFLOW_TO_V1, "some_future_state", ""]


@pytest.mark.parametrize(
    ("state", "status"),
    [
        (None, "NotStarted"),
        ("scheduled", "Queued"),
        ("queued", "Queued"),
        ("running", "Running"),
        ("up_for_retry", "Running"),
        ("deferred", "Running"),
        ("success", "Finished"),
        ("failed", "Failed"),
        ("upstream_failed", "Canceled"),
        ("skipped", "Canceled"),
        ("some_future_state", "Running"),
    ],
)
def test_airflow_state_to_v1_status(state, status):
    assert airflow_to_v1(state) == status


@pytest.mark.parametrize("state", ALL_STATES)
@pytest.mark.parametrize(
    "record",
    [None, {"status": "Running"}, {"status": "Finished"}, {"status": "Finished", "reused": True}],
)
def test_step_run_and_ui_show_the_same_status(state, record):
    step = StepRun(pipeline_run=None, task_id="t", name="t", state=state, record=record)  # type: ignore[arg-type]
    assert step.get_status() == display_status(state, record) == step_status(state, record)


def test_reused_only_once_finished_and_airflow_state_wins():
    reused = {"status": "Finished", "reused": True}
    assert step_status("success", reused) == "Reused"
    assert step_status(None, reused) == "Reused"
    assert step_status("failed", reused) == "Failed"
    assert step_status(None, {"status": "Failed"}) == "Failed"
    assert is_terminal("Reused") and is_terminal("Canceled") and not is_terminal("Queued")


def test_status_module_imports_nothing_but_the_standard_library():
    code = (
        "import sys, airflow_azml.pipeline.core.status\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('airflow', 'pandas', 'pyarrow')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_wait_until_ended_polls_until_a_terminal_status():
    seen: list[str] = []
    statuses = iter(["NotStarted", "Queued", "Running", "Finished", "Running"])
    assert wait_until_ended(lambda: next(statuses), on_poll=seen.append, poll_seconds=0) == "Finished"
    assert seen == ["NotStarted", "Queued", "Running", "Finished"]


def test_wait_until_ended_names_what_timed_out():
    with pytest.raises(TimeoutError, match=r"Run r1 still Running after 0.05 s\."):
        wait_until_ended(lambda: "Running", poll_seconds=0.01, timeout_seconds=0.05, what="Run r1")
