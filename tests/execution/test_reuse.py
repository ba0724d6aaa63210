"""The reuse index and StepExecution's reuse decision: real subprocesses, a real local datastore, no Airflow."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

import pytest

from airflow_azml.compiler import compile_pipeline
from airflow_azml.core import Workspace
from airflow_azml.data import DataReference
from airflow_azml.execution import StepExecution, StepInvocation
from airflow_azml.execution.fingerprint import Fingerprint
from airflow_azml.execution.reuse import ReuseIndex, decide, drop_entries, explain, referenced_outputs
from airflow_azml.pipeline.core import Pipeline, PipelineData, PipelineParameter
from airflow_azml.pipeline.steps import PythonScriptStep
from tests.conftest import write

SCRIPT = """
import argparse, os, sys
p = argparse.ArgumentParser(); p.add_argument("--src"); p.add_argument("--out"); p.add_argument("--n")
a = p.parse_args()
open(os.environ["COUNTER"], "a").write(os.path.basename(sys.argv[0]) + "\\n")
os.makedirs(a.out, exist_ok=True)
text = open(os.path.join(a.src, "data.txt")).read() if a.src else ""
open(os.path.join(a.out, "data.txt"), "w").write(text.upper() + str(a.n))
"""


# -- explanations ------------------------------------------------------------------------
def _comp(**over):
    base = {
        "step": {"kind": "python_script", "name": "train"},
        "source": {"digest": "s1", "files": {"train.py": "a", "util.py": "b"}},
        "arguments": {"arguments": ["--n", {"$param": "n"}], "params": {}},
        "parameters": {"n": 5},
        "version": None,
        "io": {"inputs": [], "outputs": []},
        "environment": {"pip": []},
        "config": {},
        "inputs": {
            "raw_data": {"location": "ds/raw", "version": "e1"},
            "prepped": {"step": "prep", "output": "o", "fingerprint": "f1", "version": "p1"},
        },
    }
    base.update(over)
    return base


def test_explain_says_why_in_words():
    old = _comp()
    assert explain(old, _comp()) == []
    src = {"digest": "s2", "files": {"train.py": "z", "util.py": "b", "new.py": "c"}}
    assert explain(old, _comp(source=src), "train.py") == ["script train.py changed", "file new.py added"]
    assert explain(old, _comp(source={"digest": "s3", "files": {"train.py": "a"}})) == [
        "file util.py removed"
    ]
    assert explain(old, _comp(parameters={"n": 6})) == ["parameter n 5→6"]
    inputs = {**old["inputs"], "raw_data": {"location": "ds/raw", "version": "e2"}}
    assert explain(old, _comp(inputs=inputs)) == ["input raw_data changed (etag e1 → e2)"]
    inputs = {**old["inputs"], "prepped": {**old["inputs"]["prepped"], "fingerprint": "f2", "version": "p2"}}
    assert explain(old, _comp(inputs=inputs)) == ["upstream prep reran"]
    assert explain(old, _comp(arguments={"arguments": [], "params": {}})) == ["arguments changed"]
    assert explain(old, _comp(version="2")) == ["version changed (None→2)"]
    assert explain(old, _comp(environment={"pip": ["numpy"]})) == ["environment changed"]
    assert explain(old, _comp(config={"timeout_seconds": 5})) == ["step settings changed (timeout_seconds)"]
    assert explain(old, _comp(source={"digest": "big"})) == ["source_directory content changed"]


# -- the index on a real local datastore ---------------------------------------------------
@pytest.fixture
def ws(workspace_dir: Path) -> Workspace:
    return Workspace.from_config(workspace_dir)


def _publish(ws: Workspace, rel: str, text: str = "x") -> dict:
    write(Path(ws.get_default_datastore().store.local_path(rel)) / "part.txt", text)
    return {"datastore": ws.get_default_datastore().name, "path": rel}


def test_decide_reuses_only_complete_outputs(ws):
    index = ReuseIndex(ws, "dag", "train")
    fp = Fingerprint("f" * 64, _comp())
    assert decide(index, fp, allow_reuse=True, regenerate=False).reason == "no earlier run"
    out = _publish(ws, "azureml/r1/train/model")
    index.record(fp, run_id="r1", step="train", step_run_id="r1_train", outputs={"model": out})
    hit = decide(index, fp, allow_reuse=True, regenerate=False)
    assert hit.reuse and hit.entry["run_id"] == "r1" and "run r1" in hit.reason
    assert decide(index, fp, allow_reuse=False, regenerate=False).reason == "allow_reuse=False"
    assert decide(index, fp, allow_reuse=True, regenerate=True).reason == "regenerate_outputs requested"
    other = Fingerprint("g" * 64, _comp(parameters={"n": 6}))
    assert decide(index, other, allow_reuse=True, regenerate=False).reason == "parameter n 5→6"
    _publish(ws, "azureml/r1/train/model", "partly rewritten")
    miss = decide(index, fp, allow_reuse=True, regenerate=False)
    assert not miss.reuse and "changed or is incomplete" in miss.reason and "model" in miss.reason
    ws.get_default_datastore().store.delete("azureml/r1/train/model")
    miss = decide(index, fp, allow_reuse=True, regenerate=False)
    assert not miss.reuse and miss.reason.startswith("earlier output 'model' of run r1 is gone")


def test_concurrent_writers_leave_a_valid_entry(ws):
    out = _publish(ws, "azureml/r/train/model")
    fp = Fingerprint("a" * 64, _comp())

    def writer(i: int) -> None:
        for _ in range(20):
            ReuseIndex(ws, "dag", "train").record(
                fp, run_id=f"r{i}", step="train", step_run_id="x", outputs={"model": out}
            )

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    entry = ReuseIndex(ws, "dag", "train").lookup(fp.digest)
    assert entry["run_id"] in {"r0", "r1", "r2", "r3"} and entry["outputs"]["model"]["path"] == out["path"]
    store = ws.get_default_datastore().store
    assert not [p for p in store.list_files(".azml/reuse") if p.endswith(".tmp")]


def test_retention_helpers_see_and_drop_what_the_index_points_to(ws):
    store = ws.get_default_datastore().store
    out = _publish(ws, "azureml/r1/train/model")
    ReuseIndex(ws, "dag", "train").record(
        Fingerprint("b" * 64, _comp()), run_id="r1", step="train", step_run_id="x", outputs={"model": out}
    )
    assert referenced_outputs(store) == {(out["datastore"], out["path"])}
    assert drop_entries(store, out["datastore"], "azureml/r1") == [f".azml/reuse/dag/train/{'b' * 64}.json"]
    assert referenced_outputs(store) == set()


# -- StepExecution: fingerprint after inputs are resolved, reuse before launching ------------
class Pipe:
    """A two-step pipeline run step by step with StepExecution (what the operator does, minus Airflow)."""

    def __init__(self, workspace_dir: Path, ws: Workspace, counter: Path):
        self.ws, self.counter = ws, counter
        src = workspace_dir / "steps"
        write(src / "prep.py", SCRIPT)
        write(src / "train.py", SCRIPT)
        write(Path(ws.get_default_datastore().store.local_path("raw")) / "data.txt", "hello")
        raw = DataReference(ws.get_default_datastore(), "raw_data", "raw")
        mid = PipelineData("mid")
        n = PipelineParameter("n", 5)
        prep = PythonScriptStep(
            "prep.py",
            name="prep",
            source_directory=str(src),
            inputs=[raw],
            outputs=[mid],
            arguments=["--src", raw, "--out", mid, "--n", n],
        )
        model = PipelineData("model")
        train = PythonScriptStep(
            "train.py",
            name="train",
            source_directory=str(src),
            inputs=[mid],
            outputs=[model],
            arguments=["--src", mid, "--out", model],
        )
        self.plan = compile_pipeline(Pipeline(ws, [prep, train]), "reuse_unit")

    def run(self, run_id: str, conf: dict | None = None, params: dict | None = None) -> dict[str, dict]:
        upstream: dict[str, dict] = {}
        results = {}
        for tid, step in self.plan["steps"].items():
            inv = StepInvocation(
                dag_id="reuse_unit",
                run_id=run_id,
                step=step,
                workspace=self.plan["workspace"],
                parameters=self.plan["parameters"],
                params=params or {},
                upstream={u: upstream[u] for u in step["upstream"]},
                conf=conf or {},
            )
            results[tid] = StepExecution(inv, log=logging.getLogger("test")).run()
            upstream[tid] = results[tid]["outputs"]
        return results

    def executed(self) -> list[str]:
        lines = self.counter.read_text().split() if self.counter.exists() else []
        self.counter.unlink(missing_ok=True)
        return lines


@pytest.fixture
def pipe(workspace_dir, ws, tmp_path, monkeypatch) -> Pipe:
    counter = tmp_path / "counter.txt"
    monkeypatch.setenv("COUNTER", str(counter))
    return Pipe(workspace_dir, ws, counter)


def _record(pipe: Pipe, run_id: str, task: str) -> dict:
    rel = f".azml/runs/reuse_unit/{run_id}/{task}.json"
    return json.loads(pipe.ws.get_default_datastore().store.read_bytes(rel))


def test_step_execution_reuses_and_says_why(pipe, caplog):
    first = pipe.run("r1")
    assert pipe.executed() == ["prep.py", "train.py"]
    assert _record(pipe, "r1", "prep")["run_reason"] == "no earlier run"
    caplog.set_level(logging.INFO)
    second = pipe.run("r2")
    assert pipe.executed() == []
    assert second["train"]["outputs"] == first["train"]["outputs"] and second["train"]["reused"]
    rec = _record(pipe, "r2", "train")
    assert rec["reused"] and rec["status"] == "Finished" and rec["reused_from"]["run_id"] == "r1"
    assert "Reused: step train of run r1 (fingerprint" in caplog.text
    pipe.run("r3", params={"n": 6})
    assert pipe.executed() == ["prep.py", "train.py"]
    assert _record(pipe, "r3", "prep")["run_reason"] == "parameter n 5→6"
    assert _record(pipe, "r3", "train")["run_reason"] == "upstream prep reran"


def test_step_execution_reruns_on_changed_input_content_and_missing_outputs(pipe):
    pipe.run("r1")
    pipe.executed()
    raw = Path(pipe.ws.get_default_datastore().store.local_path("raw")) / "data.txt"
    raw.write_text("HELLO again")
    pipe.run("r2")
    assert pipe.executed() == ["prep.py", "train.py"]
    assert _record(pipe, "r2", "prep")["run_reason"].startswith("input raw_data changed (etag ")
    model = _record(pipe, "r2", "train")["outputs"]["model"]
    pipe.ws.get_default_datastore().store.delete(model["path"])
    pipe.run("r3")
    assert pipe.executed() == ["train.py"]
    assert "earlier output 'model' of run r2 is gone" in _record(pipe, "r3", "train")["run_reason"]
    pipe.run("r4", conf={"regenerate_outputs": True})
    assert pipe.executed() == ["prep.py", "train.py"]
    assert _record(pipe, "r4", "prep")["run_reason"] == "regenerate_outputs requested"
