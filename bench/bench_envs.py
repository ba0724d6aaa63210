"""Environment cache hit cost against a bare script run (target: ratio <= 1.1).

bare:   the worker's Python runs ``python -m airflow_azml.runtime.launch step.py``
cached: look the step's environment up in the cache (a hit: it was built before) and run
        the same launcher with that environment's Python.

Runs are interleaved and the medians compared. Usage: ``python bench/bench_envs.py [REPS]``.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench._common import report

REPS = int(sys.argv[1]) if len(sys.argv) > 1 else 40
SCRIPT = "from airflow_azml.core import Run\nRun.get_context()\nprint('ok')\n"


def _run(python: str, script: Path) -> None:
    subprocess.run(
        [python, "-m", "airflow_azml.runtime.launch", str(script)], check=True, stdout=subprocess.DEVNULL
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["AZML_HOME"] = tmp
        from airflow_azml.execution.environments import interpreter_for

        script = Path(tmp) / "step.py"
        script.write_text(SCRIPT)
        step = {"name": "bench", "environment": {"pip": ["inflection==0.5.1"], "conda": []}}
        started = time.perf_counter()
        interpreter_for(step)  # the one build, not measured
        build = time.perf_counter() - started
        bare, cached = [], []
        _run(sys.executable, script)
        for _ in range(REPS):
            t0 = time.perf_counter()
            _run(sys.executable, script)
            bare.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            _run(interpreter_for(step), script)
            cached.append(time.perf_counter() - t0)
        b, c = statistics.median(bare), statistics.median(cached)
        report(
            "envs",
            [
                {
                    "what": f"cache hit + step run vs bare step run (median of {REPS})",
                    "cached_s": c,
                    "bare_s": b,
                    "ratio": c / b,
                    "target": "<= 1.1",
                },
                {"what": "environment build with uv (once, package in uv's cache)", "build_s": build},
            ],
        )
        print(f"ratio (target <= 1.1): {c / b:.3f}")


if __name__ == "__main__":
    main()
