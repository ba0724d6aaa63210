"""Local runs (issue #14), each timed as a user sees it: a fresh driver process per run, warm embedded
home (its warm local server already up), variants alternated.

(a) four independent 5 s steps against one 5 s step (``Experiment.submit`` + ``wait_for_completion``);
    target <= 1.2 (steps at the same time; AZML_LOCAL_PARALLELISM=4 on this 2-core machine, the
    steps sleep).
(b) one 5 s step against its script run directly (``python sleep.py 5``); target <= 2.0.
(c) a 10-step chain of light steps (pipeline DAG file) against the hand-written BashOperator DAG,
    both started by the same driver (``start_local_run``, then it waits for the runner process to
    end: a 0.2 s status poll alone moved the ratio by up to ±0.06); target <= 1.05.

Run: ``.venv/bin/python -m bench.bench_local`` (fresh AZML_HOME and Airflow home in a temp dir).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

from bench._common import REPO, median_of, report, run_timed

REPEATS = 5
SLEEP_S = 5

SLEEP = "import sys, time\ntime.sleep(float(sys.argv[1]))\n"

SUBMIT = """
import sys
from airflow_azml.core import Experiment, Workspace
from airflow_azml.pipeline.core import Pipeline
from airflow_azml.pipeline.steps import PythonScriptStep

n, seconds = int(sys.argv[1]), sys.argv[2]
ws = Workspace.from_config(sys.argv[3])
steps = [PythonScriptStep("sleep.py", name=f"s{i}", source_directory=sys.argv[4], arguments=[seconds],
                          allow_reuse=False) for i in range(n)]
run = Experiment(ws, f"bench_local_{n}").submit(Pipeline(ws, steps))
assert run.wait_for_completion(show_output=False) == "Finished"
"""

DRIVE = """
import sys, time
from airflow_azml.provider.local.embedded import start_local_run

handle = start_local_run(__import__("pathlib").Path(sys.argv[1]), sys.argv[2], {})
while handle.proc is None:  # not yet answered by the warm server
    time.sleep(0.01)
handle.proc.wait()  # the runner's end, not a status poll: no polling quantum in either variant
status = handle.status()
assert status["state"] == "success" and status["tasks"], status
assert all(t["state"] == "success" for t in status["tasks"].values()), status
"""


def main() -> list[dict]:
    from bench.bench_chain import HAND, OURS, SCRIPT

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        env = {
            "AZML_HOME": str(root / "azml"),
            "AZML_AIRFLOW_HOME": str(root / "airflow"),
            "AZML_LOCAL_PARALLELISM": "4",
            "AZML_LOCAL_OWNER_PID": str(os.getpid()),  # the warm server ends with the bench
            "PYTHONPATH": str(REPO),
        }
        (root / "config.json").write_text(json.dumps({"workspace_name": "bench"}))
        (root / "src").mkdir()
        (root / "src" / "sleep.py").write_text(SLEEP)
        (root / "submit.py").write_text(SUBMIT)
        (root / "drive.py").write_text(DRIVE)
        for name in ("ours", "hand"):
            (root / name / "src").mkdir(parents=True)
            (root / name / "src" / "tiny.py").write_text(SCRIPT)
        (root / "ours" / "ours.py").write_text(OURS.format(steps=10))
        (root / "hand" / "hand.py").write_text(
            HAND.format(steps=10, data=root / "data", src=root / "hand" / "src")
        )

        def submit(n: int, seconds: float = SLEEP_S) -> float:
            argv = [
                sys.executable,
                str(root / "submit.py"),
                str(n),
                str(seconds),
                str(root),
                str(root / "src"),
            ]
            return run_timed(argv, env=env, cwd=root)

        def drive(dag_file: Path, dag_id: str) -> float:
            return run_timed(
                [sys.executable, str(root / "drive.py"), str(dag_file), dag_id], env=env, cwd=dag_file.parent
            )

        cold = submit(1, 0)  # starts the warm server (and migrates the DB): the first run of a home
        drive(root / "ours" / "ours.py", "bench_chain_ours")  # its loader parse once before timing
        script = [sys.executable, str(root / "src" / "sleep.py"), str(SLEEP_S)]
        four, one, bare, ours, hand = [], [], [], [], []
        for _ in range(REPEATS):
            four.append(submit(4))
            one.append(submit(1))
            bare.append(run_timed(script))
            ours.append(drive(root / "ours" / "ours.py", "bench_chain_ours"))
            hand.append(drive(root / "hand" / "hand.py", "bench_chain_hand"))
    f, o, b, c_ours, c_hand = map(median_of, (four, one, bare, ours, hand))
    rows = [
        {
            "what": "local run: 4 independent 5 s steps vs 1 (fresh driver, warm home, parallelism 4)",
            "four_s": f,
            "one_s": o,
            "ratio": f / o,
            "target": "<= 1.2",
        },
        {
            "what": "local run: one 5 s step vs its script alone (fresh driver, warm home)",
            "step_s": o,
            "script_s": b,
            "first_run_of_a_home_s": cold,
            "ratio": o / b,
            "target": "<= 2.0",
        },
        {
            "what": "local run: 10-step chain of light steps vs hand-written BashOperator DAG (same driver)",
            "ours_s": c_ours,
            "handwritten_s": c_hand,
            "ratio": c_ours / c_hand,
            "target": "<= 1.05",
        },
    ]
    report("local", rows)
    return rows


if __name__ == "__main__":
    main()
