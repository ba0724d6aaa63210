"""The extra of each output's asset event: where this run put it, how big, which version, which run."""

from __future__ import annotations

from pathlib import Path

from airflow_azml.core import Workspace
from airflow_azml.execution.lineage_events import content_stat, output_event_extras

STEP = {"name": "prep", "task_id": "prep"}


def _ws(workspace_dir: Path) -> Workspace:
    ws = Workspace.from_config(workspace_dir)
    store = ws.get_default_datastore().store
    store.write_bytes("azureml/r1/prep/out/a.csv", b"a,b\n1,2\n")
    store.write_bytes("azureml/r1/prep/out/sub/b.csv", b"x" * 100)
    return ws


def test_local_folder_size_files_and_version(workspace_dir):
    store = _ws(workspace_dir).get_default_datastore().store
    stat = content_stat(store, "azureml/r1/prep/out")
    assert stat == {"size": 108, "files": 2, "version": store.version("azureml/r1/prep/out")}
    assert content_stat(store, "azureml/r1/prep/out/a.csv")["size"] == 8


def test_a_run_that_ran(workspace_dir):
    ws = _ws(workspace_dir)
    result = {
        "outputs": {
            "out": {"datastore": "workspaceblobstore", "path": "azureml/r1/prep/out", "fingerprint": "f1"}
        },
        "reused": False,
    }
    extras = output_event_extras(
        ws,
        run_id="manual__r1",
        step=STEP,
        result=result,
        outlets=["out", "sql:facts"],
        record={"transfer": {"rows": 3}},
    )
    out = extras["out"]
    assert out["pipeline_run_id"] == "manual__r1" and out["step"] == "prep" and out["reused"] is False
    assert out["step_run_id"] == "manual__r1_prep"
    assert (out["datastore"], out["path"], out["size"], out["files"]) == (
        "workspaceblobstore",
        "azureml/r1/prep/out",
        108,
        2,
    )
    assert out["version"] == ws.get_default_datastore().store.version("azureml/r1/prep/out")
    assert out["fingerprint"] == "f1" and "reused_from" not in out
    assert extras["sql:facts"]["table"] == "facts" and extras["sql:facts"]["rows"] == 3


def test_a_reused_run_says_from_which_run(workspace_dir):
    ws = _ws(workspace_dir)
    result = {
        "outputs": {"out": {"datastore": "workspaceblobstore", "path": "azureml/r1/prep/out"}},
        "reused": True,
        "reused_from": {
            "run_id": "manual__r1",
            "step_run_id": "manual__r1_prep",
            "step": "prep",
            "task_id": "prep",
        },
    }
    (extra,) = output_event_extras(
        ws, run_id="manual__r2", step=STEP, result=result, outlets=["out"]
    ).values()
    assert extra["reused"] is True and extra["pipeline_run_id"] == "manual__r2"
    assert extra["reused_from"] == {
        "pipeline_run_id": "manual__r1",
        "step_run_id": "manual__r1_prep",
        "step": "prep",
    }
    assert extra["path"] == "azureml/r1/prep/out" and extra["size"] == 108  # the earlier run's data


def test_unreadable_output_still_gets_its_event(workspace_dir, caplog):
    ws = _ws(workspace_dir)
    result = {"outputs": {"gone": {"datastore": "workspaceblobstore", "path": "azureml/nowhere"}}}
    import logging

    log = logging.getLogger("test_lineage_events")
    (extra,) = output_event_extras(
        ws, run_id="r", step=STEP, result=result, outlets=["gone"], log=log
    ).values()
    assert extra["path"] == "azureml/nowhere" and "size" not in extra
    assert "could not read its size and version" in caplog.text
