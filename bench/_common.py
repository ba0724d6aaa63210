"""Helpers shared by the benchmarks: timing in fresh processes, medians, a results table."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["REPO", "median_of", "run_timed", "run_dag_timed", "report"]

REPO = Path(__file__).resolve().parents[1]

# Measure the package as installed: with bytecode compiled, as pip leaves it.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "airflow_azml")], capture_output=True)


def run_timed(argv: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> float:
    """Wall seconds of a subprocess; raises with its output when it fails."""
    start = time.perf_counter()
    proc = subprocess.run(argv, env={**os.environ, **(env or {})}, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{argv} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    return elapsed


def run_dag_timed(dag_file: Path, env: dict[str, str]) -> float:
    """Wall seconds of one ``dag.test()`` run of ``dag_file`` by the embedded runner; raises unless it succeeds."""
    from airflow_azml.provider.local.embedded import runner_argv

    status = dag_file.with_suffix(".status.json")
    argv = runner_argv(dag_file, status)
    seconds = run_timed(argv, env={**env, "AIRFLOW__CORE__DAGS_FOLDER": str(dag_file.parent)})
    state = json.loads(status.read_text())["state"]
    if state != "success":
        raise RuntimeError(f"{dag_file.name} ended {state}")
    return seconds


def median_of(values: list[float]) -> float:
    return statistics.median(values)


def report(name: str, rows: list[dict[str, Any]]) -> None:
    """Print a table and append the figures to bench/results/<name>.json."""
    print(f"\n== {name} ==")
    for row in rows:
        print(
            "  " + "  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items())
        )
    out = REPO / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / f"{name}.json").write_text(
        json.dumps({"when": time.ctime(), "python": sys.version.split()[0], "rows": rows}, indent=1)
    )
