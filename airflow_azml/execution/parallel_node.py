"""A node task of a ParallelRunStep (nodes 1..n-1; node 0 is the step's own task).

A node takes no part in the step lifecycle (record, reuse, outputs): it waits until node 0 has
published the cut on the board, resolves the same inputs on its own worker, runs the parallel
driver as node ``k`` (its processes claim chunks of mini-batches from the board), and uploads
what run() wrote to the output folder to the board, where node 0 gathers it before committing.
If node 0 never starts (``node_wait_seconds``), or the step ended or was reused meanwhile, the
node ends without work: node 0 runs whatever is left itself, so no node is ever needed.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from airflow_azml.exceptions import StepFailedError
from airflow_azml.execution.parallel import ParallelRunExecution
from airflow_azml.execution.step import StepInvocation

__all__ = ["ParallelNodeExecution", "NODE_WAIT_SECONDS"]

NODE_WAIT_SECONDS = 600.0


class ParallelNodeExecution(ParallelRunExecution):
    """``ParallelNodeExecution(inv, node).run_node()``."""

    def __init__(self, inv: StepInvocation, node: int, log: Any = None):
        super().__init__(inv, log=log)
        self.node = int(node)
        self.workdir = self.workdir.parent / f"node{self.node}_try_{inv.try_number}"

    def run_node(self) -> dict[str, Any]:
        """Work as this node; returns what this node did (from its heartbeat), or why it did nothing."""
        board = self.board
        started = self._wait_for_node_0(board)
        if started is not None:
            return {"node": self.node, "skipped": started}
        self.record = {"inputs": {}}
        params, inputs = self._resolve_inputs()
        out_root = self.workdir / "outputs"
        outputs = {spec["name"]: str(out_root / spec["name"]) for spec in self.step["outputs"]}
        for path in outputs.values():
            Path(path).mkdir(parents=True, exist_ok=True)
        code = self._launch(params, inputs, outputs)
        if code != 0:
            failure = self.workdir / "parallel_failure.txt"
            text = failure.read_text() if failure.exists() else "\n".join(self.process.stderr_tail)
            raise StepFailedError(
                f"ParallelRunStep {self.step['name']!r} node {self.node} failed (exit {code}):\n{text}"
            )
        mine = board.nodes().get(board.name) or {}
        if mine.get("status") == "drained":
            for name, path in outputs.items():
                if any(p.is_file() for p in Path(path).rglob("*")):
                    board.store.put(Path(path), f"{board.prefix}/outputs/{board.name}/{name}")
            fields = {k: v for k, v in mine.items() if k not in ("node", "status", "beat")}
            board.beat("ended", **fields)
        self.log.info(
            "ParallelRunStep %s node %s: %s", self.step["name"], self.node, json.dumps(mine, default=str)
        )
        return {"node": self.node, **mine}

    def _wait_for_node_0(self, board: Any) -> str | None:
        """None once node 0 runs the step; else why this node has nothing to do."""
        wait = float(self.step["parallel"].get("node_wait_seconds") or NODE_WAIT_SECONDS)
        deadline = time.monotonic() + wait
        said = False
        while True:
            state = board.state() or {}
            status = state.get("status")
            if status in ("started", "running"):  # node 0 runs the step: resolve the inputs meanwhile
                return None
            if status in ("finished", "failed", "reused"):
                return f"the step is already {status}"
            if time.monotonic() > deadline:
                return f"node 0 did not start within {wait:.0f}s; it runs every mini-batch itself"
            if not said:
                self.log.info(
                    "ParallelRunStep %s node %s: waiting for node 0 to cut the inputs",
                    self.step["name"],
                    self.node,
                )
                said = True
            time.sleep(1.0)
