"""Pipelines run end to end through Airflow (dag.test in the embedded runner), for real."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_azml.core import Dataset, Experiment, Workspace
from airflow_azml.data import DataPath, DataPathComputeBinding, OutputFileDatasetConfig
from airflow_azml.exceptions import ActivityFailedException
from airflow_azml.pipeline.core import Pipeline, PipelineData, PipelineParameter
from airflow_azml.pipeline.steps import PythonScriptStep
from tests.conftest import REPO, write

pytestmark = pytest.mark.slow

COPY_SCRIPT = """
import argparse, os, shutil
from airflow_azml.core import Run
p = argparse.ArgumentParser()
p.add_argument("--src"); p.add_argument("--dst"); p.add_argument("--tag")
a = p.parse_args()
os.makedirs(a.dst, exist_ok=True)
total = 0
for name in sorted(os.listdir(a.src)):
    text = open(os.path.join(a.src, name)).read()
    total += len(text.splitlines())
    open(os.path.join(a.dst, name), "w").write(text + a.tag + "\\n")
run = Run.get_context()
run.log("lines", total)
run.log("lines", total + 1)
run.log_row("files", file=name, lines=total)
run.parent.log("seen_by_" + a.tag, total)
print("copied", total, "lines with tag", a.tag)
"""


def test_seed_pipeline_through_azml_run(embedded_airflow_home, azml_home):
    env = {**os.environ, "AZML_HOME": str(azml_home)}
    proc = subprocess.run(
        [sys.executable, "-m", "airflow_azml.cli", "run", str(REPO / "dags" / "seed_pipeline.py")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "StepRun(prep) Status: Finished" in out and "StepRun(train) Status: Finished" in out
    assert "PipelineRun Status: Finished" in out
    assert "rows=240, regions=4" in out and "rmse=" in out
    store_root = Workspace.from_config(REPO / "dags").get_default_datastore().root  # the seed workspace's own
    assert store_root.is_relative_to(azml_home / "workspaces")
    models = list((store_root / "azureml").glob("*/train/model/model.json"))
    assert len(models) == 1
    assert json.loads(models[0].read_text())["features"] == [
        "bias",
        "temperature",
        "promo",
        "region_mean_units",
    ]
    assert not list((store_root / ".azml" / "staging").rglob("*.csv"))


def test_three_steps_with_datapath_parameter_overridden(embedded_airflow_home, workspace_dir, capsys):
    ws = Workspace.from_config(workspace_dir)
    store = ws.get_default_datastore()
    for folder, rows in (("raw/default", 2), ("raw/override", 3)):
        write(Path(store.root) / folder / "part.txt", "".join(f"{folder}-{i}\n" for i in range(rows)))
    write(workspace_dir / "steps" / "copy_step.py", COPY_SCRIPT)
    src = PipelineParameter("src", DataPath(store, "raw/default"))
    tag = PipelineParameter("tag", "x")
    one, two = PipelineData("one"), PipelineData("two")
    three = OutputFileDatasetConfig(name="three").register_on_complete("final_copy")
    binding = (src, DataPathComputeBinding())
    _a = PythonScriptStep(
        "copy_step.py",
        name="a",
        source_directory=str(workspace_dir / "steps"),
        inputs=[binding],
        outputs=[one],
        arguments=["--src", binding, "--dst", one, "--tag", tag],
    )
    _b = PythonScriptStep(
        "copy_step.py",
        name="b",
        source_directory=str(workspace_dir / "steps"),
        inputs=[one.as_download()],
        outputs=[two],
        arguments=["--src", one, "--dst", two, "--tag", "b"],
    )
    c = PythonScriptStep(
        "copy_step.py",
        name="c",
        source_directory=str(workspace_dir / "steps"),
        inputs=[two],
        arguments=["--src", two, "--dst", three, "--tag", "c"],
    )
    run = Experiment(ws, "three_steps").submit(
        Pipeline(ws, [c]), pipeline_parameters={"src": DataPath(store, "raw/override"), "tag": "y"}
    )
    assert run.wait_for_completion(show_output=False) == "Finished"
    steps = {s.name: s for s in run.get_steps()}
    assert [s.get_status() for s in steps.values()] == ["Finished"] * 3
    assert steps["a"].get_metrics() == {"lines": [3, 4], "files": {"file": ["part.txt"], "lines": [3]}}
    assert steps["c"].get_metrics()["lines"] == [5, 6]
    assert run.get_metrics() == {"seen_by_y": 3, "seen_by_b": 4, "seen_by_c": 5}
    assert "copied 3 lines with tag y" in steps["a"].get_stdout_log()
    target = steps["c"].get_output_data("three").download(str(workspace_dir / "dl"))
    lines = Path(target, "part.txt").read_text().splitlines()
    assert lines == [f"raw/override-{i}" for i in range(3)] + ["y", "b", "c"]
    from airflow_azml.widgets import RunDetails

    capsys.readouterr()
    RunDetails(run).show()
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["step", "status", "duration", "metrics", "outputs"]
    assert [line.split()[:2] for line in table[2:5]] == [
        ["a", "Finished"],
        ["b", "Finished"],
        ["c", "Finished"],
    ]
    final = Dataset.get_by_name(ws, "final_copy")
    assert final.version == "latest" and final.resolve().version == 1
    assert final.to_path() == ["/part.txt"]


def test_failing_step_stops_the_run_and_publishes_nothing(embedded_airflow_home, workspace_dir):
    ws = Workspace.from_config(workspace_dir)
    write(
        workspace_dir / "steps" / "boom.py",
        (
            "import os, sys\nos.makedirs(sys.argv[2], exist_ok=True)\nopen(os.path.join(sys.argv[2], 'half'), 'w')"
            ".write('x')\nprint('about to fail')\nraise ValueError('bad row 42 in input')\n"
        ),
    )
    write(workspace_dir / "steps" / "after.py", "print('never')\n")
    out = PipelineData("out")
    _boom = PythonScriptStep(
        "boom.py",
        name="boom",
        source_directory=str(workspace_dir / "steps"),
        outputs=[out],
        arguments=["--out", out],
    )
    after = PythonScriptStep(
        "after.py", name="after", source_directory=str(workspace_dir / "steps"), inputs=[out]
    )
    run = Experiment(ws, "failing").submit(Pipeline(ws, [after]))
    with pytest.raises(ActivityFailedException, match="ValueError: bad row 42 in input"):
        run.wait_for_completion(show_output=False)
    statuses = {s.name: s.get_status() for s in run.get_steps()}
    assert statuses == {"boom": "Failed", "after": "Canceled"}
    boom_run = run.find_step_run("boom")[0]
    assert "Step 'boom' failed: boom.py exited with code 1" in boom_run.record["error"]
    assert "about to fail" in boom_run.get_stdout_log()
    assert not (Path(ws.get_default_datastore().root) / "azureml").exists()
    staging = Path(ws.get_default_datastore().root) / ".azml" / "staging"
    assert not list(staging.rglob("half"))


def test_v1_code_runs_unchanged_with_the_compat_switch(embedded_airflow_home, workspace_dir):
    write(
        workspace_dir / "steps" / "v1.py",
        (
            "from azureml.core import Run\nimport azureml.core\nrun = Run.get_context()\n"
            "run.log('compat', azureml.core.VERSION)\nprint('v1 step ok', type(run).__module__)\n"
        ),
    )
    driver = write(
        workspace_dir / "driver.py",
        (
            "from airflow_azml import compat\ncompat.enable()\n"
            "from azureml.core import Workspace, Experiment\n"
            "from azureml.pipeline.core import Pipeline\n"
            "from azureml.pipeline.steps import PythonScriptStep\n"
            "ws = Workspace.from_config()\n"
            "step = PythonScriptStep(script_name='v1.py', source_directory='steps', compute_target='cpu')\n"
            "run = Experiment(ws, 'compat_exp').submit(Pipeline(workspace=ws, steps=[step]))\n"
            "status = run.wait_for_completion(show_output=True)\n"
            "print('METRICS', run.get_steps()[0].get_metrics())\n"
        ),
    )
    proc = subprocess.run(
        [sys.executable, str(driver)],
        capture_output=True,
        text=True,
        cwd=workspace_dir,
        env={**os.environ},
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "StepRun(v1.py) Status: Finished" in proc.stdout
    assert "METRICS {'compat': '0.1.0'}" in proc.stdout
