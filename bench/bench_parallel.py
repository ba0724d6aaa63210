"""(f) ParallelRunStep throughput: 2,000 small files scored by a light run() (~1-2 ms of CPU each).

Four ways of doing the same work, each in a fresh process, median of REPEATS:

- ``loop``: one plain Python loop calling the same run() on the same mini-batches in one process
  (the baseline);
- ``engine``: the ParallelRunStep driver alone (``python -m airflow_azml.runtime.parallel``),
  process_count_per_node=2, mini_batch_size=10 — what a ParallelRunStep task does;
- ``step``: the same as a ParallelRunStep in a pipeline run through Airflow (the embedded
  runner, ``dag.test()``), wall time from process start to the end of the run;
- ``mapped``: a hand-written Airflow DAG mapping one task per mini-batch of 10 files
  (dynamic task mapping, 200 task instances), run the same way;
- ``empty``: a one-task DAG doing nothing, run the same way: Airflow's fixed cost (process
  start, DAG parse, dag run), subtracted to give the ``*_net_s`` figures.

items/s = 2,000 / wall seconds. The machine's load matters: the figures say how many CPUs
there are, the load average when the run started, and what two bare processes gain over one
for the same work right then (``bare_2_process_speedup_here``: no 2-process runner can beat it).
Then 200 MB of CSV rows (``bench_parallel_rows.py``); ``bench_parallel_live.py`` runs the
step-vs-mapped comparison on a live Airflow (scheduler and LocalExecutor) instead of ``dag.test()``.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import tempfile
from pathlib import Path

from bench._common import median_of, report, run_dag_timed, run_timed

FILES = 2000
BATCH = 10
REPEATS = 5

SCORE = """
import hashlib, os

def init():
    pass

def score(path):
    data = open(path, "rb").read()
    digest = hashlib.pbkdf2_hmac("sha256", data, b"bench", 2000).hex()  # about 1-2 ms of CPU per file
    words = sum(len(w) for w in data.split())
    return f"{os.path.basename(path)},{digest[:12]},{words}"

def run(mini_batch):
    return [score(p) for p in mini_batch]
"""

# The plain loop: the same run() over the same mini-batches, in one process, rows to one file.
LOOP = """
import os, sys
sys.path.insert(0, {src!r})
from score import init, run
init()
root = {data!r}
files = sorted(os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs)
with open({out!r}, "w") as fh:
    for i in range(0, len(files), {batch}):
        fh.write("".join(row + "\\n" for row in run(files[i:i + {batch}])))
"""

OURS = """
from airflow_azml.core import Dataset, Environment, Workspace
from airflow_azml.pipeline.core import Pipeline, PipelineData
from airflow_azml.pipeline.steps import ParallelRunConfig, ParallelRunStep

ws = Workspace.from_config()
files = Dataset.File.from_files(path=(ws.get_default_datastore(), "bench_files"))
cfg = ParallelRunConfig(
    environment=Environment("bench"), entry_script="score.py", source_directory={src!r}, error_threshold=0,
    output_action="append_row", compute_target=None, node_count=1, process_count_per_node=2, mini_batch_size={batch},
)
step = ParallelRunStep("bench-score", cfg, [files.as_named_input("files").as_mount()],
                       output=PipelineData("scores"), allow_reuse=False)
dag = Pipeline(ws, [step]).to_dag("bench_parallel_ours")
"""

MAPPED = """
import os, sys
from airflow.sdk import DAG, task

SRC, DATA, OUT, BATCH = {src!r}, {data!r}, {out!r}, {batch}

with DAG("bench_parallel_mapped", schedule=None) as dag:
    @task
    def batches():
        files = sorted(os.path.join(d, f) for d, _, fs in os.walk(DATA) for f in fs)
        return [files[i:i + BATCH] for i in range(0, len(files), BATCH)]

    @task
    def score_batch(paths):
        sys.path.insert(0, SRC)
        from score import init, run
        init()
        rows = run(paths)
        os.makedirs(OUT, exist_ok=True)
        with open(os.path.join(OUT, os.path.basename(paths[0]) + ".txt"), "w") as fh:
            fh.write("".join(r + "\\n" for r in rows))
        return len(rows)

    score_batch.expand(paths=batches())
"""

EMPTY = """
from airflow.sdk import DAG, task

with DAG("bench_parallel_empty", schedule=None) as dag:
    @task
    def nothing():
        return 0

    nothing()
"""


CEILING = """
import hashlib, multiprocessing as mp, time

def work(n):
    for _ in range(n):
        hashlib.pbkdf2_hmac("sha256", b"x" * 500, b"bench", 2000)

if __name__ == "__main__":
    t = time.perf_counter(); work({n}); one = time.perf_counter() - t
    t = time.perf_counter()
    procs = [mp.get_context("fork").Process(target=work, args=({n} // 2,)) for _ in range(2)]
    [p.start() for p in procs]; [p.join() for p in procs]
    print(one / (time.perf_counter() - t))
"""


def _ceiling() -> float:
    """What two bare processes gain over one for the same hashing on this machine right now:
    the most any 2-process runner can show here (1.0 when the machine gives us one core's worth)."""
    import subprocess

    out = subprocess.run(
        [sys.executable, "-c", CEILING.format(n=FILES)], capture_output=True, text=True, check=True
    )
    return float(out.stdout.strip())


def _timed(argv: list[str], cwd: Path | None = None) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the process and its children)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = run_timed(argv, cwd=cwd)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _files(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for i in range(FILES):
        (root / f"f{i:05d}.txt").write_text(" ".join(f"w{j}" for j in range(i % 50, i % 50 + 100)))


def engine_config(
    root: Path,
    name: str,
    step: str,
    script: Path,
    inputs: dict,
    kind: str,
    batch: int,
    timeout: int,
    max_try: int,
) -> Path:
    """Write ``root/<name>.json``, a config for the ParallelRunStep driver (``python -m
    airflow_azml.runtime.parallel``): one node, 2 processes, append_row into ``root/<name>_out``,
    its work and summary in ``root/<name>_work``. Also used by ``bench_parallel_rows.py``."""
    cfg = {
        "step_name": step,
        "entry_script": str(script),
        "inputs": list(inputs),
        "input_values": inputs,
        "definitions": {},
        "input_kind": kind,
        "node_count": 1,
        "process_count_per_node": 2,
        "mini_batch_size": batch,
        "error_threshold": 0,
        "output_action": "append_row",
        "append_row_path": str(root / f"{name}_out" / "parallel_run_step.txt"),
        "run_invocation_timeout": timeout,
        "run_max_try": max_try,
        "logging_level": "INFO",
        "partition_keys": None,
        "working_dir": str(root / f"{name}_work"),
        "summary_file": str(root / f"{name}_work" / "summary.json"),
    }
    path = root / f"{name}.json"
    path.write_text(json.dumps(cfg))
    return path


def _airflow(root: Path, src: Path, data: Path) -> dict[str, float]:
    from airflow_azml.core import Workspace
    from airflow_azml.provider.local.embedded import embedded_env, ensure_db

    os.environ["AZML_HOME"] = str(root / "azml")
    env = embedded_env(root)
    ensure_db(env)
    _files(Path(Workspace.from_config().get_default_datastore().root) / "bench_files")
    for name in ("ours", "mapped", "empty"):
        (root / name).mkdir()
    ours, mapped, empty = (
        root / "ours" / "ours.py",
        root / "mapped" / "mapped.py",
        root / "empty" / "empty.py",
    )
    empty.write_text(EMPTY)
    ours.write_text(OURS.format(src=str(src), batch=BATCH))
    mapped.write_text(MAPPED.format(src=str(src), data=str(data), out=str(root / "mapped_out"), batch=BATCH))
    repeats = int(os.environ.get("BENCH_PARALLEL_DAG_REPEATS", "1"))
    return {
        "step": median_of([run_dag_timed(ours, env) for _ in range(repeats)]),
        "mapped": median_of([run_dag_timed(mapped, env) for _ in range(repeats)]),
        "empty": median_of([run_dag_timed(empty, env) for _ in range(repeats)]),
    }


def main() -> list[dict]:
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        src, data = root / "src", root / "data"
        src.mkdir()
        (src / "score.py").write_text(SCORE)
        _files(data)
        loop = root / "loop.py"
        loop.write_text(
            LOOP.format(src=str(src), data=str(data), out=str(root / "loop_out.txt"), batch=BATCH)
        )
        cfg = engine_config(
            root, "engine", "bench", src / "score.py", {"files": {"path": str(data)}}, "file", BATCH, 60, 3
        )
        engine = [sys.executable, "-m", "airflow_azml.runtime.parallel", str(cfg)]
        t_loop, t_engine = [], []
        for _ in range(REPEATS):  # interleaved: the machine's load drifts
            t_loop.append(_timed([sys.executable, str(loop)]))
            t_engine.append(_timed(engine, cwd=src))
        ceiling = median_of([_ceiling() for _ in range(3)])
        dags = _airflow(root, src, data) if os.environ.get("BENCH_PARALLEL_AIRFLOW", "1") == "1" else {}
    rows = [
        {
            "what": f"{FILES} small files, light run(), 2 processes, mini_batch_size={BATCH}",
            "cpus": os.cpu_count(),
            "load_avg_1m_at_start": round(load, 2),
            "loop_items_s": FILES / median_of([w for w, _ in t_loop]),
            "engine_items_s": FILES / median_of([w for w, _ in t_engine]),
            "engine_vs_loop": median_of([w for w, _ in t_loop]) / median_of([w for w, _ in t_engine]),
            "engine_vs_loop_best": min(w for w, _ in t_loop) / min(w for w, _ in t_engine),
            "loop_cpu_s": median_of([c for _, c in t_loop]),
            "engine_cpu_s": median_of([c for _, c in t_engine]),
            "target_engine_vs_loop": ">= 1.6",
            "bare_2_process_speedup_here": ceiling,
        }
    ]
    if dags:
        rows[0].update(
            step_items_s=FILES / dags["step"],
            mapped_items_s=FILES / dags["mapped"],
            step_vs_mapped=dags["mapped"] / dags["step"],
            target_step_vs_mapped=">= 5",
            airflow_fixed_s=dags["empty"],
            step_net_s=dags["step"] - dags["empty"],
            mapped_net_s=dags["mapped"] - dags["empty"],
            # within the noise of Airflow's fixed cost on a loaded machine, a net ratio means nothing
            step_vs_mapped_net=(dags["mapped"] - dags["empty"]) / (dags["step"] - dags["empty"])
            if dags["step"] - dags["empty"] > 0.5
            else None,
        )
    if os.environ.get("BENCH_PARALLEL_ROWS", "1") == "1":  # 200 MB of CSV rows (bench_parallel_rows.py)
        from bench.bench_parallel_rows import main as rows_main

        rows += rows_main()
    report("parallel", rows)
    return rows


if __name__ == "__main__":
    main()
