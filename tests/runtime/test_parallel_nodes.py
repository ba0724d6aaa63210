"""A ParallelRunStep over several nodes, engine only: each node a driver process of its own (as
each node is a task instance of its own), sharing nothing but a LocalStore folder (the board and
the checkpoint parts). No Airflow here; the Celery system test runs nodes as task instances."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from airflow_azml.data.stores.local import LocalStore
from airflow_azml.runtime.parallel_board import Board, chunk_size, claim_order, create_if_absent
from airflow_azml.runtime.parallel_progress import parallel_progress, progress_line
from tests.runtime.test_parallel_engine import SCORE, _cfg, _files

pytestmark = pytest.mark.timeout(120)

_NODE = (
    "import json, sys\n"
    "from airflow_azml.data.stores.local import LocalStore\n"
    "from airflow_azml.runtime.parallel_node import NodeDriver\n"
    "cfg = json.loads(open(sys.argv[1]).read())\n"
    "raise SystemExit(NodeDriver(cfg, store=LocalStore(sys.argv[2])).run())\n"
)


def _node_cfg(tmp_path: Path, script: str, data: Path, node: int, **changes) -> dict:
    cfg = _cfg(tmp_path / f"node{node}", script, {"data": {"path": str(data)}}, **changes)
    cfg.update(
        node_tasks=True,
        node=node,
        node_count=2,
        board_prefix="run/score/parallel_board",
        checkpoint_prefix="run/score/parallel_progress",
    )
    cfg.update(changes)
    return cfg


def _start(cfg: dict, store: Path) -> subprocess.Popen:
    path = Path(cfg["working_dir"]).parent / "node_cfg.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(cfg))
    return subprocess.Popen([sys.executable, "-c", _NODE, str(path), str(store)])


def _rows(cfg: dict) -> list[str]:
    return Path(cfg["append_row_path"]).read_text().splitlines()


SLOW = SCORE.replace("out = []", "out = []\n    __import__('time').sleep(0.1)")


def test_two_nodes_share_the_work_and_node_0_gathers(tmp_path):
    store, data = tmp_path / "store", _files(tmp_path / "data", 60)
    zero, one = (_node_cfg(tmp_path, SLOW, data, n, mini_batch_size=2) for n in (0, 1))
    procs = [_start(zero, store), _start(one, store)]
    assert [p.wait(timeout=100) for p in procs] == [0, 0]
    rows = _rows(zero)
    assert sorted(r.split(":")[0] for r in rows) == [f"f{i:04d}.txt" for i in range(60)]  # each once
    summary = json.loads(Path(zero["summary_file"]).read_text())
    assert summary["mini_batches"]["succeeded"] == 30 and summary["items"] == {"total": 60, "failed": 0}
    assert set(summary["per_node"]) == {"0", "1"}  # both nodes took mini-batches
    assert all(n["mini_batches"] > 0 for n in summary["per_node"].values())
    assert 2 <= len({r.split(":")[2] for r in rows}) <= 4  # at most 2 nodes x 2 processes, init() once each
    assert Board(LocalStore(store), zero["board_prefix"], 0).state()["status"] == "finished"
    progress = parallel_progress(LocalStore(store), "run", "score")
    assert (
        progress["done"] == 30 and progress["left"] == 0 and set(progress["nodes"]) == {"node000", "node001"}
    )
    assert "30/30 mini-batches (0 failed, 0 left)" in progress_line("score", progress)


def test_node_0_takes_over_a_node_that_died_and_a_retried_node_redoes_nothing(tmp_path):
    store, data = tmp_path / "store", _files(tmp_path / "data", 40)
    count = tmp_path / "count.txt"
    counting = SLOW.replace(
        "out = []", f"out = []\n    open({str(count)!r}, 'a').write('x' * len(mini_batch))"
    )
    zero, one = (  # every finished mini-batch checkpointed at once: only the held ones may run twice
        _node_cfg(tmp_path, counting, data, n, mini_batch_size=2, node_lease_seconds=3, checkpoint_seconds=0)
        for n in (0, 1)
    )
    node0, node1 = _start(zero, store), _start(one, store)
    beat = store / one["board_prefix"] / "nodes" / "node001.json"
    deadline = time.monotonic() + 60  # kill node 1 once it finished a few mini-batches
    while time.monotonic() < deadline and not (
        beat.exists() and json.loads(beat.read_text() or "{}").get("done", 0) >= 2
    ):
        time.sleep(0.05)
    node1.kill()
    node1.wait()
    assert node0.wait(timeout=100) == 0
    assert sorted(r.split(":")[0] for r in _rows(zero)) == [f"f{i:04d}.txt" for i in range(40)]
    ran = len(count.read_text())
    assert ran <= 40 + 2 * 2 * 2  # at most the mini-batches node 1 held when killed ran twice
    # node 1 retried after the step finished: nothing to do, nothing run
    retry = _start({**one, "attempt": 2}, store)
    assert retry.wait(timeout=60) == 0
    assert len(count.read_text()) == ran


def test_board_claims_are_exclusive_and_orders_start_apart(tmp_path):
    store = LocalStore(tmp_path)
    assert create_if_absent(store, "b/claims/c000001", b"node000") is True
    assert create_if_absent(store, "b/claims/c000001", b"node001") is False
    assert Board(store, "b", 1).claims() == {1: "node000"}
    assert chunk_size(200, 2, 2) == 6 and chunk_size(3, 2, 2) == 1
    assert claim_order(4, 0, 2) == [0, 1, 2, 3] and claim_order(4, 1, 2) == [2, 3, 0, 1]


def test_a_retried_node_runs_only_what_its_claims_left(tmp_path):
    from airflow_azml.runtime.parallel_batches import plan_batches
    from airflow_azml.runtime.parallel_checkpoint import fingerprint

    store, data = tmp_path / "store", _files(tmp_path / "data", 40)
    count = tmp_path / "count.txt"
    counting = SLOW.replace(
        "out = []", f"out = []\n    open({str(count)!r}, 'a').write('x' * len(mini_batch))"
    )
    one = _node_cfg(tmp_path, counting, data, 1, mini_batch_size=2, checkpoint_seconds=0)
    ids = [b["id"] for b in plan_batches(one, None, tmp_path / "cut")]
    board = Board(LocalStore(store), one["board_prefix"], 0)  # node 0's cut, as its driver publishes it
    board.set_state("running", fingerprint=fingerprint(ids, "score.py"), total=len(ids), epoch=1)
    node1 = _start(one, store)
    while len(count.read_text() if count.exists() else "") < 8:  # 4 mini-batches done, then killed
        time.sleep(0.02)
    node1.kill()
    node1.wait()
    retry = _start({**one, "attempt": 2}, store)  # no node 0 here: node 1 claims everything left
    assert retry.wait(timeout=100) == 0
    after = len(count.read_text())
    assert after <= 40 + 2 * 2 * 2  # only what it held when killed ran twice, nothing it had finished
    zero = _node_cfg(tmp_path, counting, data, 0, mini_batch_size=2, checkpoint_seconds=0)
    assert _start(zero, store).wait(timeout=100) == 0  # node 0 only gathers: nothing left to run
    assert len(count.read_text()) == after
    assert sorted(r.split(":")[0] for r in _rows(zero)) == [f"f{i:04d}.txt" for i in range(40)]
