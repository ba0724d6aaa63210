"""Step reuse through Airflow for real (Experiment.submit -> dag.test in the embedded runner).

Every script appends its name to a counter file, so each test asserts exactly which scripts ran.
Scripts live in one folder per step: a step's fingerprint covers its whole source_directory.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from urllib.parse import quote

import pytest

from airflow_azml.core import Experiment, Workspace
from airflow_azml.data import DataReference
from airflow_azml.pipeline.core import Pipeline, PipelineData, PipelineParameter
from airflow_azml.pipeline.steps import PythonScriptStep
from tests.conftest import write
from tests.support.links import served_links

pytestmark = pytest.mark.slow

SCRIPT = """
import argparse, os
p = argparse.ArgumentParser(); p.add_argument("--src"); p.add_argument("--out"); p.add_argument("--n")
a, _ = p.parse_known_args()
open(os.environ["AZML_TEST_COUNTER"], "a").write("{name}\\n")
text = open(os.path.join(a.src, "data.txt")).read()
if a.out:
    os.makedirs(a.out, exist_ok=True)
    open(os.path.join(a.out, "data.txt"), "w").write(text + "|{name}" + str(a.n or ""))
print("{name} saw", text)
"""


class Scenario:
    """prep(raw) -> train -> evaluate, plus audit(raw) with allow_reuse=False."""

    def __init__(self, workspace_dir: Path, counter: Path, dag_id: str):
        self.dir, self.counter, self.dag_id = workspace_dir, counter, dag_id
        self.ws = Workspace.from_config(workspace_dir)
        self.store = self.ws.get_default_datastore().store
        for name in ("prep", "train", "evaluate", "audit"):
            write(workspace_dir / name / f"{name}.py", SCRIPT.replace("{name}", name))
        self.raw_file = Path(self.store.local_path("raw")) / "data.txt"
        write(self.raw_file, "rows")

    def pipeline(self) -> Pipeline:
        raw = DataReference(self.ws.get_default_datastore(), "raw_data", "raw")
        mid, model, report = PipelineData("mid"), PipelineData("model"), PipelineData("report")
        n = PipelineParameter("n", 5)

        def step(name: str, inputs: list, outputs: list, args: list, **kw) -> PythonScriptStep:
            return PythonScriptStep(
                f"{name}.py",
                name=name,
                source_directory=str(self.dir / name),
                inputs=inputs,
                outputs=outputs,
                arguments=args,
                **kw,
            )

        prep = step("prep", [raw], [mid], ["--src", raw, "--out", mid, "--n", n])
        train = step("train", [mid], [model], ["--src", mid, "--out", model])
        evaluate = step("evaluate", [model], [report], ["--src", model, "--out", report])
        audit = step("audit", [raw], [], ["--src", raw], allow_reuse=False)
        return Pipeline(self.ws, [prep, train, evaluate, audit])

    def run(self, **submit) -> dict:
        run = Experiment(self.ws, self.dag_id).submit(self.pipeline(), **submit)
        assert run.wait_for_completion(show_output=False, timeout_seconds=600) == "Finished"
        return {s.name: s for s in run.get_steps()}

    def executed(self) -> list[str]:
        lines = sorted(self.counter.read_text().split()) if self.counter.exists() else []
        self.counter.unlink(missing_ok=True)
        return lines


@pytest.fixture
def scenario(embedded_airflow_home, workspace_dir, tmp_path, monkeypatch, request) -> Scenario:
    counter = tmp_path / "counter.txt"
    monkeypatch.setenv("AZML_TEST_COUNTER", str(counter))
    return Scenario(workspace_dir, counter, f"reuse_{request.node.name[5:40]}")


def _xcoms(airflow_home: Path, dag_id: str, run_id: str, key: str) -> dict:
    """XCom values of one key in the embedded Airflow's DB: what the UI shows (the extra link, the reuse mark)."""
    with sqlite3.connect(airflow_home / "airflow.db") as db:
        rows = db.execute(
            "SELECT task_id, value FROM xcom WHERE dag_id=? AND run_id=? AND key=?", (dag_id, run_id, key)
        ).fetchall()
    return {task: json.loads(value) for task, value in rows}


def test_unchanged_rerun_reuses_everything_but_allow_reuse_false_and_regenerate(
    scenario, embedded_airflow_home
):
    first = scenario.run()
    assert scenario.executed() == ["audit", "evaluate", "prep", "train"]
    assert first["prep"].record["run_reason"] == "no earlier run"
    second = scenario.run()
    assert scenario.executed() == ["audit"]
    assert {n: s.get_status() for n, s in second.items()} == {
        "prep": "Reused",
        "train": "Reused",
        "evaluate": "Reused",
        "audit": "Finished",
    }
    assert second["audit"].record["run_reason"] == "allow_reuse=False"
    assert second["train"].record["reused_from"]["run_id"] == first["train"].pipeline_run.id
    assert (
        second["evaluate"].get_output_data("report").path_on_datastore
        == first["evaluate"].get_output_data("report").path_on_datastore
    )
    assert second["train"].get_details()["reused"] is True
    assert second["audit"].get_details()["run_reason"] == "allow_reuse=False"
    links = _xcoms(
        embedded_airflow_home, scenario.dag_id, second["train"].pipeline_run.id, "_link_ReusedFromLink"
    )
    run1 = first["train"].pipeline_run.id
    assert links["train"].endswith(f"/dags/{scenario.dag_id}/runs/{quote(run1, safe='')}/tasks/train")
    assert "audit" not in links  # a step that ran has nothing to show: no link XCom (the UI shows none)
    run2 = second["train"].pipeline_run.id
    served = served_links(
        embedded_airflow_home, scenario.dag_id, run2, "audit"
    )  # the plugin's, made by the server
    assert served["Pipeline view"].endswith(
        f"/pipeline/{scenario.dag_id}/{quote(run2, safe='')}?task_id=audit"
    )
    assert served["Step outputs"] == served["Pipeline view"] + "#outputs"
    assert served["Reused from"] is None  # the operator's own link: an XCom, none for a step that ran
    assert not _xcoms(embedded_airflow_home, scenario.dag_id, run2, "_link_PipelineViewLink")
    marks = _xcoms(embedded_airflow_home, scenario.dag_id, run2, "azml_reuse")
    assert marks["prep"]["reused"] and marks["prep"]["reused_from"]["run_id"] == run1
    assert marks["prep"]["reason"] and set(marks) == {"prep", "train", "evaluate"}  # a step that ran: no mark
    third = scenario.run(regenerate_outputs=True)
    assert scenario.executed() == ["audit", "evaluate", "prep", "train"]
    assert third["prep"].record["run_reason"] == "regenerate_outputs requested"
    assert all(s.get_status() == "Finished" for s in third.values())


def test_changes_rerun_exactly_what_they_affect(scenario):
    scenario.run()
    scenario.executed()
    time.sleep(0.1)
    write(scenario.dir / "train" / "train.py", SCRIPT.replace("{name}", "train") + "\n# tuned\n")
    steps = scenario.run()
    assert scenario.executed() == ["audit", "evaluate", "train"]
    assert steps["prep"].get_status() == "Reused"
    assert steps["train"].record["run_reason"] == "script train.py changed"
    assert steps["evaluate"].record["run_reason"] == "upstream train reran"
    # same path, new bytes: the case Azure ML got wrong
    scenario.raw_file.write_text("rows, corrected")
    steps = scenario.run()
    assert scenario.executed() == ["audit", "evaluate", "prep", "train"]
    assert steps["prep"].record["run_reason"].startswith("input raw_data changed (etag ")
    assert (
        "corrected"
        in Path(
            scenario.store.local_path(steps["evaluate"].get_output_data("report").path_on_datastore),
            "data.txt",
        ).read_text()
    )
    scenario.store.delete(steps["train"].record["outputs"]["model"]["path"])
    steps = scenario.run(pipeline_parameters={"n": 5})
    assert scenario.executed() == ["audit", "evaluate", "train"]
    assert "earlier output 'model' of run" in steps["train"].record["run_reason"]
    assert "is gone" in steps["train"].record["run_reason"]
    steps = scenario.run(pipeline_parameters={"n": 6})
    assert scenario.executed() == ["audit", "evaluate", "prep", "train"]
    assert steps["prep"].record["run_reason"] == "parameter n 5→6"


def test_concurrent_runs_both_finish_with_valid_outputs(scenario):
    exp = Experiment(scenario.ws, scenario.dag_id)
    runs = [exp.submit(scenario.pipeline()) for _ in range(2)]
    assert [r.wait_for_completion(show_output=False, timeout_seconds=600) for r in runs] == ["Finished"] * 2
    for run in runs:
        steps = {s.name: s for s in run.get_steps()}
        report = steps["evaluate"].get_output_data("report").path_on_datastore
        assert Path(scenario.store.local_path(report), "data.txt").read_text() == "rows|prep5|train|evaluate"
    scenario.executed()
    steps = scenario.run()
    assert scenario.executed() == ["audit"]
    assert steps["evaluate"].get_status() == "Reused"
