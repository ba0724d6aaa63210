"""The board of a HyperDriveStep whose children run in slot tasks, and the controller's side of it.

With slot tasks the step's own task is the controller: its :class:`~airflow_azml.execution.sweep.Sweep`
posts each trial on this board (:class:`SlotController`) and follows it through a
:class:`BoardChild` handle (its state and logged metrics as its slot writes them); the slots
(``execution/hyperdrive_slots.py``) claim and run them. Board (``<records>/<task>/hyperdrive_board/``),
on the ParallelRunStep board (``runtime/parallel_board.py``: state, create-if-absent claims, heartbeats):

- ``state.json``: the controller's ``started`` / ``done`` / ``failed`` / ``reused``;
- ``posted/HD_<n>.json``: a trial (its number and hyperparameters); ``claims/c<n>``: its slot;
  ``nodes/slot<k>.json``: each slot's heartbeat (``running``, then ``ended``) and the children it ran;
- ``trials/HD_<n>/state.json`` (the slot's ``Running``/``Ended``, exit code, heartbeat, stderr
  tail), ``trials/HD_<n>/metrics.jsonl`` (the child's metrics so far), ``trials/HD_<n>/cancel``.
"""

from __future__ import annotations

import contextlib
import json
import time
from typing import Any

from airflow_azml.runtime.parallel_board import Board

__all__ = ["BoardChild", "SlotController", "SweepBoard", "sweep_board", "BOARD_FOLDER", "CHILDREN_DIR"]

CHILDREN_DIR = "children"
BOARD_FOLDER = "hyperdrive_board"
SLOT_SILENT_SECONDS = 120.0  # a running trial whose slot has not written for this long has failed
SLOT_WAIT_SECONDS = 600.0  # how long a slot waits for the controller to start the sweep
_REFRESH = 0.5  # seconds between a handle's reads of a trial's metrics (one datastore read)


def sweep_board(execution: Any, slot: int) -> SweepBoard:
    prefix = f"{execution.records.prefix}/{execution.step['task_id']}/{BOARD_FOLDER}"
    return SweepBoard(execution.ws.get_default_datastore().store, prefix, slot)


class SweepBoard(Board):
    """The ParallelRunStep board (state, create-if-absent claims) with a sweep's trials on it."""

    def __init__(self, store: Any, prefix: str, slot: int):
        super().__init__(store, prefix, slot)
        self.name = f"slot{slot}"

    def _json(self, rel: str) -> dict[str, Any] | None:
        try:
            return json.loads(self.store.read_bytes(f"{self.prefix}/{rel}"))
        except Exception:  # noqa: BLE001 - absent or being written
            return None

    def _put(self, rel: str, body: Any) -> None:
        self.store.write_bytes(f"{self.prefix}/{rel}", json.dumps(body, default=str).encode())

    def post(self, number: int, values: dict[str, Any]) -> None:
        self._put(f"posted/HD_{number}.json", {"number": number, "hyperparameters": values})

    def posted(self) -> list[int]:
        """The numbers of the trials posted so far (one listing)."""
        folder = f"{self.prefix}/posted"
        if not self.store.exists(folder):
            return []
        leaves = (rel.rsplit("/", 1)[-1] for rel in self.store.list_files(folder))
        return sorted(int(leaf[3:-5]) for leaf in leaves if leaf.startswith("HD_") and leaf.endswith(".json"))

    def posted_values(self, number: int) -> dict[str, Any]:
        """A posted trial's hyperparameters."""
        return (self._json(f"posted/HD_{number}.json") or {}).get("hyperparameters") or {}

    def trial(self, number: int) -> dict[str, Any] | None:
        return self._json(f"trials/HD_{number}/state.json")

    def set_trial(self, number: int, **body: Any) -> None:
        self._put(f"trials/HD_{number}/state.json", {**body, "beat": time.time()})

    def cancel(self, number: int) -> None:
        self.store.write_bytes(f"{self.prefix}/trials/HD_{number}/cancel", b"")

    def canceled(self, number: int) -> bool:
        return self.store.exists(f"{self.prefix}/trials/HD_{number}/cancel")

    def metrics_rel(self, number: int) -> str:
        return f"{self.prefix}/trials/HD_{number}/metrics.jsonl"


class _Ended:
    """What :meth:`HyperDriveExecution._child_record` and ``_no_best`` read of a child's process."""

    def __init__(self) -> None:
        self.stderr_tail: list[str] = []


class BoardChild:
    """The controller's handle of a posted trial: its state and metrics as its slot writes them.
    If no slot task is left to claim it (they all ended, or none started within
    ``SLOT_WAIT_SECONDS``), the controller claims it and runs it itself, as the in-task sweep does."""

    def __init__(self, controller: SlotController, number: int, values: dict[str, Any]):
        self.controller, self.board, self.number, self.values = controller, controller.board, number, values
        ex = controller.execution
        self.metric = ex.step["hyperdrive"]["primary_metric_name"]
        self.metrics_file = ex._child_dir(number) / "metrics.jsonl"
        self.slot: dict[str, Any] | None = None
        self.process: Any = _Ended()
        self.inner: Any = None  # the controller runs it (no slot left)
        self._read_at = 0.0
        self._series: list[float] = []

    @property
    def slot_puts_files(self) -> bool:
        return self.inner is None

    def poll(self) -> int | None:
        self.controller.beat()
        if self.inner is not None:
            return self.inner.poll()
        state = self.board.trial(self.number)
        if state is None:  # not claimed yet
            left = self.controller.no_slot_left() and not self.board.canceled(self.number)
            if left and self.board.claim(self.number):
                self.inner = self.controller.spawn(self.number, self.values)
                self.process = self.inner.process
                self.slot = {"task": self.controller.execution.step["task_id"], "started": time.time()}
            return None
        self.slot = {k: state.get(k) for k in ("task", "try", "host", "started", "ended")}
        if state.get("status") == "Ended":
            self._refresh(force=True)
            self.process.stderr_tail = list(state.get("stderr_tail") or [])
            return int(state.get("exit_code", -1))
        if time.time() - float(state.get("beat") or 0) > SLOT_SILENT_SECONDS:
            self.process.stderr_tail = [f"its slot task {state.get('task')} stopped writing (lost worker?)"]
            self.board.cancel(self.number)  # a later retry of that slot does not run it again
            return -1
        return None

    def kill(self) -> None:
        if self.inner is not None:
            self.inner.kill()
        self.board.cancel(self.number)

    def series(self) -> list[float]:
        if self.inner is not None:
            return self.inner.series()
        self._refresh()
        return self._series

    def _refresh(self, force: bool = False) -> None:
        from airflow_azml.runtime.metrics import read_metrics

        if not force and time.monotonic() - self._read_at < _REFRESH:
            return
        self._read_at = time.monotonic()
        rel = self.board.metrics_rel(self.number)
        if not self.board.store.exists(rel):
            return
        with contextlib.suppress(Exception):
            self.metrics_file.parent.mkdir(parents=True, exist_ok=True)
            self.metrics_file.write_bytes(self.board.store.read_bytes(rel))
            self._series = [
                float(r["value"])
                for r in read_metrics(self.metrics_file)
                if r["name"] == self.metric and r["kind"] == "scalar" and isinstance(r["value"], int | float)
            ]


class SlotController:
    """The step's task's side: posts trials, tells the slots when the sweep is over."""

    def __init__(self, execution: Any, spawn: Any):
        self.execution, self.spawn = execution, spawn
        spec = execution.step["hyperdrive"]
        self.slots = min(int(spec["max_concurrent_runs"]), int(spec["max_total_runs"]))
        self.board = sweep_board(execution, 0)
        self.board.set_state("started")
        self.since = self._beat = time.time()
        self._looked, self._left = 0.0, False

    def beat(self) -> None:
        """Tell the slots this task is alive (every few seconds, as it polls its children)."""
        if time.time() - self._beat > 5.0:
            self._beat = time.time()
            self.board.set_state("started")

    def post(self, number: int, values: dict[str, Any]) -> BoardChild:
        self.board.post(number, values)
        return BoardChild(self, number, values)

    def no_slot_left(self) -> bool:
        """Every slot task has ended (or gone silent), or none started within SLOT_WAIT_SECONDS."""
        now = time.time()
        if now - self._looked < 2.0:
            return self._left
        self._looked = now
        nodes = self.board.nodes().values()
        alive = [
            n
            for n in nodes
            if n.get("status") != "ended" and now - float(n.get("beat") or 0) < SLOT_SILENT_SECONDS
        ]
        waited = now - self.since > SLOT_WAIT_SECONDS
        self._left = not alive and (len(nodes) >= self.slots or waited)
        if self._left:
            self.execution.log.info("HyperDrive: no slot task is left; this task runs the remaining children")
        return self._left

    def finish(self, wait: float = 30.0) -> None:
        """The sweep is over: wait (up to ``wait`` s) for the slots to end the children it stopped,
        rewrite their records with where and when they really ended, then tell the slots."""
        ex = self.execution
        stopped = [
            c
            for c in (ex.sweep.children if ex.sweep is not None else [])
            if isinstance(c.handle, BoardChild) and c.handle.inner is None and c.status == "Canceled"
        ]
        deadline = time.monotonic() + wait
        while stopped and time.monotonic() < deadline:
            still = []
            for child in stopped:
                if child.handle.poll() is None:
                    still.append(child)
                else:
                    ex._record_child(child)
            stopped = still
            if stopped:
                time.sleep(0.2)
        self.board.set_state("done")

    def fetch_files(self, number: int) -> None:
        """The child's files, logs and metrics from its run-record folder (its slot put them there)."""
        ex = self.execution
        folder = f"{ex.records.prefix}/{ex.step['task_id']}/{CHILDREN_DIR}/HD_{number}"
        ex.index.restore({"folder": folder}, ex._child_dir(number))
