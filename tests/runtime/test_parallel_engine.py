"""The ParallelRunStep engine run directly on local folders: no Airflow, real worker processes.

Each run is a driver process of its own (``_drive``), as in a real step: the driver forks its
workers, and forking the test process — full of threads from earlier tests — could hand a
worker a lock no thread of the child will ever release. Every test is also bounded.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_azml.runtime.parallel import EXIT_INIT, EXIT_THRESHOLD
from airflow_azml.runtime.parallel_batches import load_batch, plan_batches
from tests.conftest import write

pytestmark = pytest.mark.timeout(120)  # a driver waiting on its workers must never hang the suite

SCORE = """
import os
from azureml_user.parallel_run import EntryScript

def init():
    global PID
    PID = os.getpid()
    EntryScript().logger.info("init in %s", PID)

def run(mini_batch):
    out = []
    for path in mini_batch:
        text = open(path).read()
        if "boom" in text:
            raise ValueError("cannot score " + os.path.basename(path))
        if "skip" in text:
            continue  # no result: the item counts as failed
        out.append(f"{os.path.basename(path)}:{len(text)}:{PID}")
    return out
"""


def _files(folder: Path, n: int, bad: dict[int, str] | None = None) -> Path:
    for i in range(n):
        write(folder / f"sub{i % 3}" / f"f{i:04d}.txt", (bad or {}).get(i, "x" * (i % 7 + 1)))
    return folder


def _cfg(tmp_path: Path, script: str, inputs: dict, **changes) -> dict:
    write(tmp_path / "src" / "score.py", script)
    cfg = {
        "step_name": "score",
        "entry_script": str(tmp_path / "src" / "score.py"),
        "inputs": list(inputs),
        "input_values": inputs,
        "definitions": {},
        "input_kind": "file",
        "node_count": 1,
        "process_count_per_node": 2,
        "mini_batch_size": 3,
        "error_threshold": 0,
        "allowed_failed_count": None,
        "allowed_failed_percent": None,
        "output_action": "append_row",
        "append_row_path": str(tmp_path / "out" / "parallel_run_step.txt"),
        "run_invocation_timeout": 30,
        "run_max_try": 2,
        "logging_level": "INFO",
        "partition_keys": None,
        "working_dir": str(tmp_path / "work"),
        "summary_file": str(tmp_path / "files" / "summary.json"),
        "failure_file": str(tmp_path / "failure.txt"),
        "checkpoint_prefix": "ckpt",
        "progress_seconds": 0.2,
    }
    cfg.update(changes)
    return cfg


_DRIVE = (
    "import json, sys\n"
    "from airflow_azml.data.stores.local import LocalStore\n"
    "from airflow_azml.runtime.parallel import Driver\n"
    "cfg = json.loads(open(sys.argv[1]).read())\n"
    "store = LocalStore(sys.argv[2]) if sys.argv[2] else None\n"
    "raise SystemExit(Driver(cfg, store=store).run())\n"
)


def _drive(cfg: dict, store: Path | None = None) -> int:
    """Run the driver in a process of its own (as ``python -m airflow_azml.runtime.parallel``
    does in a step) and return its exit code; its output goes to this test's stdout/stderr."""
    path = Path(cfg["working_dir"]).parent / "driver_cfg.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(cfg))
    cmd = [sys.executable, "-c", _DRIVE, str(path), str(store or "")]
    return subprocess.run(cmd, timeout=100, check=False).returncode


def _summary(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "files" / "summary.json").read_text())


def test_files_append_row_all_processes_take_work(tmp_path, capfd):
    data = _files(tmp_path / "data", 40)
    slowish = SCORE.replace("out = []", "out = []\n    __import__('time').sleep(0.05)")
    cfg = _cfg(tmp_path, slowish, {"data": {"path": str(data)}})
    assert _drive(cfg) == 0
    rows = Path(cfg["append_row_path"]).read_text().splitlines()
    assert sorted(r.split(":")[0] for r in rows) == [f"f{i:04d}.txt" for i in range(40)]
    assert len({r.split(":")[2] for r in rows}) == 2  # both worker processes took mini-batches
    summary = _summary(tmp_path)
    assert summary["mini_batches"] == {"total": 14, "succeeded": 14, "failed": 0, "from_checkpoint": 0}
    assert summary["items"] == {"total": 40, "failed": 0}
    assert "progress: 14/14 mini-batches done" in capfd.readouterr().out


def test_failing_mini_batch_over_threshold_names_traceback_and_items(tmp_path):
    data = _files(tmp_path / "data", 12, {5: "boom"})
    cfg = _cfg(tmp_path, SCORE, {"data": {"path": str(data)}}, process_count_per_node=1)
    assert _drive(cfg) == EXIT_THRESHOLD
    message = (tmp_path / "failure.txt").read_text()
    assert "3 failed items exceed error_threshold=0" in message
    assert "f0005.txt" in message and "ValueError: cannot score f0005.txt" in message
    failure = _summary(tmp_path)["failures"][0]
    assert failure["tries"] == 2 and len(failure["errors"]) == 2  # run_max_try=2


def test_failures_under_threshold_and_missing_results(tmp_path):
    data = _files(tmp_path / "data", 12, {5: "boom", 7: "skip"})
    cfg = _cfg(tmp_path, SCORE, {"data": {"path": str(data)}}, error_threshold=4, run_max_try=1)
    assert _drive(cfg) == 0
    summary = _summary(tmp_path)
    assert summary["items"] == {"total": 12, "failed": 4}  # 3 of the raising mini-batch + 1 without a result
    assert summary["mini_batches"]["failed"] == 1
    assert len(Path(cfg["append_row_path"]).read_text().splitlines()) == 8


def test_allowed_failed_count_and_ignore_all(tmp_path):
    data = _files(tmp_path / "data", 9, {0: "boom", 4: "boom"})
    cfg = _cfg(tmp_path, SCORE, {"data": {"path": str(data)}}, error_threshold=-1, run_max_try=1)
    assert _drive({**cfg, "allowed_failed_count": 1}) == EXIT_THRESHOLD
    assert "exceed allowed_failed_count=1" in (tmp_path / "failure.txt").read_text()
    assert _drive({**cfg, "checkpoint_prefix": ""}) == 0


def test_timeout_and_init_failure(tmp_path):
    slow = "import time\ndef init():\n    pass\ndef run(mb):\n    time.sleep(5)\n    return mb\n"
    data = _files(tmp_path / "data", 3)
    cfg = _cfg(tmp_path, slow, {"data": {"path": str(data)}}, run_invocation_timeout=1, run_max_try=1)
    assert _drive(cfg) == EXIT_THRESHOLD
    assert (
        "TimeoutError: run() took longer than run_invocation_timeout=1s"
        in (tmp_path / "failure.txt").read_text()
    )
    broken = "def init():\n    raise RuntimeError('no model here')\ndef run(mb):\n    return mb\n"
    cfg = _cfg(tmp_path, broken, {"data": {"path": str(data)}})
    assert _drive(cfg) == EXIT_INIT
    assert "RuntimeError: no model here" in (tmp_path / "failure.txt").read_text()


def test_retried_attempt_redoes_nothing_finished(tmp_path):
    store = tmp_path / "store"  # a LocalStore there holds the checkpoint
    data = _files(tmp_path / "data", 10)
    counting = SCORE.replace(
        "out = []", "out = []\n    open(COUNT, 'a').write('x' * len(mini_batch))"
    ).replace("import os", f"import os\nCOUNT = {str(tmp_path / 'count.txt')!r}")
    cfg = _cfg(tmp_path, counting, {"data": {"path": str(data)}}, mini_batch_size=2)
    assert _drive(cfg, store=store) == 0
    assert len((tmp_path / "count.txt").read_text()) == 10
    assert _drive({**cfg, "attempt": 2}, store=store) == 0
    assert len((tmp_path / "count.txt").read_text()) == 10  # nothing ran again
    assert _summary(tmp_path)["mini_batches"]["from_checkpoint"] == 5
    assert (
        len(Path(cfg["append_row_path"]).read_text().splitlines()) == 10
    )  # rows rebuilt from the checkpoint


TABULAR = """
import argparse
def init():
    global SCALE
    p = argparse.ArgumentParser(); p.add_argument("--scale", type=int)
    SCALE = p.parse_known_args()[0].scale
def run(df):
    df["y"] = df["x"] * SCALE
    return df[["x", "y"]]
"""


def _tabular_input(files: list[Path], fmt: str = "csv") -> dict:
    definition = {"kind": "tabular", "format": fmt, "options": {"header": True, "separator": ","}}
    definition["local_files"] = [str(f) for f in files]
    return {"definition": definition}


def test_tabular_big_csv_is_split_inside_the_file(tmp_path):
    big = write(tmp_path / "rows.csv", "x,label\n" + "".join(f"{i},row{i}\n" for i in range(5000)))
    small = write(tmp_path / "small.csv", "x,label\n7,a\n8,b\n")
    cfg = _cfg(
        tmp_path,
        TABULAR,
        {"t": _tabular_input([big, small])},
        input_kind="tabular",
        mini_batch_size=4096,
        arguments=["--scale", "2"],
        error_threshold=-1,
    )
    batches = plan_batches(cfg, None, tmp_path / "scratch")
    assert len(batches) > 5  # one ~50 KB file cut into ~4 KB mini-batches
    frames = [load_batch(b) for b in batches]
    assert sum(len(f) for f in frames) == 5002 and list(frames[0].columns) == ["x", "label"]
    assert sorted(x for f in frames for x in f["x"]) == sorted([*range(5000), 7, 8])  # no row lost or doubled
    assert _drive(cfg) == 0
    rows = Path(cfg["append_row_path"]).read_text().splitlines()
    assert len(rows) == 5002 and "4999 9998" in rows
    assert _summary(tmp_path)["items"] == {"total": 5002, "failed": 0}


def test_tabular_parquet_split_by_rows(tmp_path):
    pd = pytest.importorskip("pandas")
    path = tmp_path / "rows.parquet"
    pd.DataFrame({"x": range(3000)}).to_parquet(path, row_group_size=500)
    cfg = _cfg(
        tmp_path,
        TABULAR,
        {"t": _tabular_input([path], "parquet")},
        input_kind="tabular",
        mini_batch_size=2048,
        arguments=["--scale", "3"],
    )
    batches = plan_batches(cfg, None, tmp_path / "scratch")
    assert len(batches) > 3
    assert sorted(x for b in batches for x in load_batch(b)["x"]) == list(range(3000))
    assert _drive(cfg) == 0
    assert len(Path(cfg["append_row_path"]).read_text().splitlines()) == 3000


def test_summary_only_counts_items_and_leaves_output_to_the_script(tmp_path):
    script = (
        "import os\nfrom azureml_user.parallel_run import EntryScript\n"
        "def init():\n    pass\n"
        "def run(mb):\n"
        "    for p in mb:\n"
        "        open(os.path.join(EntryScript().output_dir, os.path.basename(p)), 'w').write('ok')\n"
        "    return mb\n"
    )
    data = _files(tmp_path / "data", 7)
    cfg = _cfg(
        tmp_path,
        script,
        {"data": {"path": str(data)}},
        output_action="summary_only",
        output_dir=str(tmp_path / "out"),
        append_row_path=None,
    )
    assert _drive(cfg) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"f{i:04d}.txt" for i in range(7)]
    assert _summary(tmp_path)["items"]["total"] == 7


PARTS = """
def init():
    pass
def run(mini_batch, mini_batch_context):
    key = mini_batch_context.partition_key_value
    size = len(mini_batch)
    return [f"{key['user']}|{key['genre']}|{size}"] * size
"""


def test_partition_keys_make_one_mini_batch_per_partition(tmp_path):
    labels, files = [], []
    for user, season, genre in [("u1", "winter", "disco"), ("u1", "fall", "disco"), ("u2", "fall", "piano")]:
        files.append(write(tmp_path / "data" / user / season / f"{genre}.wav", "w"))
        labels.append(f"/parts/{user}/{season}/{genre}.wav")
    definition = {
        "kind": "file",
        "partition_format": "parts/{user}/{season}/{genre}.wav",
        "local_files": [str(f) for f in files],
        "local_labels": labels,
    }
    value = {"definition": definition}
    cfg = _cfg(tmp_path, PARTS, {"p": value}, partition_keys=["user", "genre"], mini_batch_size=None)
    assert _drive(cfg) == 0
    rows = sorted(Path(cfg["append_row_path"]).read_text().splitlines())
    assert rows == ["u1|disco|2", "u1|disco|2", "u2|piano|1"]
    assert _summary(tmp_path)["mini_batches"]["total"] == 2


def test_tabular_partition_keys_group_rows(tmp_path):
    csv = write(tmp_path / "people.csv", "user,income\na,1\nb,2\na,3\n")
    script = "def init():\n    pass\ndef run(df, ctx):\n    df['total'] = df['income'].sum()\n    return df\n"
    cfg = _cfg(tmp_path, script, {"t": _tabular_input([csv])}, input_kind="tabular", partition_keys=["user"])
    cfg["definitions"] = {"t": cfg["input_values"]["t"]["definition"]}
    assert _drive(cfg) == 0
    assert sorted(Path(cfg["append_row_path"]).read_text().splitlines()) == ["a 1 4", "a 3 4", "b 2 2"]


def test_stuck_or_dying_workers_are_replaced_and_their_mini_batch_retried(tmp_path):
    script = (
        "import os, signal, time\n"
        "def init():\n    pass\n"
        "def run(mb):\n"
        "    name = os.path.basename(mb[0])\n"
        "    if name == 'f0000.txt':\n"
        "        signal.signal(signal.SIGALRM, signal.SIG_IGN)  # deaf to the timeout: the driver kills it\n"
        "        time.sleep(60)\n"
        "    if name == 'f0001.txt':\n"
        "        os._exit(9)  # the process dies\n"
        "    return mb\n"
    )
    data = _files(tmp_path / "data", 9)
    cfg = _cfg(
        tmp_path,
        script,
        {"data": {"path": str(data)}},
        run_invocation_timeout=1,
        kill_grace_seconds=1,
        run_max_try=2,
        error_threshold=-1,
        process_count_per_node=2,
    )
    assert _drive(cfg) == 0
    summary = _summary(tmp_path)
    assert summary["mini_batches"] == {"total": 3, "succeeded": 1, "failed": 2, "from_checkpoint": 0}
    errors = {f["mini_batch"]: f["errors"] for f in summary["failures"]}
    assert all("ended (exit code" in e for e in errors["data-000000"] + errors["data-000001"])
    assert len(errors["data-000000"]) == 2  # killed twice (run_max_try=2)


def test_node_count_multiplies_processes_and_allowed_failed_percent(tmp_path):
    data = _files(tmp_path / "data", 20, {0: "boom"})
    slowish = SCORE.replace("out = []", "out = []\n    __import__('time').sleep(0.05)")
    cfg = _cfg(
        tmp_path,
        slowish,
        {"data": {"path": str(data)}},
        node_count=2,
        process_count_per_node=1,
        mini_batch_size=2,
        error_threshold=-1,
        run_max_try=1,
    )
    assert _drive({**cfg, "allowed_failed_percent": 10}) == 0  # 1 of 10 mini-batches: 10%, not over
    summary = _summary(tmp_path)
    assert summary["workers"] == 2 and set(summary["per_node"]) == {"0", "1"}  # both nodes took mini-batches
    assert _drive({**cfg, "allowed_failed_percent": 5, "checkpoint_prefix": ""}) == EXIT_THRESHOLD
    assert "over allowed_failed_percent=5" in (tmp_path / "failure.txt").read_text()


@pytest.mark.parametrize(
    "init_body",
    [
        "signal.signal(signal.SIGALRM, signal.SIG_IGN)\n    time.sleep(60)",  # hangs: never ready
        "os._exit(7)",  # dies before it is ready
    ],
    ids=["hangs", "dies"],
)
def test_workers_that_never_get_ready_stop_the_step(tmp_path, init_body):
    script = f"import os, signal, time\ndef init():\n    {init_body}\ndef run(mb):\n    return mb\n"
    data = _files(tmp_path / "data", 3)
    cfg = _cfg(
        tmp_path,
        script,
        {"data": {"path": str(data)}},
        init_timeout_seconds=1,
        kill_grace_seconds=1,
        run_max_try=2,
        process_count_per_node=1,
    )
    assert _drive(cfg) == EXIT_INIT
    message = (tmp_path / "failure.txt").read_text()
    assert "worker process 0 ended 2 times before init() of the entry script finished" in message
    assert "not ready 2s after it started" in message
