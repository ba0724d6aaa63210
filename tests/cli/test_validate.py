"""``azml validate``: the real command in a subprocess on valid and broken DAG files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import write

REPO = Path(__file__).resolve().parents[2]
HEADER = """from airflow_azml.core import Workspace
from airflow_azml.pipeline.core import Pipeline, PipelineData
from airflow_azml.pipeline.steps import PythonScriptStep

ws = Workspace.from_config()
"""


def _validate(dag_file: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "airflow_azml.cli", "validate", str(dag_file)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=dag_file.parent,
    )


def _project(workspace_dir: Path, name: str, body: str) -> Path:
    write(workspace_dir / "steps" / "a.py", "print('a')\n")
    return write(workspace_dir / name, HEADER + body)


def test_seed_pipeline_is_valid() -> None:
    proc = _validate(REPO / "dags" / "seed_pipeline.py")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip().endswith("seed_pipeline.py: OK")


def test_each_graph_problem_is_listed_with_file_line_and_step(workspace_dir: Path) -> None:
    dag = _project(
        workspace_dir,
        "bad.py",
        """orphan = PipelineData("orphan", datastore=ws.get_default_datastore())
twice = PipelineData("twice", datastore=ws.get_default_datastore())
a = PythonScriptStep(name="a", script_name="a.py", source_directory="steps", inputs=[orphan], outputs=[twice])
b = PythonScriptStep(name="b", script_name="a.py", source_directory="steps", outputs=[twice])
dag = Pipeline(workspace=ws, steps=[a, b]).to_dag("bad_pipe")
""",
    )
    proc = _validate(dag)
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert lines == [
        f"{dag}:10: Data 'twice' is an output of 2 steps (a, b); each PipelineData/OutputFileDatasetConfig "
        "must have exactly one producer.",
        f"{dag}:10: step a: Step 'a' reads 'orphan', which no step produces; add the producing step, "
        "or list 'orphan' in that step's outputs.",
        "2 problem(s) in " + str(dag) + ".",
    ]


def test_a_build_error_names_the_step_and_the_line(workspace_dir: Path) -> None:
    dag = _project(
        workspace_dir,
        "noscript.py",
        """a = PythonScriptStep(name="prep", script_name="missing.py", source_directory="steps")
dag = Pipeline(workspace=ws, steps=[a]).to_dag("noscript")
""",
    )
    proc = _validate(dag)
    assert proc.returncode == 1
    first = proc.stdout.splitlines()[0]
    assert first.startswith(f"{dag}:7: step prep: ") and "'missing.py' not found" in first


def test_unknown_compute_target(workspace_dir: Path) -> None:
    dag = _project(
        workspace_dir,
        "target.py",
        """a = PythonScriptStep(name="a", script_name="a.py", source_directory="steps",
                     compute_target="gpu-cluster")
dag = Pipeline(workspace=ws, steps=[a]).to_dag("target")
""",
    )
    proc = _validate(dag)
    assert proc.returncode == 1
    assert "step a: " in proc.stdout and "unknown compute target 'gpu-cluster'" in proc.stdout
    assert "cpu" in proc.stdout  # the known targets are named


def test_python_errors_and_missing_files_are_problems_too(workspace_dir: Path) -> None:
    broken = write(workspace_dir / "broken.py", HEADER + "x = undefined_name\n")
    proc = _validate(broken)
    assert proc.returncode == 1
    assert f"{broken}:6: NameError: name 'undefined_name' is not defined" in proc.stdout
    empty = write(workspace_dir / "empty.py", "x = 1\n")
    proc = _validate(empty)
    assert proc.returncode == 1 and "builds no pipeline DAG" in proc.stdout
    proc = _validate(workspace_dir / "nope.py")
    assert proc.returncode == 1 and "nope.py: no such file." in proc.stdout
