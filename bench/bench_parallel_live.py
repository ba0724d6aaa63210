"""(f3) ParallelRunStep vs a hand-written DAG mapping one task per mini-batch, on a live Airflow.

``bench_parallel.py`` times both under ``dag.test()`` (the local runner), where a mapped task
instance costs ~100 ms in-process and Airflow's fixed cost per run dominates. Here both DAGs run
on a running Airflow (scheduler, LocalExecutor, parallelism 4, SQLite), as a deployment runs
them: each mapped task instance is queued, started in a fresh process and parses the DAG file.
The same 2,000 files and the same run() as ``bench_parallel.py``; time per run is Airflow's own
``end_date - queued_at``, runs alternated, median of ``BENCH_PARALLEL_LIVE_RUNS`` (default 1).

    .venv/bin/python -m bench.bench_parallel_live
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import report  # noqa: E402
from bench.bench_parallel import BATCH, FILES, MAPPED, OURS, SCORE, _files  # noqa: E402
from tests.support.live_airflow import LiveAirflow  # noqa: E402


def _seconds(run: dict) -> float:
    parse = datetime.fromisoformat
    return (parse(run["end_date"]) - parse(run["queued_at"])).total_seconds()


def main() -> list[dict]:
    runs = int(os.environ.get("BENCH_PARALLEL_LIVE_RUNS", "1"))
    load = os.getloadavg()[0]
    root = Path(tempfile.mkdtemp(prefix="bench_parallel_live_"))
    dags, src, home = root / "dags", root / "src", root / "azml_home"
    for folder in (dags, src, home):
        folder.mkdir()
    (src / "score.py").write_text(SCORE)
    os.environ["AZML_HOME"] = str(home)
    from airflow_azml.core import Workspace

    data = Path(Workspace.from_config().get_default_datastore().root) / "bench_files"
    _files(data)
    (dags / "ours.py").write_text(OURS.format(src=str(src), batch=BATCH))
    (dags / "mapped.py").write_text(
        MAPPED.format(src=str(src), data=str(data), out=str(root / "mapped_out"), batch=BATCH)
    )
    times: dict[str, list[float]] = {"bench_parallel_ours": [], "bench_parallel_mapped": []}
    try:
        with LiveAirflow(dags, home=root / "airflow", extra_env={"AZML_HOME": str(home)}) as af:
            for dag_id in times:
                af.wait_dag(dag_id)
                af.unpause(dag_id)
            for _ in range(runs):
                for dag_id in times:
                    run_id = af.trigger(dag_id)
                    assert af.wait_run(dag_id, run_id, timeout=1800) == "success", af.log_tail("scheduler")
                    times[dag_id].append(
                        _seconds(af.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}").json())
                    )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    ours, mapped = (statistics.median(times[k]) for k in times)
    rows = [
        {
            "what": f"{FILES} files, mini_batch_size={BATCH}, LocalExecutor parallelism 4 (live)",
            "cpus": os.cpu_count(),
            "load_avg_1m_at_start": round(load, 2),
            "step_s": ours,
            "mapped_s": mapped,
            "step_items_s": FILES / ours,
            "mapped_items_s": FILES / mapped,
            "step_vs_mapped": mapped / ours,
            "target_step_vs_mapped": ">= 5",
        }
    ]
    report("parallel_live", rows)
    return rows


if __name__ == "__main__":
    main()
