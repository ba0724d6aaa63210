"""One step attempt's run record and reuse, the same for every step kind.

The Airflow side (``operators/step.py``) runs the lifecycle of every step operator: the
continue-on-failure gate, this module's :class:`StepAttempt` (record, reuse, finish), the step
kind's own run part, then XCom. The engine-neutral half lives here so that a step run outside
Airflow (``StepExecution.run()``) records and reuses exactly as a task does.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from typing import Any, TypedDict

from airflow_azml.core.network import applied_network
from airflow_azml.core.workspace import Workspace
from airflow_azml.execution.job_log import JOB_LOG, JobLog
from airflow_azml.execution.records import RunRecords, step_run_id
from airflow_azml.execution.reuse_gate import ReuseGate
from airflow_azml.pipeline.core.status import CANCELED, FAILED, FINISHED, RUNNING

__all__ = ["StepAttempt", "StepResult", "step_record"]


class StepResult(TypedDict, total=False):
    """What a step attempt hands on: committed outputs (to XCom), metrics, and whether it was reused."""

    outputs: dict[str, Any]
    metrics: dict[str, Any]
    status: str
    reused: bool
    reason: str | None
    reused_from: dict[str, Any] | None


#: the run part of a step kind: does the work (or lets ``attempt.decide`` reuse), returns its outputs
Work = Callable[["StepAttempt"], dict[str, Any]]


def step_record(step: dict[str, Any], run_id: str, try_number: int, started: float) -> dict[str, Any]:
    """The run record every step attempt starts with (the one place it is built); step kinds add
    their own fields (``statements``, ``transfer``, ``databricks_run_id``...) to it."""
    return {
        "name": step["name"],
        "task_id": step["task_id"],
        "kind": step["kind"],
        "status": RUNNING,
        "start": started,
        "try_number": try_number,
        "host": socket.gethostname(),
        "worker": os.environ.get("AZML_WORKER_NAME"),
        "compute_target": step.get("compute_target"),
        "run_id": step_run_id(run_id, step["task_id"]),
        **({"run_class": step["run_class"]} if step.get("run_class") else {}),
        "inputs": {},
        "outputs": {},
    }


class StepAttempt:
    """One try of one step: its run record on the default datastore and its way through reuse.

    :meth:`run` is the sequence every step kind goes through: write the record (Running), call
    the kind's work, then record Finished (outputs stamped with the fingerprint and offered for
    reuse) or Failed (and, on the final try, mark the step failed so that steps not yet started
    are canceled unless the run has ``continue_on_step_failure``), or Canceled when :meth:`cancel`
    was called while it worked (the task was told to stop). The work calls :meth:`decide`
    once it knows its inputs: when that returns a result, an earlier run stands in and the work
    returns without doing anything.
    """

    def __init__(self, inv: Any, log: Any = None, *, ws: Any = None, record: dict[str, Any] | None = None):
        self.inv = inv
        self.step: dict[str, Any] = inv.step
        base = log or logging.getLogger("airflow_azml.step")
        #: the run part logs here: each line also goes to the attempt's job log (``job_log.txt``)
        self.log = base if isinstance(base, JobLog) else JobLog(base)
        self.ws = ws or Workspace.from_spec(inv.workspace)
        self.records = RunRecords(self.ws.get_default_datastore().store, inv.dag_id, inv.run_id)
        self.record = (
            record if record is not None else step_record(self.step, inv.run_id, inv.try_number, time.time())
        )
        self.started = float(self.record.get("start") or time.time())
        self.gate = ReuseGate(
            self.ws,
            self.step,
            dag_id=inv.dag_id,
            run_id=inv.run_id,
            conf=inv.conf,
            records=self.records,
            record=self.record,
            log=self.log,
        )
        self.reused_result: StepResult | None = None
        #: what the attempt logged before a deferral (a resumed attempt's job log goes on from it)
        self.earlier_log = ""
        #: called when the attempt ends, either way: fields to add to the record (logs, metrics)
        self.collectors: list[Callable[[], dict[str, Any]]] = []
        #: why the attempt was told to stop (a cancel: SIGTERM to the task); it then ends Canceled
        self.canceled: str | None = None

    @classmethod
    def resume(cls, inv: Any, log: Any = None) -> StepAttempt:
        """The attempt a resumed task (back from deferral) continues: its record as it was written."""
        attempt = cls(inv, log)
        stored = attempt.records.read_step(attempt.step["task_id"])
        if not stored:
            return attempt
        resumed = cls(inv, log, ws=attempt.ws, record=stored)
        resumed.earlier_log = attempt.records.read_text(
            f"{attempt.records.prefix}/{attempt.task_id}/{JOB_LOG}"
        )
        return resumed

    @property
    def task_id(self) -> str:
        return str(self.step["task_id"])

    def write(self) -> None:
        self.records.write_step(self.task_id, self.record)

    def run(
        self, work: Work, *, start: bool = True, passthrough: tuple[type[BaseException], ...] = ()
    ) -> StepResult:
        """Record, work, finish. ``passthrough`` exceptions (a deferral) leave the record as it is."""
        if start:
            self.write()
        try:
            with applied_network(self.ws._config.get("network"), self.log):  # core/network.py
                outputs = work(self)
        except passthrough:
            self._keep_job_log()  # a deferred attempt goes on later from what it logged so far
            raise
        except BaseException as exc:
            if self.canceled is not None:
                self._end(CANCELED, outputs={}, error=self.canceled)
            else:
                self.failed(exc)
            raise
        if self.reused_result is not None:
            return self.reused_result
        return self.finished(outputs)

    def decide(
        self,
        params: dict[str, Any],
        inputs: dict[str, Any],
        *,
        extra: dict[str, Any] | None = None,
        refuse: str | None = None,
    ) -> StepResult | None:
        """Reuse an earlier run (its result; the work then does nothing) or run now (None, reason recorded).

        ``inputs`` are the record's view of the inputs ({datastore, path[, version]}); ``extra``
        joins the fingerprint; ``refuse`` (a reason) runs the step and keeps it out of the index.
        """
        self.gate.decide(params, inputs, self.inv.upstream, extra=extra, refuse=refuse)
        if self.gate.reuse:
            self.reused_result = self.gate.reused(self.started)  # type: ignore[assignment]
            self._keep_job_log()
            return self.reused_result
        self.gate.ran()
        self.write()  # the reason and fingerprint survive a deferral
        return None

    def finished(self, outputs: dict[str, Any]) -> StepResult:
        """Record the committed outputs (stamped with the fingerprint) and offer them for reuse."""
        outputs = self.gate.stamp(outputs)
        self._end(FINISHED, outputs=outputs, error=None)
        self.gate.publish(outputs, self.record["inputs"])
        return {
            "outputs": outputs,
            "metrics": self.record.get("metrics") or {},
            "status": FINISHED,
            "reused": False,
            "reason": self.record.get("run_reason"),
        }

    def cancel(self, reason: str = "Canceled: the step's task was told to stop (run canceled).") -> None:
        """Called while the work runs (the task's on_kill): the attempt ends Canceled, not Failed,
        with no outputs, and the step is not marked failed. No effect once the record has ended."""
        if self.record.get("status") == RUNNING:
            self.canceled = reason

    def failed(self, exc: BaseException) -> None:
        """Record the error; on the final try, mark the step failed for the continue-on-failure gate."""
        self._end(FAILED, outputs={}, error=str(exc))
        if self.inv.final_try:  # a step that will be retried has not failed the run yet
            self.records.mark_failed(self.task_id)

    def _end(self, status: str, **fields: Any) -> None:
        for collect in self.collectors:
            fields.update(collect())
        if status in (FAILED, CANCELED):
            word = "failed" if status == FAILED else "was canceled"
            self.log.note("ERROR", "Step %s %s: %s", self.step["name"], word, fields.get("error"))
        fields["logs"] = {
            **(fields.get("logs") or self.record.get("logs") or {}),
            JOB_LOG: self._keep_job_log(),
        }
        end = time.time()
        self.record.update(status=status, end=end, duration=round(end - self.started, 3), **fields)
        self.write()

    def _keep_job_log(self) -> str:
        """Write what the attempt logged beside its run record; returns where (datastore-relative)."""
        rel = f"{self.records.prefix}/{self.task_id}/{JOB_LOG}"
        self.records.store.write_bytes(rel, (self.earlier_log + self.log.text()).encode())
        return rel
