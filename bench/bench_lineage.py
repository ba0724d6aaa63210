"""Parse cost of lineage: a 200-step pipeline's DAG file with its outputs declared as Assets
(outlets of each step, inlets of its consumer) against the same file without (``AZML_LINEAGE=0``,
the DAG as it was before #16), run side by side.

Same method as ``bench_parse.py``: a timing process imports what the DAG processor has loaded,
calls ``gc.freeze()``, then forks a child per parse, alternating between the two variants (the
child sets ``AZML_LINEAGE`` before it runs the file; which variant goes first swaps at every
pair); each child times only the execution of the DAG file in CPU seconds. Samples from several
timing processes are pooled; the figure is the ratio of the medians. Two datastore kinds: the
default local folder (``file://`` assets) and an Azure Blob datastore (``abfs://`` assets).
Target: ratio <= 1.05.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench._common import median_of, report
from bench.bench_parse import OURS, STEPS

PROCESSES = 12
REPEATS = 10

BLOB_CONFIG = {
    "workspace_name": "bench-lineage",
    "default_datastore": "blob",
    "datastores": {
        "blob": {"type": "azure_blob", "account_name": "benchacct", "container_name": "data", "conn_id": "b"}
    },
}


TIMER = """
import gc, json, os, runpy, sys, time
import airflow.dag_processing.processor
import airflow.sdk

path, repeats = sys.argv[1], int(sys.argv[2])
gc.freeze()  # as the DAG processor does before it forks its parsing children


def parse(lineage):
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        os.environ["AZML_LINEAGE"] = lineage
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

parse("1"), parse("0")  # warm the OS caches and the bytecode
times = {"1": [], "0": []}
for i in range(repeats):  # ABBA: the first child of a pair runs ~1% slower (an A/A run showed it)
    for lineage in ("1", "0") if i % 2 == 0 else ("0", "1"):
        times[lineage].append(parse(lineage))
print(json.dumps([times["1"], times["0"]]))
"""


def _times(folder: Path) -> tuple[list[float], list[float]]:
    """CPU seconds of REPEATS parses of ours.py in ``folder``, with and without assets, in one process."""
    proc = subprocess.run(
        [sys.executable, "-c", TIMER, str(folder / "ours.py"), str(REPEATS)],
        capture_output=True,
        text=True,
        cwd=folder,
        env={**os.environ, "AZML_HOME": str(folder / "home")},
    )
    if proc.returncode != 0:
        raise RuntimeError(f"parse timing failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    on, off = json.loads(proc.stdout.strip().splitlines()[-1])
    return on, off


def _check(folder: Path) -> int:
    """Outlets the rendered DAG declares (a benchmark of nothing would be cheap)."""
    code = "import runpy; d = runpy.run_path('ours.py')['dag']; print(sum(len(t.outlets) for t in d.tasks))"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=folder,
        env={**os.environ, "AZML_HOME": str(folder / "home")},
        check=True,
    )
    return int(out.stdout.strip().splitlines()[-1])


def _project(root: Path, config: dict | None) -> Path:
    (root / "src").mkdir(parents=True)
    (root / "src" / "step.py").write_text("print('step')\n")
    (root / "ours.py").write_text(OURS.format(steps=STEPS))
    if config is not None:
        (root / "config.json").write_text(json.dumps(config))
    return root


def main() -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, config in (("local folder (file://)", None), ("Azure Blob (abfs://)", BLOB_CONFIG)):
            folder = _project(Path(tmp) / label.split()[0].lower(), config)
            declared = _check(folder)
            on: list[float] = []
            off: list[float] = []
            for _ in range(PROCESSES):
                t_on, t_off = _times(folder)
                on.extend(t_on)
                off.extend(t_off)
            t_on, t_off = median_of(on), median_of(off)
            rows.append(
                {
                    "what": f"DAG file build, {STEPS} steps, outputs on a {label}: assets declared vs not",
                    "with_assets_cpu_s": t_on,
                    "without_cpu_s": t_off,
                    "ratio": t_on / t_off,
                    "outlets_declared": declared,
                    "parses_per_side": PROCESSES * REPEATS,
                    "target": "<= 1.05",
                }
            )
    report("lineage", rows)
    return rows


if __name__ == "__main__":
    main()
