"""``azml graph``: the real command in a subprocess, in each format, on data and run_after edges."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import write

REPO = Path(__file__).resolve().parents[2]
DAG = """from airflow_azml.core import Workspace
from airflow_azml.pipeline.core import Pipeline, PipelineData
from airflow_azml.pipeline.steps import PythonScriptStep

ws = Workspace.from_config()
store = ws.get_default_datastore()
features, labels = PipelineData("features", datastore=store), PipelineData("labels", datastore=store)
prep = PythonScriptStep(name="prep", script_name="s.py", source_directory="steps", outputs=[features, labels],
                        compute_target="cpu")
train = PythonScriptStep(name="train", script_name="s.py", source_directory="steps", inputs=[features, labels])
notify = PythonScriptStep(name="notify", script_name="s.py", source_directory="steps")
notify.run_after(train)
dag = Pipeline(workspace=ws, steps=[notify, train]).to_dag("graph_pipe")
"""


def _graph(dag_file: Path, *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "airflow_azml.cli", "graph", str(dag_file), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=dag_file.parent,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


@pytest.fixture
def dag_file(workspace_dir: Path) -> Path:
    write(workspace_dir / "steps" / "s.py", "print('s')\n")
    return write(workspace_dir / "graph_pipe.py", DAG)


def test_text(dag_file: Path) -> None:
    out = _graph(dag_file)
    assert out.splitlines()[0] == "pipeline graph_pipe (3 steps)"
    assert "  prep [python_script on cpu]\n    writes features\n    writes labels\n" in out
    assert (
        "  train [python_script]\n    reads  features <- prep.features\n    reads  labels <- prep.labels\n"
        in out
    )
    assert "  notify [python_script]\n    after  train (run_after)\n" in out
    assert out.splitlines()[-3:] == [
        "  prep --features--> train",
        "  prep --labels--> train",
        "  train ..run_after..> notify",
    ]


def test_mermaid(dag_file: Path) -> None:
    out = _graph(dag_file, "--format", "mermaid").splitlines()
    assert out[0] == "flowchart LR"
    assert '  prep -->|"features"| train' in out and '  prep -->|"labels"| train' in out
    assert "  train -.->|run_after| notify" in out
    assert '  notify["notify<br/><small>python_script</small>"]' in out


def test_dot(dag_file: Path) -> None:
    out = _graph(dag_file, "--format", "dot")
    assert out.startswith('digraph "graph_pipe" {')
    assert '"prep" -> "train" [label="features"];' in out
    assert '"train" -> "notify" [label="run_after", style=dashed];' in out
    assert out.strip().endswith("}")


def test_json_and_seed(dag_file: Path) -> None:
    g = json.loads(_graph(dag_file, "--format", "json"))
    assert {n["id"] for n in g["nodes"]} == {"prep", "train", "notify"}
    assert len(g["edges"]) == 3
    seed = _graph(REPO / "dags" / "seed_pipeline.py")
    assert "reads  raw_data <- dataset my_data:latest" in seed and "prep --processed--> train" in seed


def test_a_file_without_pipeline_fails(workspace_dir: Path) -> None:
    empty = write(workspace_dir / "empty.py", "x = 1\n")
    proc = subprocess.run(
        [sys.executable, "-m", "airflow_azml.cli", "graph", str(empty)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0 and "builds no pipeline DAG" in proc.stderr
