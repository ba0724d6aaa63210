"""(a) DAG-file import+build time: a 200-step pipeline vs a hand-written DAG of 200 BashOperators.

One timing process imports what Airflow's DAG processor has loaded before it parses a file
(``airflow.dag_processing.processor``, ``airflow.sdk``), then forks a child per parse, as the
DAG processor does, alternating between the two files. Each child times only the execution
of the DAG file (each side imports its own operator module inside it), in CPU seconds of that
child: wall time on a shared 2-core machine mostly measures the neighbours. The figure is
the ratio of the medians of many parses per side.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from bench._common import report, run_timed

STEPS = 200
REPEATS = 60

OURS = """
from airflow_azml.core import Workspace
from airflow_azml.pipeline.core import Pipeline, PipelineData, PipelineParameter
from airflow_azml.pipeline.steps import PythonScriptStep

ws = Workspace.from_config()
n = PipelineParameter("n", 3)
steps, prev = [], None
for i in range({steps}):
    out = PipelineData(f"d{{i}}")
    args = ["--n", n, "--out", out] + (["--in", prev] if prev is not None else [])
    steps.append(PythonScriptStep("step.py", name=f"step_{{i}}", source_directory="src", arguments=args,
                                  inputs=[prev] if prev is not None else [], outputs=[out]))
    prev = out
dag = Pipeline(ws, steps).to_dag("bench_parse_ours")
"""

HANDWRITTEN = """
from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG, Param

with DAG("bench_parse_hand", schedule=None, params={{"n": Param(3, type="integer")}}) as dag:
    prev = None
    for i in range({steps}):
        cmd = f"python src/step.py --n {{{{ params.n }}}} --out /data/d{{i}}" + (f" --in /data/d{{i-1}}" if i else "")
        task = BashOperator(task_id=f"step_{{i}}", bash_command=cmd)
        if prev is not None:
            prev >> task
        prev = task
"""

TIMER = """
import os, runpy, statistics, sys, time
import airflow.dag_processing.processor
import airflow.sdk
import gc

gc.freeze()  # as the DAG processor does before it forks its parsing children


def parse(path):
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        start = time.process_time()
        runpy.run_path(path)
        os.write(write, repr(time.process_time() - start).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        value = pipe.read()
    _, status = os.waitpid(pid, 0)
    if status != 0 or not value:
        raise SystemExit(f"parsing {path} failed (status {status})")
    return float(value)

files, repeats = sys.argv[1:3], int(sys.argv[3])
for path in files:
    parse(path)  # warm the OS caches and the bytecode
times = {path: [] for path in files}
for _ in range(repeats):
    for path in files:
        times[path].append(parse(path))
print(" ".join(repr(statistics.median(times[path])) for path in files))
"""


def _median_parse_times(ours: Path, hand: Path) -> tuple[float, float]:
    import subprocess

    proc = subprocess.run(
        [sys.executable, "-c", TIMER, str(ours), str(hand), str(REPEATS)],
        capture_output=True,
        text=True,
        cwd=ours.parent,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"parse timing failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    t_ours, t_hand = proc.stdout.split()[-2:]
    return float(t_ours), float(t_hand)


def main() -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "src").mkdir()
        (root / "src" / "step.py").write_text("print('step')\n")
        ours, hand = root / "ours.py", root / "hand.py"
        ours.write_text(OURS.format(steps=STEPS))
        hand.write_text(HANDWRITTEN.format(steps=STEPS))
        t_ours, t_hand = _median_parse_times(ours, hand)
        full_ours = run_timed([sys.executable, str(ours)])
        full_hand = run_timed([sys.executable, str(hand)])
    rows = [
        {
            "what": f"DAG file import+build, {STEPS} steps (DAG processor preloaded)",
            "ours_cpu_s": t_ours,
            "handwritten_cpu_s": t_hand,
            "ratio": t_ours / t_hand,
            "parses_per_side": REPEATS,
            "target": "<= 1.2",
        },
        {
            "what": "same, cold process incl. Airflow import",
            "ours_s": full_ours,
            "handwritten_s": full_hand,
            "ratio": full_ours / full_hand,
            "target": "-",
        },
    ]
    report("parse", rows)
    return rows


if __name__ == "__main__":
    main()
