"""Trigger-to-finish time of the seed pipeline vs the same work as a hand-written DAG, on one live Airflow.

Both DAGs run on the same running Airflow (LocalExecutor, parallelism 4, SQLite), triggered
alternately over the REST API. The hand-written DAG is two BashOperators running the seed's
own scripts (``steps/prep/prep.py`` then ``steps/train/train.py``) on the same data: each gets
the run-context file a warm-up seed run wrote (same registered CSV as input, same tabular
read of prep's output), with outputs and metrics redirected to scratch folders. Time per run
is Airflow's own ``end_date - queued_at``. Target: median ratio <= 1.15.

    .venv/bin/python bench/bench_trigger.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import REPO, report  # noqa: E402
from tests.support.live_airflow import LiveAirflow  # noqa: E402

HAND_DAG = '''"""The seed pipeline's work as a plain hand-written DAG (benchmark baseline)."""
import os
from datetime import datetime

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG

CTX = os.environ["BENCH_CTX_DIR"]
PY = os.environ["BENCH_PYTHON"]
STEPS = os.path.join(os.path.dirname(__file__), "steps")

with DAG("seed_handwritten", schedule=None, start_date=datetime(2024, 1, 1), catchup=False):
    prep = BashOperator(task_id="prep", cwd=f"{STEPS}/prep",
                        bash_command=f"AZML_RUN_CONTEXT={CTX}/prep.json {PY} prep.py --folder {CTX}/out/processed --min 10")
    train = BashOperator(task_id="train", cwd=f"{STEPS}/train",
                         bash_command=f"AZML_RUN_CONTEXT={CTX}/train.json {PY} train.py --learning-rate 0.1 "
                                      f"--model-dir {CTX}/out/model")
    prep >> train
'''


def _seconds(run: dict) -> float:
    parse = datetime.fromisoformat
    return (parse(run["end_date"]) - parse(run["queued_at"])).total_seconds()


def _contexts(azml_home: Path, ctx_dir: Path) -> None:
    """Copy the warm-up seed run's step contexts, redirecting outputs and metrics to scratch."""
    out = ctx_dir / "out"
    out.mkdir(parents=True, exist_ok=True)
    for step in ("prep", "train"):
        found = sorted((azml_home / "work" / "seed_pipeline").glob(f"*/{step}/try_*/context.json"))
        ctx = json.loads(found[-1].read_text())
        ctx["output_datasets"] = {k: str(out / k) for k in ctx["output_datasets"]}
        for key in ("metrics_file", "parent_metrics_file"):
            ctx[key] = str(out / f"{step}_{key}.jsonl")
        ctx["files_dir"] = str(out / f"{step}_files")
        (ctx_dir / f"{step}.json").write_text(json.dumps(ctx))


def main(runs: int) -> dict:
    root = Path(tempfile.mkdtemp(prefix="bench_trigger_"))
    dags, ctx_dir, azml_home = root / "dags", root / "ctx", root / "azml_home"
    shutil.copytree(REPO / "dags", dags, ignore=shutil.ignore_patterns("__pycache__"))
    (dags / "seed_handwritten.py").write_text(HAND_DAG)
    env = {"AZML_HOME": str(azml_home), "BENCH_CTX_DIR": str(ctx_dir), "BENCH_PYTHON": sys.executable}
    times: dict[str, list[float]] = {"seed_pipeline": [], "seed_handwritten": []}
    try:
        with LiveAirflow(dags, home=root / "airflow", extra_env=env) as af:
            for dag_id in times:
                af.wait_dag(dag_id)
            warm = af.trigger("seed_pipeline", {"regenerate_outputs": True})
            assert af.wait_run("seed_pipeline", warm) == "success"
            _contexts(azml_home, ctx_dir)
            warm = af.trigger("seed_handwritten")
            assert af.wait_run("seed_handwritten", warm) == "success", af.log_tail("scheduler")
            for _ in range(runs):
                for dag_id in times:
                    conf = {"regenerate_outputs": True} if dag_id == "seed_pipeline" else {}
                    run_id = af.trigger(dag_id, conf)
                    assert af.wait_run(dag_id, run_id) == "success"
                    times[dag_id].append(
                        _seconds(af.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}").json())
                    )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    seed, hand = (statistics.median(times[k]) for k in ("seed_pipeline", "seed_handwritten"))
    rows = [
        {
            "dag": k,
            "runs": len(v),
            "median_s": round(statistics.median(v), 2),
            "all_s": [round(x, 2) for x in v],
        }
        for k, v in times.items()
    ]
    rows.append({"dag": "ratio seed/handwritten", "median_s": round(seed / hand, 3), "target": "<= 1.15"})
    report("bench_trigger", rows)
    print(f"\nratio (seed pipeline / hand-written DAG, median trigger-to-finish): {seed / hand:.3f}")
    return {"ratio": seed / hand, "times": times}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    main(parser.parse_args().runs)
