"""Step reuse: (a) a 20-step pipeline whose steps sleep 2 s, run twice through Airflow — the second run
must execute 0 scripts and take <= 0.3 of the first's wall time; (b) fingerprinting a 10,000-file
source folder a second time (the stat cache answers) must cost < 0.2 s.

Run: ``.venv/bin/python bench/bench_reuse.py`` (fresh AZML_HOME and embedded Airflow home in a temp dir).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import report  # noqa: E402

STEPS = 20
SLEEP_S = 2
FILES = 10_000

SCRIPT = """
import os, sys, time
open(os.environ["AZML_BENCH_COUNTER"], "a").write(sys.argv[0] + "\\n")
time.sleep({sleep})
out = sys.argv[sys.argv.index("--out") + 1]
os.makedirs(out, exist_ok=True)
open(os.path.join(out, "done.txt"), "w").write("ok")
"""


def _pipeline(root: Path) -> tuple:
    from airflow_azml.core import Workspace
    from airflow_azml.pipeline.core import Pipeline, PipelineData
    from airflow_azml.pipeline.steps import PythonScriptStep

    (root / "config.json").write_text(json.dumps({"workspace_name": "bench"}))
    ws = Workspace.from_config(root)
    steps, previous = [], None
    for i in range(STEPS):
        src = root / "steps" / f"s{i:02d}"
        src.mkdir(parents=True, exist_ok=True)
        (src / "step.py").write_text(SCRIPT.format(sleep=SLEEP_S))
        out = PipelineData(f"out{i:02d}")
        inputs = [previous] if previous is not None else []
        args = ["--out", out] + (["--in", previous] if previous is not None else [])
        steps.append(
            PythonScriptStep(
                "step.py",
                name=f"s{i:02d}",
                source_directory=str(src),
                inputs=inputs,
                outputs=[out],
                arguments=args,
            )
        )
        previous = out
    return ws, Pipeline(ws, steps)


def bench_pipeline(root: Path) -> dict:
    from airflow_azml.core import Experiment

    counter = root / "counter.txt"
    os.environ["AZML_BENCH_COUNTER"] = str(counter)
    ws, pipeline = _pipeline(root)
    walls, spans, executed, reused = [], [], [], []
    for _ in range(2):
        counter.unlink(missing_ok=True)
        start = time.perf_counter()
        run = Experiment(ws, "bench_reuse").submit(pipeline)
        assert run.wait_for_completion(show_output=False, timeout_seconds=1800) == "Finished"
        walls.append(time.perf_counter() - start)
        spans.append(_task_span(run))
        executed.append(len(counter.read_text().split()) if counter.exists() else 0)
        reused.append(sum(s.get_status() == "Reused" for s in run.get_steps()))
    return {
        "steps": STEPS,
        "sleep_s": float(SLEEP_S),
        "first_s": walls[0],
        "second_s": walls[1],
        "ratio": walls[1] / walls[0],
        "target_ratio": 0.3,
        "task_span_first_s": spans[0],
        "task_span_second_s": spans[1],
        "task_span_ratio": spans[1] / spans[0],
        "scripts_run_first": executed[0],
        "scripts_run_second": executed[1],
        "steps_reused_second": reused[1],
        "load_avg_1m": os.getloadavg()[0],
    }


def _task_span(run: object) -> float:
    """First task start to last task end, from the local runner's status (excludes runner start-up)."""
    tasks = run._backend.handle.status()["tasks"].values()  # type: ignore[attr-defined]
    # the status file gives each task's start and end as POSIX timestamps
    return max(t["end"] for t in tasks) - min(t["start"] for t in tasks)


def bench_fingerprint(root: Path) -> dict:
    from airflow_azml.execution.fingerprint import hash_source_dir

    src = root / "many"
    then = time.time_ns() - 10_000_000_000
    for d in range(FILES // 100):
        (src / f"pkg{d}").mkdir(parents=True)
        for f in range(100):
            path = src / f"pkg{d}" / f"mod{f}.py"
            path.write_text(f"VALUE = {d * 100 + f}\n" * 10)
            os.utime(path, ns=(then, then))
    (src / ".amlignore").write_text("*.log\nbuild/\n")
    os.utime(src / ".amlignore", ns=(then, then))
    start = time.perf_counter()
    first = hash_source_dir(src)
    cold = time.perf_counter() - start
    walls, cpus = [], []
    for _ in range(7):
        w, c = time.perf_counter(), time.process_time()
        again = hash_source_dir(src)
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
        assert again.rehashed == 0 and again.digest == first.digest
    return {
        "files": len(first.files),
        "first_s": cold,
        "second_median_s": statistics.median(walls),
        "second_min_s": min(walls),
        "second_cpu_median_s": statistics.median(cpus),
        "target_s": 0.2,
        "load_avg_1m": os.getloadavg()[0],
    }


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="azml_bench_reuse_") as tmp:
        root = Path(tmp)
        os.environ["AZML_HOME"] = str(root / "home")
        os.environ["AZML_AIRFLOW_HOME"] = str(root / "airflow")
        os.environ.pop("AZML_WORKSPACE_CONFIG", None)
        fp = bench_fingerprint(root)
        report("reuse_fingerprint", [fp])
        pipe = bench_pipeline(root)
        report("reuse_pipeline", [pipe])
    ok = pipe["scripts_run_second"] == 0 and pipe["ratio"] <= 0.3 and fp["second_median_s"] < 0.2
    print(
        f"\nsecond run executed {pipe['scripts_run_second']} scripts; wall ratio {pipe['ratio']:.3f} (target <= 0.3)"
    )
    print(f"10,000-file fingerprint, second pass: {fp['second_median_s']:.3f} s median (target < 0.2 s)")
    print("PASS" if ok else "MISSED A TARGET")


if __name__ == "__main__":
    main()
