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


# -- every step kind goes through the same gate -------------------------------------------------
# dag.test runs the ready tasks one at a time in no fixed order, so the steps below have no
# upstream (Airflow never skips them for an upstream's sake: "Canceled" can only come from their
# own operator's gate) and, in the False case, fail on their first try and get one retry: a try
# that starts before boom has failed fails (not the final try, so it does not cancel the run),
# and the try after that starts once boom's failure is recorded and must be canceled by the gate.
def _every_kind(workspace_dir, *, failing: bool):
    import json

    from airflow_azml.pipeline.steps import AdlaStep, DatabricksStep, DataTransferStep

    cfg = json.loads((workspace_dir / "config.json").read_text())
    retry = {"retries": 1 if failing else 0, "retry_delay": 0}
    cfg["compute_targets"].update(
        {
            "sql": {"type": "ADLAnalytics", **retry},
            "mover": {"type": "DataFactory", **retry},
            "databricks": {"type": "Databricks", "conn_id": "azml_dbx", "polling_period_seconds": 0, **retry},
        }
    )
    (workspace_dir / "config.json").write_text(json.dumps(cfg))
    ws = Workspace.from_config(workspace_dir)
    store = ws.get_default_datastore()
    steps = workspace_dir / "steps"
    write(steps / "boom.py", "raise SystemExit('boom failed on purpose')\n")
    write(steps / "count.sql", "SELECT nope FROM missing_table;\n" if failing else "SELECT 42 AS answer;\n")
    write(store.root / "incoming" / "data.csv", "a\n1\n")
    boom = PythonScriptStep("boom.py", name="boom", source_directory=str(steps))
    sql = AdlaStep("count.sql", name="sql", source_directory=str(steps), compute_target="sql")
    source = store.path("incoming/missing.csv" if failing else "incoming/data.csv")
    copy = DataTransferStep("copy", source, store.path("copied/data.csv"), compute_target="mover")
    notebook = DatabricksStep(
        name="notebook", notebook_path="/Shared/nb", existing_cluster_id="c1", compute_target="databricks"
    )
    return ws, Pipeline(ws, [boom, sql, copy, notebook])


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch):
    from tests.fakes.databricks_server import FakeDatabricks

    with FakeDatabricks(token="tok") as server:
        monkeypatch.setenv("AIRFLOW_CONN_AZML_DBX", server.connection_json())
        yield server


def test_false_cancels_adla_data_transfer_and_databricks_steps(embedded_airflow_home, workspace_dir, fake):
    from tests.fakes.databricks_server import FAILED, RunScript

    fake.scripts.append(RunScript(states=[FAILED], error="fails if it runs before boom"))
    ws, pipeline = _every_kind(workspace_dir, failing=True)
    run = Experiment(ws, "cosf_kinds_false").submit(pipeline, continue_on_step_failure=False)
    assert run.wait_for_completion(show_output=False, raise_on_error=False) == "Failed"
    steps = {s.name: s for s in run.get_steps()}
    assert {n: (s._state, s.get_status()) for n, s in steps.items()} == {
        "boom": ("failed", "Failed"),
        "sql": ("skipped", "Canceled"),
        "copy": ("skipped", "Canceled"),
        "notebook": ("skipped", "Canceled"),
    }
    assert run.records.failed_steps() == ["boom"]  # a try that will be retried fails nothing
    assert len(fake.submitted()) <= 1  # the retry never reached Databricks
    assert not (ws.get_default_datastore().root / "copied").exists()


def test_true_runs_adla_data_transfer_and_databricks_steps(embedded_airflow_home, workspace_dir, fake):
    ws, pipeline = _every_kind(workspace_dir, failing=False)
    run = Experiment(ws, "cosf_kinds_true").submit(pipeline, continue_on_step_failure=True)
    assert run.wait_for_completion(show_output=False, raise_on_error=False) == "Failed"
    steps = {s.name: s for s in run.get_steps()}
    assert {n: s.get_status() for n, s in steps.items()} == {
        "boom": "Failed",
        "sql": "Finished",
        "copy": "Finished",
        "notebook": "Finished",
    }
    assert steps["sql"].record["statements"][0]["index"] == 1
    assert steps["copy"].record["transfer"]["files"] == 1
    assert (ws.get_default_datastore().root / "copied" / "data.csv").read_text() == "a\n1\n"
    (payload,) = fake.submitted()
    assert payload["notebook_task"]["notebook_path"] == "/Shared/nb"
    assert steps["notebook"].record["databricks_run_id"] == 1001
    for name in ("sql", "copy", "notebook"):  # one lifecycle: every kind keeps the same job log
        assert f"Running step {name}: no earlier run" in steps[name].get_job_log(), name
    assert "Step boom failed: " in steps["boom"].get_job_log()
