"""The ParallelRunStep driver: cut the inputs, run the worker processes, count, write, checkpoint.

Run as ``python -m airflow_azml.runtime.parallel CONFIG.json [ARGS...]`` inside the step's
process (the step's environment, its run context). ``node_count × process_count_per_node``
worker processes (forked, so each inherits the compat switch and the cut; ``parallel_pool.py``)
are handed the next mini-batch index whenever one is free: work is handed out, never sliced
up front, so a slow process holds nothing back. A mini-batch whose run()
raises or times out is tried again up to ``run_max_try`` times; a worker that dies is replaced.
Failed items and failed mini-batches are counted against error_threshold /
allowed_failed_count / allowed_failed_percent, and the step stops as soon as one is exceeded.
Progress goes to stdout (the task log) every few seconds; the error summary goes to the step's
files; the first failing mini-batch's traceback and items go to the failure file the execution
layer turns into the step's error. Exit codes: 0 ok, 3 too many failures, 4 init() failed.
"""

from __future__ import annotations

import collections
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from airflow_azml.runtime.parallel_batches import MiniBatch, plan_batches
from airflow_azml.runtime.parallel_board import Board
from airflow_azml.runtime.parallel_checkpoint import Checkpoint, fingerprint
from airflow_azml.runtime.parallel_pool import WorkerPool
from airflow_azml.runtime.parallel_progress import SUMMARY_FILE, failure_message

__all__ = ["Driver", "main", "SUMMARY_FILE", "EXIT_THRESHOLD", "EXIT_INIT"]

EXIT_THRESHOLD, EXIT_INIT = 3, 4
_GRACE = 10.0  # seconds past run_invocation_timeout before a stuck worker is killed
_INIT_TIMEOUT = 600.0  # seconds init() may take (at least run_invocation_timeout) before the worker is killed


class Driver:
    """One ParallelRunStep attempt: ``Driver(cfg, workspace, store).run()`` returns the exit code."""

    def __init__(self, cfg: dict[str, Any], workspace: Any = None, store: Any = None):
        self.cfg, self.ws = cfg, workspace
        self.pcount = max(1, int(cfg["process_count_per_node"]))
        self.nworkers = max(1, int(cfg["node_count"])) * self.pcount
        self.batches: list[MiniBatch] = plan_batches(cfg, workspace, Path(cfg["working_dir"]) / "batches")
        ids = [b["id"] for b in self.batches]
        self.checkpoint = Checkpoint(
            store,
            cfg.get("checkpoint_prefix", ""),
            fingerprint(ids, Path(cfg["entry_script"]).name),
            cfg.get("attempt", 1),
            float(cfg.get("checkpoint_seconds", 2.0)),  # what an attempt killed meanwhile runs again
        )
        self.tries: dict[int, int] = {}
        self.failures: list[dict[str, Any]] = []
        self.stats = {"items": 0, "failed_items": 0, "done": 0, "failed": 0, "reused": 0}
        self.per_node: dict[int, list[int]] = {}
        self.abort: str | None = None
        self.unready: dict[int, int] = {}  # worker -> how many times in a row it ended before ready
        self.started = time.monotonic()
        board = cfg.get("board_prefix") if store is not None else None  # progress others can read
        self.board = Board(store, board, int(cfg.get("node", 0))) if board else None

    # -- the run ----------------------------------------------------------------------------
    def run(self) -> int:
        out = self._open_output()
        try:
            todo = self._resume(out)
            self._say(
                f"{len(self.batches)} mini-batches ({len(todo)} to run) on {self.nworkers} worker processes"
            )
            if self.board is not None:  # the progress bar shows from the start
                self.board.beat("running", **self.progress_fields(len(todo)))
            if todo:
                self._work(todo, out)
        finally:
            self.checkpoint.flush()
            if out is not None:
                out.close()
        return self._finish()

    def _open_output(self) -> Any:
        if self.cfg.get(
            "output_dir"
        ):  # v1 mounted the output folder before init(); summary_only writes there
            Path(self.cfg["output_dir"]).mkdir(parents=True, exist_ok=True)
        if self.cfg["output_action"] != "append_row":
            return None
        path = Path(self.cfg["append_row_path"])
        path.parent.mkdir(parents=True, exist_ok=True)
        return path.open("w", encoding="utf-8")

    def _resume(self, out: Any) -> list[int]:
        """Indexes of the mini-batches to run; finished ones of an earlier attempt are taken as done."""
        done = self.checkpoint.load()
        todo = []
        for i, batch in enumerate(self.batches):
            rec = done.get(batch["id"])
            if rec is None:
                todo.append(i)
                continue
            self.stats["reused"] += 1
            self._count_done(rec["items"], rec["results"], rec.get("rows", ""), out)
        if done:
            self._say(f"resumed: {self.stats['reused']} mini-batches were finished by an earlier attempt")
        return todo

    def _work(self, todo: list[int], out: Any) -> None:
        pool = WorkerPool(self.cfg, self.batches)
        for worker in range(self.nworkers):
            pool.spawn(worker)
        pending, left = collections.deque(todo), set(todo)
        last_say = time.monotonic()
        try:
            while left and self.abort is None:
                self._turn(pool, pending, left, out, 0.5)
                if time.monotonic() - last_say >= float(self.cfg.get("progress_seconds", 5)):
                    self._progress(len(left))
                    last_say = time.monotonic()
        finally:
            pool.stop(quick=self.abort is not None)

    def _turn(self, pool: WorkerPool, pending: collections.deque, left: set, out: Any, wait: float) -> None:
        """One turn of the dispatch loop: the workers' messages (waiting up to ``wait`` s for the
        first), stuck workers killed, lost mini-batches queued again, pending ones to free workers."""
        for worker, msg in pool.events(wait):
            self._handle(pool, worker, msg, pending, left, out)
        for worker in pool.stuck(*self._limits()):
            pool.kill(worker)  # reported as dead by the next events()
        self._recover_lost(pool, pending, left)
        for worker in pool.free():
            if not pending or self.abort is not None:
                break
            pool.give(worker, pending.popleft())

    def _limits(self) -> tuple[float, float]:
        """Seconds a worker may hold a mini-batch, and may take to become ready, before it is killed.

        Every wait of the driver is bounded by these: a worker that cannot answer (deaf to
        run_invocation_timeout, hung in init() or in a lock its fork inherited) is killed and
        replaced; one that never gets ready run_max_try times in a row stops the step.
        """
        grace = float(self.cfg.get("kill_grace_seconds", _GRACE))
        timeout = float(self.cfg["run_invocation_timeout"])
        init = self.cfg.get("init_timeout_seconds") or max(_INIT_TIMEOUT, timeout)
        return timeout + grace, float(init) + grace

    def _recover_lost(self, pool: WorkerPool, pending: collections.deque, left: set) -> None:
        """Hand out again any unfinished mini-batch neither waiting nor held by a worker (never
        expected; the driver must not wait forever for an answer nobody owes it)."""
        if pending or not left:
            return
        lost = sorted(left - pool.holding())
        if lost:
            self._say(f"mini-batches {lost} were held by no worker; handing them out again")
            pending.extend(lost)

    # -- what workers say -----------------------------------------------------------------
    def _handle(
        self,
        pool: WorkerPool,
        worker: int,
        msg: tuple | None,
        pending: collections.deque,
        left: set,
        out: Any,
    ) -> None:
        if msg is None:
            self._died(pool, worker, pending, left)
            return
        kind = msg[0]
        if kind == "init_failed":
            self.abort = f"init() of the entry script failed in worker process {msg[1]}:\n{msg[2]}"
            self.stats["init_failed"] = 1
            return
        if kind == "ready":
            pool.ready.add(worker)
            self.unready.pop(worker, None)
            return
        pool.finished(worker)
        if kind == "done":
            _, index, items, results, rows, _elapsed, _worker = msg
            left.discard(index)
            self.checkpoint.add(self.batches[index]["id"], {"items": items, "results": results, "rows": rows})
            self._count_done(items, results, rows, out)
            node = self.per_node.setdefault(worker // self.pcount, [0, 0])
            node[0], node[1] = node[0] + 1, node[1] + items
        elif kind == "failed":
            _, index, items, reason, trace, described, _worker = msg
            self._failed_try(index, items, reason, trace, described, pending, left)

    def _died(self, pool: WorkerPool, worker: int, pending: collections.deque, left: set) -> None:
        """A worker ended: the try of the mini-batch it held failed; a new worker takes its place."""
        running, code = pool.running(worker), pool.procs[worker].exitcode
        if worker not in pool.ready and self._never_ready(worker, code):
            return
        waiting = [int(i) for i, _ in (pool.held.get(worker) or [])[1:]]
        pending.extendleft(reversed(waiting))  # never started: handed out again, no try counted
        if running is not None:
            batch = self.batches[running]
            reason = f"worker process {worker} ended (exit code {code}) while running {batch['id']}"
            self._failed_try(running, len(batch.get("files") or []), reason, reason, [], pending, left)
        if left and self.abort is None:
            pool.replace(worker)
        else:
            pool.held.pop(worker, None)

    def _never_ready(self, worker: int, code: int | None) -> bool:
        """A worker ended before its init() finished; after run_max_try such ends in a row the step stops."""
        self.unready[worker] = count = self.unready.get(worker, 0) + 1
        if count < int(self.cfg["run_max_try"]):
            self._say(
                f"worker process {worker} ended before init() finished (exit code {code}); restarting it"
            )
            return False
        self.abort = (
            f"worker process {worker} ended {count} times before init() of the entry script finished (last exit "
            f"code {code}; a worker is killed when it is not ready {self._limits()[1]:.0f}s after it started: "
            "init_timeout_seconds + kill_grace_seconds)"
        )
        self.stats["init_failed"] = 1
        return True

    def _count_done(self, items: int, results: int, rows: str, out: Any) -> None:
        self.stats["done"] += 1
        self.stats["items"] += items
        missing = max(0, items - results)  # an item without a result counts as failed (v1)
        if missing:
            self.stats["failed_items"] += missing
            self._check_limits()
        if out is not None and rows:
            out.write(rows)

    def _failed_try(
        self,
        index: int,
        items: int,
        reason: str,
        trace: str,
        described: list[str],
        pending: collections.deque,
        left: set,
    ) -> None:
        batch = self.batches[index]
        self.tries[index] = tries = self.tries.get(index, 0) + 1
        self._record_failure(batch, reason, trace, described, tries)
        if tries < int(self.cfg["run_max_try"]):
            self._say(
                f"mini-batch {batch['id']} failed (try {tries}/{self.cfg['run_max_try']}): {reason}; retrying"
            )
            pending.append(index)
            return
        left.discard(index)
        self.stats["failed"] += 1
        self.stats["items"] += items
        self.stats["failed_items"] += items
        self._say(f"mini-batch {batch['id']} FAILED after {tries} tries: {reason}")
        self._check_limits()

    def _record_failure(
        self, batch: MiniBatch, reason: str, trace: str, described: list[str], tries: int
    ) -> None:
        for entry in self.failures:
            if entry["mini_batch"] == batch["id"]:
                entry.update(tries=tries, traceback=trace)
                entry["errors"].append(reason)
                return
        self.failures.append(
            {
                "mini_batch": batch["id"],
                "items": described,
                "tries": tries,
                "errors": [reason],
                "traceback": trace,
            }
        )

    # -- limits, progress, summary --------------------------------------------------------
    def _check_limits(self) -> None:
        cfg, total = self.cfg, max(1, len(self.batches))
        threshold, count, pct = (
            cfg["error_threshold"],
            cfg.get("allowed_failed_count"),
            cfg.get("allowed_failed_percent"),
        )
        if threshold != -1 and self.stats["failed_items"] > threshold:
            self.abort = f"{self.stats['failed_items']} failed items exceed error_threshold={threshold}"
        elif count not in (None, -1) and self.stats["failed"] > count:
            self.abort = f"{self.stats['failed']} failed mini-batches exceed allowed_failed_count={count}"
        elif pct not in (None, -1) and self.stats["failed"] * 100.0 / total > pct:
            self.abort = (
                f"{self.stats['failed']} of {total} mini-batches failed, over allowed_failed_percent={pct}"
            )

    def _progress(self, left: int) -> None:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        nodes = ", ".join(
            f"node {n}: {b} mini-batches/{i} items" for n, (b, i) in sorted(self.per_node.items())
        )
        self._say(
            f"progress: {self.stats['done']}/{len(self.batches)} mini-batches done, {self.stats['failed']} failed, "
            f"{left} left; {self.stats['items']} items, {self.stats['items'] / elapsed:.1f} items/s"
            + (f"; {nodes}" if nodes else "")
        )
        if self.board is not None:
            self.board.beat(self.beat_status(), **self.progress_fields(left))

    def beat_status(self) -> str:
        return "aborted" if self.abort else "running"

    def progress_fields(self, left: int) -> dict[str, Any]:
        """This node's progress as its heartbeat on the board carries it (and ``azml run`` shows)."""
        elapsed = max(time.monotonic() - self.started, 1e-6)
        return {
            "total": len(self.batches),
            "done": self.stats["done"],
            "failed": self.stats["failed"],
            "left": left,
            "items": self.stats["items"],
            "items_failed": self.stats["failed_items"],
            "items_per_second": round(self.stats["items"] / elapsed, 2),
            "reason": self.abort,
            "host": os.environ.get("AZML_WORKER_NAME") or os.uname().nodename,
        }

    def summary(self) -> dict[str, Any]:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        return {
            "status": "Failed" if self.abort else "Finished",
            "reason": self.abort,
            "mini_batches": {
                "total": len(self.batches),
                "succeeded": self.stats["done"],
                "failed": self.stats["failed"],
                "from_checkpoint": self.stats["reused"],
            },
            "items": {"total": self.stats["items"], "failed": self.stats["failed_items"]},
            "items_per_second": round(self.stats["items"] / elapsed, 2),
            "seconds": round(elapsed, 3),
            "workers": self.nworkers,
            "per_node": {
                str(n): {"mini_batches": b, "items": i} for n, (b, i) in sorted(self.per_node.items())
            },
            "failures": self.failures,
        }

    def _finish(self) -> int:
        self._progress(len(self.batches) - self.stats["done"] - self.stats["failed"])
        summary = self.summary()
        for key in ("summary_file",):
            if self.cfg.get(key):
                Path(self.cfg[key]).parent.mkdir(parents=True, exist_ok=True)
                Path(self.cfg[key]).write_text(json.dumps(summary, indent=1, default=str))
        if self.abort is None:
            if self.failures:
                self._say(
                    f"finished with failures under the limits: {len(self.failures)} mini-batch(es) had errors"
                )
            return 0
        message = failure_message(self.cfg, summary)
        if self.cfg.get("failure_file"):
            Path(self.cfg["failure_file"]).write_text(message)
        print(message, file=sys.stderr, flush=True)
        return EXIT_INIT if self.stats.get("init_failed") else EXIT_THRESHOLD

    def _say(self, text: str) -> None:
        print(f"ParallelRunStep {self.cfg.get('step_name', '')}: {text}", flush=True)


def main(driver: type[Driver] | None = None) -> None:
    """``python -m airflow_azml.runtime.parallel CONFIG.json [ARGS...]`` (``parallel_node`` for a node)."""
    driver = driver or Driver
    os.environ.pop("PYTHONSAFEPATH", None)  # only for the driver's own imports, not for what run() starts
    if len(sys.argv) < 2:
        raise SystemExit("usage: python -m airflow_azml.runtime.parallel CONFIG.json [ARGS...]")
    cfg = json.loads(Path(sys.argv[1]).read_text())
    cfg["arguments"] = sys.argv[2:]
    if os.environ.get("AZML_COMPAT") == "1":
        from airflow_azml import compat

        compat.enable()
    ws = store = None
    if cfg.get("workspace"):
        from airflow_azml.core.workspace import Workspace

        ws = Workspace.from_spec(cfg["workspace"])
        store = ws.get_default_datastore().store if cfg.get("checkpoint_prefix") else None
    raise SystemExit(driver(cfg, ws, store).run())


if __name__ == "__main__":
    main()
