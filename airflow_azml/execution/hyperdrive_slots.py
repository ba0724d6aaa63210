"""A slot task of a HyperDriveStep: runs the children its controller posts, one at a time.

With slot tasks (``step["hyperdrive"]["slots"]``, set by the operator) the step's own task is the
controller (``execution/hyperdrive_board.py``): the same :class:`~airflow_azml.execution.sweep.Sweep`
samples, judges and stops, but posts each trial on a board on the default datastore.
``max_concurrent_runs`` slot tasks (``<step>__slot_<k>``, after the step's upstream, on its
queue) each resolve the step's inputs on their own worker, claim the next posted trial (a claim
is created only if absent), run the training script exactly as the in-task sweep does
(:meth:`HyperDriveExecution._spawn_child`), upload its metrics as they are logged, kill it when
the controller cancels it, put its files, logs and metrics in the child's run-record folder, and
loop until the controller says the sweep is over. A retried slot first reruns the trial its
earlier try had claimed and not finished; completed children are never run again.
"""

from __future__ import annotations

import json
import socket
import time
from typing import Any

from airflow_azml.execution.hyperdrive import HyperDriveExecution, _ChildProcess
from airflow_azml.execution.hyperdrive_board import (
    _REFRESH,
    SLOT_SILENT_SECONDS,
    SLOT_WAIT_SECONDS,
    sweep_board,
)
from airflow_azml.execution.params import expand_arguments
from airflow_azml.execution.step import StepInvocation

__all__ = ["HyperDriveSlotExecution"]


class HyperDriveSlotExecution(HyperDriveExecution):
    """``HyperDriveSlotExecution(inv, slot).run_slot()``: slot ``slot`` (1..max_concurrent_runs)."""

    def __init__(self, inv: StepInvocation, slot: int, log: Any = None):
        super().__init__(inv, log=log)
        self.slot = int(slot)
        self.workdir = self.workdir.parent / f"slot{self.slot}_try_{inv.try_number}"
        self.board = sweep_board(self, self.slot)
        self.task = f"{self.step['task_id']}__slot_{self.slot}"
        self.ran: list[str] = []
        self._current: _ChildProcess | None = None

    def run_slot(self) -> dict[str, Any]:
        """Run trials until the sweep is over; returns which children this slot ran."""
        why = self._wait_for_controller()
        if why is not None:
            self.log.info("HyperDrive slot %s: %s; nothing to run", self.slot, why)
            return {"slot": self.slot, "children": [], "skipped": why}
        from airflow_azml.execution.environments import interpreter_for

        self.record = {"inputs": {}}
        params, inputs = self._resolve_inputs()  # on this worker, as the step's own task does
        outputs = {
            spec["name"]: str(self.workdir / "outputs" / spec["name"]) for spec in self.step["outputs"]
        }
        base = json.loads(self._write_context(inputs, outputs).read_text())
        args = expand_arguments(self.step["arguments"], params, inputs, outputs, self.step["name"])
        python = interpreter_for(self.step, self.log)
        start = lambda n, values: self._spawn_child(n, values, base, args, params, python)  # noqa: E731
        self.board.beat("running", children=self.ran)
        try:
            self._work(start)
        finally:
            self.board.beat("ended", children=self.ran)
        self.log.info("HyperDrive slot %s ran %s", self.slot, ", ".join(self.ran) or "no child")
        return {"slot": self.slot, "children": self.ran}

    def _work(self, start: Any) -> None:
        taken: set[int] = set()
        beat = active = time.monotonic()
        if self.inv.try_number > 1:  # a retried slot first finishes what its earlier try had claimed
            for number, holder in sorted(self.board.claims().items()):
                if holder == self.board.name and (self.board.trial(number) or {}).get("status") != "Ended":
                    self._run_trial(number, self.board.posted_values(number), start)
        while True:
            ran = False
            for number in self.board.posted():
                if number in taken:
                    continue
                taken.add(number)
                if self.board.claim(number):
                    self._run_trial(number, self.board.posted_values(number), start)
                    ran = True
            if ran:
                active = time.monotonic()
            elif self._sweep_over():
                break
            else:  # the next trial comes as soon as the controller sees a child end: look often then
                time.sleep(0.05 if time.monotonic() - active < 10 else 0.5)
            if time.monotonic() - beat > 5.0:
                self.board.beat("running", children=self.ran)
                beat = time.monotonic()

    def _sweep_over(self) -> bool:
        """The controller said so, or it stopped writing (its task was killed)."""
        state = self.board.state() or {}
        if state.get("status") != "started":
            return True
        if time.time() - float(state.get("beat") or 0) > SLOT_SILENT_SECONDS:
            self.log.info("HyperDrive slot %s: the step's task stopped writing; this slot ends", self.slot)
            return True
        return False

    def _wait_for_controller(self) -> str | None:
        deadline = time.monotonic() + SLOT_WAIT_SECONDS
        while True:
            status = (self.board.state() or {}).get("status")
            if status == "started":
                return None
            if status in ("done", "failed", "reused"):
                return f"the sweep is already {status}"
            if time.monotonic() > deadline:
                return f"the step's task did not start its sweep within {SLOT_WAIT_SECONDS:.0f}s"
            time.sleep(0.5)

    def _run_trial(self, number: int, values: dict[str, Any], start: Any) -> None:
        """One child, from claim to its files in its run-record folder."""
        where = {"task": self.task, "try": self.inv.try_number, "host": socket.gethostname()}
        where["started"] = time.time()
        if self.board.canceled(number):  # stopped before it started (policy, max_duration)
            self.board.set_trial(number, status="Ended", exit_code=-1, ended=time.time(), **where)
            return
        self.ran.append(f"HD_{number}")
        self.log.info("HyperDrive slot %s: child HD_%s %s", self.slot, number, values)
        self.board.set_trial(number, status="Running", **where)
        try:
            child: _ChildProcess = start(number, values)
            self._current = child
        except Exception as exc:  # noqa: BLE001 - a child that cannot start is a failed child
            self.board.set_trial(
                number, status="Ended", exit_code=-1, ended=time.time(), stderr_tail=[str(exc)], **where
            )
            return
        try:
            code = self._watch(number, child, where)
        except BaseException:
            child.kill()
            self.board.set_trial(number, status="Ended", exit_code=-1, ended=time.time(), **where)
            raise
        self.board.set_trial(
            number,
            status="Ended",
            exit_code=code,
            ended=time.time(),
            stderr_tail=list(child.process.stderr_tail) if code != 0 else [],
            **where,
        )
        self.log.info("HyperDrive slot %s: child HD_%s ended with exit code %s", self.slot, number, code)

    def _watch(self, number: int, child: _ChildProcess, where: dict[str, Any]) -> int:
        """Until the child ends: its metrics to the board as logged, cancel when asked, heartbeat;
        then its files, logs and metrics into its run-record folder."""
        sent, code = -1, None
        while code is None:
            code = child.poll()
            size = child.metrics_file.stat().st_size if child.metrics_file.exists() else -1
            if size != sent:  # what it logged so far, for the controller's policy
                self.board.store.put(child.metrics_file, self.board.metrics_rel(number), overwrite=True)
                sent = size
            if code is None and self.board.canceled(number):
                child.kill()
                code = child.code if child.code is not None else -1
                self.log.info("HyperDrive slot %s: child HD_%s canceled by the controller", self.slot, number)
            elif code is None:
                self.board.set_trial(number, status="Running", **where)
                child.wait(_REFRESH)  # back at once when it ends
        if child.metrics_file.exists():
            self.board.store.put(child.metrics_file, self.board.metrics_rel(number), overwrite=True)
        self._put_child_files(number)
        return int(code)

    def kill(self) -> None:
        if self._current is not None:
            self._current.kill()
