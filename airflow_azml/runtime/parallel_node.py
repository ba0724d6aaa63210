"""One node of a ParallelRunStep spread over several Airflow task instances.

Each node is a task instance (node 0 is the step's own task; nodes 1..n-1 its node tasks,
which Celery may run on other workers) running this driver with ``process_count_per_node``
worker processes. Mini-batches are not sliced up front: a node claims chunks of them on the
board (``parallel_board.py``) whenever its processes run short, so a fast node simply claims
more. Finished and finally failed mini-batches go to the node's own checkpoint parts. A node
that is retried runs only the unfinished mini-batches of its own claims, then claims more.

Node 0 also finishes the step: when no chunk is left it runs the unfinished mini-batches of
nodes that stopped (ended, failed or silent for ``node_lease_seconds``), waits for the others,
then gathers every node's records into one count, one append_row file and one summary. Only
then, and only if the thresholds hold, does the step commit its outputs.
"""

from __future__ import annotations

import collections
import time
from typing import Any

from airflow_azml.runtime.parallel import Driver, main
from airflow_azml.runtime.parallel_board import chunk_size, claim_order
from airflow_azml.runtime.parallel_checkpoint import Checkpoint
from airflow_azml.runtime.parallel_pool import WorkerPool

__all__ = ["NodeDriver", "EXIT_PLAN"]

EXIT_PLAN = 5  # this node cut the inputs differently from node 0
_LEASE = 60.0  # seconds without a heartbeat after which a node counts as gone


class _NodeCheckpoint(Checkpoint):
    """Parts that also say which node, attempt and epoch (node 0's attempt) finished each
    mini-batch. Reading them back, a success wins over a failure, and a failure counts only in
    the epoch it happened in: a retried step tries its failed mini-batches again, as one task does."""

    node, epoch = 0, 1

    def add(self, batch_id: str, record: dict[str, Any]) -> None:
        super().add(batch_id, {**record, "node": self.node, "attempt": self.attempt, "epoch": self.epoch})

    def load(self) -> dict[str, dict[str, Any]]:
        done: dict[str, dict[str, Any]] = {}
        for batches in self.parts():
            for batch_id, rec in batches.items():
                if rec.get("failed") and (rec.get("epoch") != self.epoch or batch_id in done):
                    continue
                done[batch_id] = rec
        return done


class NodeDriver(Driver):
    """``NodeDriver(cfg, ws, store).run()``: cfg has ``node``, ``node_count`` and ``board_prefix``."""

    def __init__(self, cfg: dict[str, Any], workspace: Any = None, store: Any = None):
        if store is None or not cfg.get("board_prefix"):
            raise ValueError("a ParallelRunStep node needs the default datastore and its board prefix")
        self.node, self.node_count = int(cfg.get("node", 0)), max(1, int(cfg["node_count"]))
        super().__init__({**cfg, "node_count": 1}, workspace, store)  # this node's processes only
        self.cfg = cfg
        self.checkpoint = _NodeCheckpoint(
            store,
            self.checkpoint.prefix,
            self.checkpoint.fp,
            self.checkpoint.attempt,
            self.checkpoint.every,
            tag=self.board.name,
        )
        self.checkpoint.node = self.node
        self.checkpoint.epoch = int(cfg.get("attempt", 1)) if self.node == 0 else 1
        self.chunk = chunk_size(len(self.batches), self.node_count, self.pcount)
        self.order = claim_order(-(-len(self.batches) // self.chunk), self.node, self.node_count)
        self.cursor, self.taken, self.resumed = 0, set(), False
        self.known: dict[str, dict[str, Any]] = {}
        self.lease = float(cfg.get("node_lease_seconds") or _LEASE)
        self.last_look = 0.0

    # -- the run ----------------------------------------------------------------------------
    def run(self) -> int:
        if self.node != 0 and not self._agree():
            return self.exit_code
        self.known = self.checkpoint.load()  # every node's finished mini-batches so far
        if self.node == 0:
            self.board.set_state(
                "running",
                fingerprint=self.checkpoint.fp,
                total=len(self.batches),
                epoch=self.checkpoint.epoch,
            )
        self.board.beat("running", **self.progress_fields(len(self.batches)))
        self._say(
            f"node {self.node} of {self.node_count}: {len(self.batches)} mini-batches in chunks of {self.chunk}, "
            f"{self.pcount} worker processes; {len(self.known)} finished earlier"
        )
        try:
            self._loop()
        finally:
            self.checkpoint.flush()
        self._progress(0)
        board = self.board
        # "drained": the node's task still uploads what run() wrote to the output folder; it says "ended" then
        drained = "drained" if self.node and self.cfg.get("upload_outputs") else "ended"
        board.beat("aborted" if self.abort else drained, **self.progress_fields(0))
        if self.node != 0:
            self._say("no mini-batches left to claim: this node is done" if not self.abort else self.abort)
            return 0
        code = self._gather()
        board.set_state("finished" if code == 0 else "failed", reason=self.abort)
        return code

    def _agree(self) -> bool:
        """Wait for node 0's cut; refuse to work on a different one (the inputs changed between them)."""
        self.exit_code = 0
        deadline = time.monotonic() + float(self.cfg.get("node_wait_seconds", 600))
        while time.monotonic() < deadline:
            state = self.board.state() or {}
            if state.get("status") in ("finished", "failed", "reused"):
                self._say(f"the step is already {state['status']}: nothing for node {self.node} to do")
                return False
            if state.get("fingerprint"):
                if state["fingerprint"] == self.checkpoint.fp:
                    self.checkpoint.epoch = int(state.get("epoch", 1))
                    return True
                self._say(
                    f"node {self.node} cut the inputs into other mini-batches than node 0 did (did the input "
                    "change between the two tasks?); this node takes no part"
                )
                self.exit_code = EXIT_PLAN
                return False
            time.sleep(0.5)
        self._say(f"node 0 did not start within node_wait_seconds; node {self.node} takes no part")
        return False

    def _loop(self) -> None:
        pool = WorkerPool(self.cfg, self.batches)
        first = self.node * self.pcount  # worker numbers say the node (EntryScript().node_id)
        for worker in range(first, first + self.pcount):
            pool.spawn(worker)
        pending: collections.deque = collections.deque()
        left: set[int] = set()
        last_say = time.monotonic()
        try:
            while self.abort is None:
                if len(pending) < self.pcount * pool.depth:
                    self._refill(pending, left)
                if not left and not pending and (self.node != 0 or self._all_done(pending, left)):
                    break
                self._turn(pool, pending, left, None, 0.2)
                if time.monotonic() - last_say >= float(self.cfg.get("progress_seconds", 5)):
                    self._watch()
                    self._progress(len(left))
                    last_say = time.monotonic()
        finally:
            pool.stop(quick=self.abort is not None)

    # -- claiming work ----------------------------------------------------------------------
    def _chunk(self, chunk: int) -> list[int]:
        start = chunk * self.chunk
        return [
            i
            for i in range(start, min(start + self.chunk, len(self.batches)))
            if self.batches[i]["id"] not in self.known
        ]

    def _take(self, indexes: list[int], pending: collections.deque, left: set) -> None:
        fresh = [i for i in indexes if i not in left]
        pending.extend(fresh)
        left.update(fresh)

    def _refill(self, pending: collections.deque, left: set) -> None:
        """My earlier claims' unfinished mini-batches first (a retried node), then the next free chunk."""
        if not self.resumed:
            self.resumed = True
            mine = [c for c, owner in self.board.claims().items() if owner == self.board.name]
            for chunk in sorted(mine):
                self._take(self._chunk(chunk), pending, left)
            if mine:
                self._say(f"resumed the {len(mine)} chunk(s) this node claimed in an earlier try")
                self.taken.update(mine)
        while self.cursor < len(self.order):
            chunk = self.order[self.cursor]
            self.cursor += 1
            if chunk in self.taken:
                continue
            if not self.board.claim(chunk):
                self.taken.update(self.board.claims())  # others were faster: skip all they hold
                continue
            self.taken.add(chunk)
            todo = self._chunk(chunk)
            if todo:
                self._take(todo, pending, left)
                return

    def _all_done(self, pending: collections.deque, left: set) -> bool:
        """Node 0 with nothing of its own left: True when every mini-batch is finished and every
        other node is done; takes over the unfinished mini-batches of nodes that stopped."""
        if time.monotonic() - self.last_look < 1.0:
            time.sleep(0.2)
            return False
        self.last_look = time.monotonic()
        self.checkpoint.flush()
        self.known = self.checkpoint.load()
        claims, nodes, now = self.board.claims(), self.board.nodes(), time.time()
        self._watch(nodes)
        stale = {n for n, info in nodes.items() if now - float(info.get("beat", 0)) > self.lease}
        ended = stale | {n for n, info in nodes.items() if info.get("status") in ("ended", "aborted")}
        gone = ended | {n for n, info in nodes.items() if info.get("status") == "drained"}
        undone = [i for i, b in enumerate(self.batches) if b["id"] not in self.known]
        orphans = [
            i
            for i in undone
            if claims.get(i // self.chunk) in gone
            or claims.get(i // self.chunk) in (None, self.board.name)
            or claims.get(i // self.chunk) not in nodes
        ]
        if orphans:
            self._say(f"running {len(orphans)} unfinished mini-batch(es) of nodes that stopped")
            self._take(orphans, pending, left)
            return False
        if undone:
            return False
        busy = [n for n in nodes if n != self.board.name and n not in ended]  # drained: still uploading
        return not busy

    def _watch(self, nodes: dict[str, dict[str, Any]] | None = None) -> None:
        """Stop when the step stopped elsewhere: node 0 failed or went silent (other nodes), or a
        node stopped with a reason (node 0). Node 0 also refreshes its own beat on the state."""
        if self.node != 0:
            state = self.board.state() or {}
            if state.get("status") in ("failed", "finished", "reused"):
                self.abort = f"the step is {state['status']} (node 0)"
            elif time.time() - float(state.get("beat", time.time())) > self.lease:
                self.abort = f"node 0 sent no heartbeat for {self.lease:.0f}s"
            return
        self.board.set_state("running")
        for name, info in (nodes if nodes is not None else self.board.nodes()).items():
            if name != self.board.name and info.get("status") == "aborted" and info.get("reason"):
                self.abort = f"{name} stopped: {info['reason']}"

    def _failed_try(
        self, index: int, items: int, reason: str, trace: str, described: list[str], pending, left
    ) -> None:
        super()._failed_try(index, items, reason, trace, described, pending, left)
        if index not in left:  # tries used up: the failure is part of the step's record
            batch_id = self.batches[index]["id"]
            entry = next((f for f in self.failures if f["mini_batch"] == batch_id), None)
            self.checkpoint.add(batch_id, {"failed": True, "items": items, "failure": entry})

    # -- the gather (node 0) ----------------------------------------------------------------
    def _gather(self) -> int:
        """Every node's records as one count, one append_row file, one summary and exit code."""
        self.board = None  # the beats above are this node's own; the totals below are the step's
        self.nworkers = self.node_count * self.pcount
        records = self.checkpoint.load()
        own = {f["mini_batch"] for f in self.failures}
        self.stats = {"items": 0, "failed_items": 0, "done": 0, "failed": 0, "reused": 0}
        self.per_node = {}
        out = self._open_output()
        try:
            for batch in self.batches:
                rec = records.get(batch["id"])
                if rec is None:
                    continue
                self.stats["reused"] += int(rec.get("attempt", 1) < int(self.cfg.get("attempt", 1)))
                node = self.per_node.setdefault(int(rec.get("node", 0)), [0, 0])
                node[0], node[1] = node[0] + 1, node[1] + int(rec["items"])
                if rec.get("failed"):
                    self.stats["failed"] += 1
                    self.stats["items"] += rec["items"]
                    self.stats["failed_items"] += rec["items"]
                    if rec.get("failure") and batch["id"] not in own:
                        self.failures.append(rec["failure"])
                    self._check_limits()
                else:
                    self._count_done(rec["items"], rec["results"], rec.get("rows", ""), out)
        finally:
            if out is not None:
                out.close()
        if self.abort is None and len(records) < len(self.batches):
            self.abort = f"{len(self.batches) - len(records)} mini-batches were never finished"
        return self._finish()


if __name__ == "__main__":  # python -m airflow_azml.runtime.parallel_node CONFIG.json [ARGS...]
    main(NodeDriver)
