"""(b) Wall time of a 10-step chain of tiny scripts run through Airflow: pipeline vs hand-written DAG.

Both DAG files run the same way — the embedded runner (``dag.test()`` on SQLite, a fresh
process each time) — so the ratio is what the pipeline layer adds: inputs/outputs staging,
run records, XCom references. The hand-written DAG chains BashOperators that run the same
script with fixed folders.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from bench._common import median_of, report, run_dag_timed

STEPS = 10
REPEATS = 5

SCRIPT = """import argparse, os
p = argparse.ArgumentParser(); p.add_argument("--out"); p.add_argument("--in", dest="inp")
a = p.parse_args()
os.makedirs(a.out, exist_ok=True)
prev = open(os.path.join(a.inp, "n.txt")).read() if a.inp else "0"
open(os.path.join(a.out, "n.txt"), "w").write(str(int(prev) + 1))
"""

OURS = """
from airflow_azml.core import Workspace
from airflow_azml.pipeline.core import Pipeline, PipelineData
from airflow_azml.pipeline.steps import PythonScriptStep

ws = Workspace.from_config()
steps, prev = [], None
for i in range({steps}):
    out = PipelineData(f"d{{i}}")
    args = ["--out", out] + (["--in", prev] if prev is not None else [])
    steps.append(PythonScriptStep("tiny.py", name=f"s{{i}}", source_directory="src", arguments=args,
                                  inputs=[prev] if prev is not None else [], outputs=[out], allow_reuse=False))
    prev = out
dag = Pipeline(ws, steps).to_dag("bench_chain_ours")
"""

HAND = """
import sys
from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG

OUT = "{data}/{{{{ run_id | replace(':', '_') | replace('+', '_') }}}}/d"
with DAG("bench_chain_hand", schedule=None) as dag:
    prev = None
    for i in range({steps}):
        cmd = sys.executable + " {src}/tiny.py --out " + OUT + str(i)
        if i:
            cmd += " --in " + OUT + str(i - 1)
        task = BashOperator(task_id="s" + str(i), bash_command=cmd)
        if prev is not None:
            prev >> task
        prev = task
"""


def main() -> list[dict]:
    from airflow_azml.provider.local.embedded import embedded_env, ensure_db

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        os.environ["AZML_HOME"] = str(root / "azml")
        env = embedded_env(root)
        ensure_db(env)
        for name in ("ours", "hand"):
            (root / name / "src").mkdir(parents=True)
            (root / name / "src" / "tiny.py").write_text(SCRIPT)
        ours = root / "ours" / "ours.py"
        hand = root / "hand" / "hand.py"
        ours.write_text(OURS.format(steps=STEPS))
        hand.write_text(HAND.format(steps=STEPS, data=root / "data", src=root / "hand" / "src"))
        t_ours, t_hand = [], []
        for _ in range(REPEATS):
            t_ours.append(run_dag_timed(ours, env))
            t_hand.append(run_dag_timed(hand, env))
    o, h = median_of(t_ours), median_of(t_hand)
    rows = [
        {
            "what": f"{STEPS}-step chain of tiny scripts through Airflow (dag.test)",
            "ours_s": o,
            "handwritten_s": h,
            "ratio": o / h,
            "overhead_per_step_s": (o - h) / STEPS,
            "target": "<= 1.15",
        }
    ]
    report("chain", rows)
    return rows


if __name__ == "__main__":
    main()
