"""(a) DAG-file import+build time: a 200-step pipeline vs a hand-written DAG of 200 BashOperators.

Each measurement runs in a fresh process that has imported what Airflow's DAG processor has
loaded before it parses a file (``airflow.dag_processing.processor``, ``airflow.sdk``), and
times only the execution of the DAG file, in CPU seconds of that process (wall time on a
shared 2-core machine mostly measures the neighbours). Each side imports its own operator
module inside the timed part, as it does in the DAG processor. Runs alternate between the
two files; the figure is the ratio of medians.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from bench._common import median_of, report, run_timed

STEPS = 200
REPEATS = 15

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
import runpy, sys, time
import airflow.dag_processing.processor
import airflow.sdk
t = time.process_time()
runpy.run_path(sys.argv[1])
print(time.process_time() - t)
"""


def _time_file(path: Path) -> float:
    import subprocess

    proc = subprocess.run(
        [sys.executable, "-c", TIMER, str(path)], capture_output=True, text=True, check=True
    )
    return float(proc.stdout.strip().splitlines()[-1])


def main() -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "src").mkdir()
        (root / "src" / "step.py").write_text("print('step')\n")
        ours, hand = root / "ours.py", root / "hand.py"
        ours.write_text(OURS.format(steps=STEPS))
        hand.write_text(HANDWRITTEN.format(steps=STEPS))
        _time_file(ours), _time_file(hand)  # warm the OS caches
        t_ours, t_hand = [], []
        for _ in range(REPEATS):
            t_ours.append(_time_file(ours))
            t_hand.append(_time_file(hand))
        full_ours = run_timed([sys.executable, str(ours)])
        full_hand = run_timed([sys.executable, str(hand)])
    rows = [
        {
            "what": f"DAG file import+build, {STEPS} steps (DAG processor preloaded)",
            "ours_cpu_s": median_of(t_ours),
            "handwritten_cpu_s": median_of(t_hand),
            "ratio": median_of(t_ours) / median_of(t_hand),
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
