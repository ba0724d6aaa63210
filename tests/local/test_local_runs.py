"""Local runs on the embedded Airflow (issue #14): independent steps at the same time without losing
outputs, records or reuse entries, two runs of different pipelines at once, and a task whose process
dies failing the run instead of hanging it (canceling: test_local_cancel.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_azml.core import Experiment, Workspace
from airflow_azml.pipeline.core import Pipeline, PipelineData
from airflow_azml.pipeline.steps import PythonScriptStep
from tests.conftest import write

pytestmark = pytest.mark.slow

WORK = """
import argparse, os, time
p = argparse.ArgumentParser(); p.add_argument("--name"); p.add_argument("--out"); p.add_argument("--ins", nargs="*")
a = p.parse_args()
open(os.environ["AZML_TEST_COUNTER"], "a").write(a.name + "\\n")
barrier, expected = os.environ.get("AZML_TEST_BARRIER"), int(os.environ.get("AZML_TEST_BARRIER_N", "0"))
if barrier and not a.ins:  # an independent step waits until every independent step of both runs has started:
    open(os.path.join(barrier, a.name), "w").close()  # it cannot pass unless they all run at the same time
    deadline = time.monotonic() + 300
    while len(os.listdir(barrier)) < expected:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {sorted(os.listdir(barrier))} started: the steps did not run at the same time")
        time.sleep(0.05)
time.sleep(0.5)
os.makedirs(a.out, exist_ok=True)
seen = [open(os.path.join(i, "v.txt")).read() for i in (a.ins or [])]
open(os.path.join(a.out, "v.txt"), "w").write("+".join(seen + [a.name]))
"""


def _fan_in(ws: Workspace, src: Path, prefix: str, width: int, join: bool) -> Pipeline:
    """``width`` independent steps writing one output each, and (``join``) one step reading them all."""
    outs, steps = [], []
    for i in range(width):
        out = PipelineData(f"{prefix}{i}_out")
        outs.append(out)
        steps.append(
            PythonScriptStep(
                "work.py",
                name=f"{prefix}{i}",
                source_directory=str(src),
                arguments=["--name", f"{prefix}{i}", "--out", out],
                outputs=[out],
            )
        )
    if join:
        total = PipelineData(f"{prefix}_all")
        steps.append(
            PythonScriptStep(
                "work.py",
                name=f"{prefix}_join",
                source_directory=str(src),
                arguments=["--name", f"{prefix}_join", "--out", total, "--ins", *outs],
                inputs=outs,
                outputs=[total],
            )
        )
    return Pipeline(ws, steps)


def test_concurrent_steps_and_runs_lose_nothing(embedded_airflow_home, workspace_dir, tmp_path, monkeypatch):
    counter = tmp_path / "counter.txt"
    monkeypatch.setenv("AZML_TEST_COUNTER", str(counter))
    monkeypatch.setenv("AZML_LOCAL_PARALLELISM", "4")
    (tmp_path / "barrier").mkdir()
    monkeypatch.setenv("AZML_TEST_BARRIER", str(tmp_path / "barrier"))
    monkeypatch.setenv("AZML_TEST_BARRIER_N", "7")  # a0..a3 and b0..b2
    ws = Workspace.from_config(workspace_dir)
    write(workspace_dir / "src" / "work.py", WORK)
    wide = _fan_in(ws, workspace_dir / "src", "a", 4, join=True)
    other = _fan_in(ws, workspace_dir / "src", "b", 3, join=False)

    # two runs of different pipelines at the same time, each with steps at the same time
    runs = [Experiment(ws, "local_wide").submit(wide), Experiment(ws, "local_other").submit(other)]
    assert [r.wait_for_completion(show_output=False, timeout_seconds=600) for r in runs] == ["Finished"] * 2

    steps = {s.name: s for r in runs for s in r.get_steps()}
    assert len(steps) == 8 and all(s.get_status() == "Finished" for s in steps.values())
    spans = {
        prefix: [
            (s.record["start"], s.record["start"] + s.record["duration"])
            for s in run.get_steps()
            if "join" not in s.name
        ]
        for prefix, run in zip("ab", runs, strict=True)
    }
    for prefix, run_spans in spans.items():  # each run's independent steps ran at the same time
        assert max(a for a, _ in run_spans) < min(b for _, b in run_spans), (
            f"{prefix}: no overlap in {run_spans}"
        )
    assert min(a for a, _ in spans["b"]) < max(b for _, b in spans["a"]), "the two runs did not overlap"
    assert sorted(counter.read_text().split()) == sorted(steps)
    dl = tmp_path / "dl"
    joined = Path(runs[0].find_step_run("a_join")[0].get_output_data("a_all").download(str(dl))) / "v.txt"
    assert joined.read_text() == "a0+a1+a2+a3+a_join"
    for name in ("b0", "b1", "b2"):
        got = Path(runs[1].find_step_run(name)[0].get_output_data(f"{name}_out").download(str(dl / name)))
        assert (got / "v.txt").read_text() == name

    # every concurrent step's reuse entry and record was kept: the same pipeline again runs nothing
    counter.unlink()
    again = Experiment(ws, "local_wide").submit(wide)
    assert again.wait_for_completion(show_output=False, timeout_seconds=600) == "Finished"
    assert [s.get_status() for s in again.get_steps()] == ["Reused"] * 5
    assert not counter.exists()


def test_a_task_whose_process_dies_fails_the_run_instead_of_hanging(embedded_airflow_home, workspace_dir):
    ws = Workspace.from_config(workspace_dir)
    # the script SIGKILLs the task process running it: the task never reports an end
    write(workspace_dir / "die" / "die.py", "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n")
    step = PythonScriptStep(
        "die.py", name="die", source_directory=str(workspace_dir / "die"), allow_reuse=False
    )
    run = Experiment(ws, "local_lost").submit(Pipeline(ws, [step]))
    assert run.wait_for_completion(show_output=False, timeout_seconds=300, raise_on_error=False) == "Failed"
    assert run.get_steps()[0].get_status() == "Failed"
