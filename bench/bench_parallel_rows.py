"""(f2) ParallelRunStep over 200 MB of CSV rows: one big file cut by size (mini_batch_size "10MB").

The CSV (id, two floats, an int, a label) is generated in a temp folder. ``run(df)`` scores each
row with numpy and returns a DataFrame (id, score), written by append_row. Two ways of doing
the same work, each in a fresh process, interleaved, median of ``BENCH_PARALLEL_ROWS_REPEATS``:

- ``loop``: pandas reads the file in chunks of the same number of rows as a 10 MB mini-batch
  and calls the same run() on each, writing the rows as append_row does, in one process;
- ``engine``: the ParallelRunStep driver, process_count_per_node=2, which splits the file into
  byte ranges at line boundaries and has each worker parse its own ranges.

items/s = rows / wall seconds. ``BENCH_PARALLEL_CSV_MB`` changes the size.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

from bench._common import median_of, run_timed
from bench.bench_parallel import engine_config

MB = int(os.environ.get("BENCH_PARALLEL_CSV_MB", "200"))
REPEATS = int(os.environ.get("BENCH_PARALLEL_ROWS_REPEATS", "3"))
BATCH_BYTES = 10 * 1024 * 1024

SCORE_ROWS = """
import numpy as np
import pandas as pd

def init():
    pass

def run(df):
    a, b, c = df["a"].to_numpy(), df["b"].to_numpy(), df["c"].to_numpy()
    score = np.sqrt(a * a + b * b) * np.log1p(c) + np.sin(a * b)
    return pd.DataFrame({"id": df["id"], "score": score.round(6)})
"""

LOOP_ROWS = """
import sys
import pandas as pd
sys.path.insert(0, {src!r})
from score_rows import init, run
init()
with open({out!r}, "w") as fh:
    for chunk in pd.read_csv({csv!r}, chunksize={rows}):
        result = run(chunk)
        fh.write(result.to_csv(sep=" ", header=False, index=False))
"""


def _csv(path: Path, megabytes: int) -> int:
    """Write about ``megabytes`` MB of rows; return the row count."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(19)
    rows, block = 0, 500_000
    with path.open("w") as fh:
        fh.write("id,a,b,c,label\n")
        while fh.tell() < megabytes * 1024 * 1024:
            ids = np.arange(rows, rows + block)
            frame = pd.DataFrame(
                {
                    "id": ids,
                    "a": rng.random(block).round(6),
                    "b": rng.random(block).round(6),
                    "c": rng.integers(0, 1000, block),
                    "label": np.char.add("row", (ids % 997).astype(str)),
                }
            )
            fh.write(frame.to_csv(header=False, index=False))
            rows += block
    return rows


def _config(root: Path, csv: Path, src: Path) -> Path:
    definition = {
        "kind": "tabular",
        "format": "csv",
        "options": {"header": True, "separator": ","},
        "local_files": [str(csv)],
    }
    inputs = {"rows": {"definition": definition}}
    return engine_config(
        root, "rows", "bench-rows", src / "score_rows.py", inputs, "tabular", BATCH_BYTES, 600, 1
    )


def main() -> list[dict]:
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        src = root / "src"
        src.mkdir()
        (src / "score_rows.py").write_text(SCORE_ROWS)
        csv = root / "rows.csv"
        rows = _csv(csv, MB)
        size = csv.stat().st_size
        per_batch = max(1, int(rows * BATCH_BYTES / size))
        loop = root / "loop_rows.py"
        loop.write_text(
            LOOP_ROWS.format(src=str(src), out=str(root / "loop_rows.txt"), csv=str(csv), rows=per_batch)
        )
        engine = [sys.executable, "-m", "airflow_azml.runtime.parallel", str(_config(root, csv, src))]
        t_loop, t_engine = [], []
        for _ in range(REPEATS):  # interleaved: the machine's load drifts
            t_loop.append(run_timed([sys.executable, str(loop)]))
            t_engine.append(run_timed(engine, cwd=src))
        summary = json.loads((root / "rows_work" / "summary.json").read_text())
        out_rows = sum(1 for _ in (root / "rows_out" / "parallel_run_step.txt").open())
    assert summary["items"]["total"] == rows == out_rows, (summary["items"], rows, out_rows)
    return [
        {
            "what": f"{size / 2**20:.0f} MB CSV, {rows} rows, mini_batch_size=10MB, 2 processes",
            "cpus": os.cpu_count(),
            "load_avg_1m_at_start": round(load, 2),
            "mini_batches": summary["mini_batches"]["total"],
            "loop_items_s": rows / median_of(t_loop),
            "engine_items_s": rows / median_of(t_engine),
            "engine_vs_loop": median_of(t_loop) / median_of(t_engine),
            "engine_vs_loop_best": min(t_loop) / min(t_engine),
            "target_engine_vs_loop": ">= 1.6",
        }
    ]


if __name__ == "__main__":
    from bench._common import report

    report("parallel_rows", main())
