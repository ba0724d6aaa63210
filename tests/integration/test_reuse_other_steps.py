"""Step reuse for the steps that do not run a script on the worker: DataTransferStep and DatabricksStep.

Through Airflow for real (Experiment.submit -> dag.test). The transfer copies between two local
datastores; the Databricks step talks to the fake REST server (tests/fakes/databricks_server.py),
which here also plays the job's side effect: it writes each output folder the payload names.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlparse

import pytest

from airflow_azml.core import Experiment, Workspace
from airflow_azml.data import DataReference
from airflow_azml.data.sql_data_reference import SqlDataReference
from airflow_azml.pipeline.core import Pipeline, PipelineData, PipelineParameter
from airflow_azml.pipeline.steps import DatabricksStep, DataTransferStep, PythonScriptStep
from tests.conftest import write
from tests.fakes.databricks_server import FakeDatabricks

pytestmark = pytest.mark.slow

CONSUMER = """
import argparse, os
p = argparse.ArgumentParser(); p.add_argument("--src")
a, _ = p.parse_known_args()
open(os.environ["AZML_TEST_COUNTER"], "a").write("consume\\n")
print("consumer saw", open(os.path.join(a.src, "data.txt")).read())
"""


def _run(ws: Workspace, dag_id: str, pipeline: Pipeline, **submit: Any) -> dict[str, Any]:
    run = Experiment(ws, dag_id).submit(pipeline, **submit)
    assert run.wait_for_completion(show_output=False, timeout_seconds=600) == "Finished"
    return {s.name: s for s in run.get_steps()}


def _executed(counter: Path) -> list[str]:
    lines = sorted(counter.read_text().split()) if counter.exists() else []
    counter.unlink(missing_ok=True)
    return lines


# -- DataTransferStep: local -> local --------------------------------------------------------
def _transfer_pipeline(ws: Workspace, folder: Path) -> Pipeline:
    raw = DataReference(ws.get_default_datastore(), "raw_data", "raw")
    dest = DataReference(ws.datastores["archive"], "archived", "copy/raw")
    copy = DataTransferStep("copy", source_data_reference=raw, destination_data_reference=dest)
    always = DataTransferStep(
        "copy_always",
        source_data_reference=raw,
        destination_data_reference=PipelineData("snapshot"),
        allow_reuse=False,
    )
    consume = PythonScriptStep(
        "consume.py",
        name="consume",
        source_directory=str(folder),
        inputs=[copy.get_output()],
        arguments=["--src", copy.get_output()],
    )
    return Pipeline(ws, [copy, always, consume])


def test_data_transfer_reused_on_the_source_version(
    embedded_airflow_home, workspace_dir, tmp_path, monkeypatch
):
    counter = tmp_path / "counter.txt"
    monkeypatch.setenv("AZML_TEST_COUNTER", str(counter))
    cfg = json.loads((workspace_dir / "config.json").read_text())
    cfg["datastores"] = {"archive": {"type": "local", "path": str(tmp_path / "archive")}}
    (workspace_dir / "config.json").write_text(json.dumps(cfg))
    ws = Workspace.from_config(workspace_dir)
    write(workspace_dir / "consumer" / "consume.py", CONSUMER)
    raw_file = write(Path(ws.get_default_datastore().store.local_path("raw")) / "data.txt", "rows")
    copied = tmp_path / "archive" / "copy" / "raw" / "data.txt"
    pipeline = _transfer_pipeline(ws, workspace_dir / "consumer")

    first = _run(ws, "reuse_transfer", pipeline)
    assert _executed(counter) == ["consume"]
    assert first["copy"].record["run_reason"] == "no earlier run"
    assert copied.read_text() == "rows"
    copied_ns = copied.stat().st_mtime_ns

    second = _run(ws, "reuse_transfer", pipeline)
    assert {n: s.get_status() for n, s in second.items()} == {
        "copy": "Reused",
        "copy_always": "Finished",
        "consume": "Reused",
    }
    assert _executed(counter) == []
    copy_rec = second["copy"].record
    assert copy_rec["reused_from"]["run_id"] == first["copy"].pipeline_run.id
    assert "transfer" not in copy_rec  # nothing was copied ...
    assert copied.stat().st_mtime_ns == copied_ns  # ... and the destination was not touched
    assert copy_rec["outputs"]["archived"]["path"] == "copy/raw"
    assert copy_rec["outputs"]["archived"]["fingerprint"] == first["copy"].record["fingerprint"]
    assert second["copy_always"].record["run_reason"] == "allow_reuse=False"
    assert second["copy_always"].record["transfer"]["files"] == 1

    time.sleep(0.01)
    raw_file.write_text("rows, corrected")  # same path, new bytes
    third = _run(ws, "reuse_transfer", pipeline)
    assert third["copy"].get_status() == "Finished"
    assert third["copy"].record["run_reason"].startswith("input raw_data changed (etag ")
    assert third["consume"].record["run_reason"] == "upstream copy reran"
    assert _executed(counter) == ["consume"]
    assert copied.read_text() == "rows, corrected"

    copied.write_text("tampered")  # the earlier destination changed behind the index's back
    fourth = _run(ws, "reuse_transfer", pipeline)
    assert "earlier output 'archived' of run" in fourth["copy"].record["run_reason"]
    assert "changed or is incomplete" in fourth["copy"].record["run_reason"]
    assert copied.read_text() == "rows, corrected"

    fifth = _run(ws, "reuse_transfer", pipeline, regenerate_outputs=True)
    assert fifth["copy"].record["run_reason"] == "regenerate_outputs requested"
    assert fifth["copy"].record["transfer"]["files"] == 1


def test_sql_source_is_never_reused_and_says_why(embedded_airflow_home, workspace_dir, monkeypatch):
    """A query's rows can change while its text does not: no fingerprint would be honest, so it always runs."""
    pytest.importorskip("psycopg")
    monkeypatch.setenv("AIRFLOW_CONN_AZML_REUSE_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
    cfg = json.loads((workspace_dir / "config.json").read_text())
    cfg["datastores"] = {
        "pg": {
            "type": "postgres",
            "server_name": "127.0.0.1",
            "database_name": "postgres",
            "conn_id": "azml_reuse_pg",
        }
    }
    (workspace_dir / "config.json").write_text(json.dumps(cfg))
    ws = Workspace.from_config(workspace_dir)
    query = SqlDataReference(ws.datastores["pg"], sql_query="SELECT 1 AS n, 'a' AS s")
    dest = DataReference(ws.get_default_datastore(), "rows", "exports/rows.csv")
    step = DataTransferStep("export", source_data_reference=query, destination_data_reference=dest)
    target = Path(ws.get_default_datastore().store.local_path("exports/rows.csv"))
    for _ in range(2):
        target.unlink(missing_ok=True)
        (export,) = _run(ws, "reuse_sql", Pipeline(ws, [step])).values()
        assert export.get_status() == "Finished"
        assert "SQL source" in export.record["run_reason"] and "never reused" in export.record["run_reason"]
        assert target.read_text().splitlines() == ["n,s", "1,a"]


# -- DatabricksStep (remote mode) against the fake server ---------------------------------------
class WritingDatabricks(FakeDatabricks):
    """The fake server, plus what the job would do: write every output (a local file:// URI) it is given."""

    outputs = ("scored",)

    def _submit(self, req: Any) -> tuple[int, dict[str, Any]]:
        task = (req.body or {}).get("notebook_task") or {}
        for name in self.outputs:
            uri = task.get("base_parameters", {}).get(name)
            if uri and uri.startswith("file:"):
                folder = Path(unquote(urlparse(uri).path))
                write(folder / "part-0.txt", f"{req.body['run_name']} {len(self.requests)}")
        return super()._submit(req)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Any:
    with WritingDatabricks(token="tok") as server:
        monkeypatch.setenv("AIRFLOW_CONN_AZML_DBX_REUSE", server.connection_json())
        yield server


def _dbx_workspace(workspace_dir: Path, **settings: Any) -> Workspace:
    """The test workspace with a "databricks" compute target on the fake's connection (plus ``settings``)."""
    cfg = json.loads((workspace_dir / "config.json").read_text())
    cfg["compute_targets"]["databricks"] = {"type": "Databricks", "conn_id": "azml_dbx_reuse", **settings}
    (workspace_dir / "config.json").write_text(json.dumps(cfg))
    return Workspace.from_config(workspace_dir)


def _submitted(fake: FakeDatabricks, since: int) -> list[str]:
    return sorted(body["run_name"] for body in fake.submitted()[since:])


def _databricks_pipeline(ws: Workspace, alpha: PipelineParameter) -> Pipeline:
    raw = DataReference(ws.get_default_datastore(), "raw_data", "raw")
    score = DatabricksStep(
        name="score",
        inputs=[raw],
        outputs=[PipelineData("scored")],
        existing_cluster_id="0101-abc",
        notebook_path="/Shared/score",
        notebook_params={"alpha": alpha},
        compute_target="databricks",
    )
    audit = DatabricksStep(
        name="audit",
        inputs=[raw],
        existing_cluster_id="0101-abc",
        notebook_path="/Shared/audit",
        compute_target="databricks",
        allow_reuse=False,
    )
    return Pipeline(ws, [score, audit])


def test_databricks_step_reused_on_its_inputs_and_parameters(embedded_airflow_home, workspace_dir, fake):
    ws = _dbx_workspace(workspace_dir, polling_period_seconds=0, retries=0)
    store = ws.get_default_datastore().store
    raw_file = write(Path(store.local_path("raw")) / "data.txt", "rows")
    pipeline = _databricks_pipeline(ws, PipelineParameter("alpha", 0.5))

    first = _run(ws, "reuse_dbx", pipeline)
    assert _submitted(fake, 0) == ["audit", "score"]
    assert first["score"].record["run_reason"] == "no earlier run"
    scored = first["score"].record["outputs"]["scored"]
    assert scored["fingerprint"] == first["score"].record["fingerprint"]
    assert first["score"].record["inputs"]["raw_data"]["version"] == store.version("raw")

    second = _run(ws, "reuse_dbx", pipeline)
    assert _submitted(fake, 2) == ["audit"]  # no runs/submit for the reused step
    assert second["score"].get_status() == "Reused"
    assert second["score"].record["reused_from"]["run_id"] == first["score"].pipeline_run.id
    assert second["score"].record["outputs"]["scored"] == scored  # the earlier output is handed on
    assert second["audit"].record["run_reason"] == "allow_reuse=False"
    run2 = second["score"].pipeline_run.id
    with sqlite3.connect(embedded_airflow_home / "airflow.db") as db:
        links = dict(
            db.execute(
                "SELECT task_id, value FROM xcom WHERE dag_id='reuse_dbx' AND run_id=? AND key=?",
                (run2, "_link_ReusedFromLink"),
            ).fetchall()
        )
    run1 = quote(first["score"].pipeline_run.id, safe="")
    assert json.loads(links["score"]).endswith(f"/dags/reuse_dbx/runs/{run1}/tasks/score")
    assert "audit" not in links  # it ran: no "Reused from" link XCom

    third = _run(ws, "reuse_dbx", pipeline, pipeline_parameters={"alpha": 0.7})
    assert _submitted(fake, 3) == ["audit", "score"]
    assert third["score"].record["run_reason"] == "parameter alpha 0.5→0.7"

    time.sleep(0.01)
    raw_file.write_text("rows, corrected")
    os.utime(raw_file)
    fourth = _run(ws, "reuse_dbx", pipeline, pipeline_parameters={"alpha": 0.7})
    assert _submitted(fake, 5) == ["audit", "score"]
    assert fourth["score"].record["run_reason"].startswith("input raw_data changed (etag ")

    fifth = _run(ws, "reuse_dbx", pipeline, pipeline_parameters={"alpha": 0.7}, regenerate_outputs=True)
    assert _submitted(fake, 7) == ["audit", "score"]
    assert fifth["score"].record["run_reason"] == "regenerate_outputs requested"
    sixth = _run(ws, "reuse_dbx", pipeline, pipeline_parameters={"alpha": 0.7})
    assert _submitted(fake, 9) == ["audit"]
    assert sixth["score"].record["reused_from"]["run_id"] == fifth["score"].pipeline_run.id


def test_deferred_databricks_run_is_offered_for_reuse(
    embedded_airflow_home, workspace_dir, fake, monkeypatch
):
    """A deferred run publishes its reuse entry from execute_complete (a fresh operator after the trigger)."""
    monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", "True")
    ws = _dbx_workspace(workspace_dir, retries=0)
    step = DatabricksStep(
        name="nb", notebook_path="/Shared/x", existing_cluster_id="c1", compute_target="databricks"
    )
    (first,) = _run(ws, "reuse_dbx_defer", Pipeline(ws, [step])).values()
    assert first.get_status() == "Finished" and first.record["run_reason"] == "no earlier run"
    (second,) = _run(ws, "reuse_dbx_defer", Pipeline(ws, [step])).values()
    assert len(fake.submitted()) == 1
    assert second.get_status() == "Reused"
    assert second.record["fingerprint"] == first.record["fingerprint"]


def test_uploaded_script_step_reruns_when_its_source_changes(azml_home, workspace_dir, fake):
    """Operator level (no DAG run): a python_script_name step is fingerprinted with the source it uploads."""
    from airflow_azml.execution.records import RunRecords
    from tests.operators.test_databricks import operator_for, script_step

    ws = _dbx_workspace(workspace_dir, polling_period_seconds=0)
    folder = workspace_dir / "src"
    step = script_step(folder)

    def execute(run_id: str) -> dict[str, Any]:
        op, context = operator_for(ws, step, "reuse_dbx_py")
        context["run_id"] = run_id
        op.execute(context)
        return RunRecords(ws.get_default_datastore().store, "reuse_dbx_py", run_id).read_step(step.task_id)

    assert execute("r1")["run_reason"] == "no earlier run"
    assert execute("r2")["reused_from"]["run_id"] == "r1"
    assert len(fake.submitted()) == 1
    write(folder / "job.py", "print(2)\n")
    third = execute("r3")
    assert len(fake.submitted()) == 2
    assert third["run_reason"] == "script job.py changed; uploaded source changed"
