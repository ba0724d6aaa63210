"""HyperDriveStep: 16 children of a 3 s script, max_concurrent_runs=4, through Airflow.

Two figures, one sweep each (run through the embedded runner, ``Experiment.submit`` → ``dag.test``):

- ``grid``: 16 children, every one running its full 3 s. The ideal is 4 waves × 3 s = 12 s;
  ``step_s`` is the step's own duration (from its run record), ``wall_s`` the whole pipeline run
  (process start of the children, Airflow's fixed cost included), ``vs_ideal`` = step_s / 12.
- ``bandit``: the same 16 children of which 12 are obviously bad from their first logged value,
  in every wave of 4, with and without ``BanditPolicy(evaluation_interval=1, slack_factor=0.1)``:
  ``child_s`` = the children's summed run time (the compute used), ``saved`` the share Bandit saved.

Children are processes inside the step's task (see docs in airflow_azml/provider/operators/hyperdrive.py).
The machine's load matters: the figures say how many CPUs there are and the load average.

Then the issue #15 figures on a live LocalExecutor deployment (``bench/bench_hyperdrive_live.py``):
the same sweep against the ideal and against a hand-written mapped-task DAG doing the same, and
Bandit's saving there (``--no-live`` skips them, ``--live-runs N`` sets the runs per DAG).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

from bench._common import report

SCRIPT = """
import argparse, time
from airflow_azml.core import Run

p = argparse.ArgumentParser()
p.add_argument("--quality", type=float)
p.add_argument("--seed", type=int)
a = p.parse_args()
run = Run.get_context()
for i in range(6):
    run.log("accuracy", a.quality)
    time.sleep(0.5)
"""


def _sweep(ws, folder: Path, name: str, qualities: list[float], policy) -> dict:
    from airflow_azml.core import Experiment, ScriptRunConfig
    from airflow_azml.pipeline.core import Pipeline
    from airflow_azml.pipeline.steps import HyperDriveStep
    from airflow_azml.train.hyperdrive import (
        GridParameterSampling,
        HyperDriveConfig,
        PrimaryMetricGoal,
        choice,
    )

    cfg = HyperDriveConfig(
        run_config=ScriptRunConfig(source_directory=str(folder), script="train.py"),
        hyperparameter_sampling=GridParameterSampling(  # seed slowest: each wave mixes the qualities
            {
                "--seed": choice(*range(len(qualities) // len(set(qualities)))),
                "--quality": choice(*sorted(set(qualities))),
            }
        ),
        primary_metric_name="accuracy",
        primary_metric_goal=PrimaryMetricGoal.MAXIMIZE,
        max_total_runs=len(qualities),
        max_concurrent_runs=4,
        policy=policy,
    )
    start = time.perf_counter()
    run = Experiment(ws, name).submit(Pipeline(ws, [HyperDriveStep("sweep", cfg, allow_reuse=False)]))
    run.wait_for_completion(show_output=False)
    wall = time.perf_counter() - start
    step = run.find_step_run("sweep")[0]
    children = [c.record for c in step.get_children()]
    starts, ends = [c["start_time"] for c in children], [c["end_time"] for c in children]
    return {
        "children": len(children),
        "canceled": sum(c["status"] == "Canceled" for c in children),
        "step_s": round(max(ends) - min(starts), 2),
        "wall_s": round(wall, 2),
        "child_s": round(sum(e - s for s, e in zip(starts, ends, strict=True)), 2),
    }


def main() -> None:
    from airflow_azml.core import Workspace
    from airflow_azml.train.hyperdrive import BanditPolicy

    tmp = Path(tempfile.mkdtemp(prefix="bench-hd-"))
    os.environ["AZML_HOME"] = str(tmp / "home")
    os.environ.setdefault("AZML_AIRFLOW_HOME", str(tmp / "airflow"))
    (tmp / "project").mkdir()
    (tmp / "project" / "config.json").write_text(json.dumps({"workspace_name": "bench"}))
    (tmp / "train").mkdir()
    (tmp / "train" / "train.py").write_text(SCRIPT)
    ws = Workspace.from_config(str(tmp / "project"))
    load = os.getloadavg()[0]
    grid = _sweep(ws, tmp / "train", "bench_hd_grid", [0.9] * 16, None)
    mixed = [0.1, 0.2, 0.3, 0.9] * 4
    plain = _sweep(ws, tmp / "train", "bench_hd_plain", mixed, None)
    bandit = _sweep(
        ws, tmp / "train", "bench_hd_bandit", mixed, BanditPolicy(evaluation_interval=1, slack_factor=0.1)
    )
    rows = [
        {"case": "grid16x3s_c4", **grid, "ideal_s": 12.0, "vs_ideal": round(grid["step_s"] / 12.0, 3)},
        {"case": "mixed_no_policy", **plain},
        {"case": "mixed_bandit", **bandit, "saved": round(1 - bandit["child_s"] / plain["child_s"], 3)},
    ]
    for row in rows:
        row.update(cpus=os.cpu_count(), load_avg=round(load, 2))
    report("hyperdrive", rows)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--no-live", action="store_true", help="only the embedded-runner figures")
    parser.add_argument("--live-runs", type=int, default=3)
    args = parser.parse_args()
    main()
    if not args.no_live:
        from bench.bench_hyperdrive_live import main as live

        live(args.live_runs)
