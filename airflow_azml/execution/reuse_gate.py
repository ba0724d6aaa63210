"""ReuseGate: one step run's way through reuse, shared by StepExecution and the operators that
do their work elsewhere (DataTransferStep, DatabricksStep). The index and the reasons live in
``reuse.py``; this module only sequences them around the work.
"""

from __future__ import annotations

import time
from typing import Any

from airflow_azml.execution.fingerprint import Fingerprint, fingerprint_step
from airflow_azml.execution.records import RunRecords
from airflow_azml.execution.reuse import ReuseDecision, ReuseIndex, decide

__all__ = ["ReuseGate"]


class ReuseGate:
    """One step run's way through reuse, shared by StepExecution and the operators that work elsewhere.

    ``decide()`` before the work (fingerprint, index lookup, the reason), then either
    ``reused()`` (hand the earlier outputs on, run nothing) or ``ran()`` + the work +
    ``stamp()``/``publish()`` once the outputs were committed. ``record`` is the step's run
    record (a dict the gate fills: fingerprint, reused, reuse_reason, reused_from, run_reason).
    Reuse is an optimisation: nothing here fails a step; a fingerprint that cannot be computed
    means "run, without reuse", and says so.
    """

    def __init__(
        self,
        ws: Any,
        step: dict[str, Any],
        *,
        dag_id: str,
        run_id: str,
        conf: dict[str, Any],
        records: RunRecords,
        record: dict[str, Any],
        log: Any,
    ):
        self.ws, self.step, self.dag_id, self.run_id = ws, step, dag_id, run_id
        self.conf, self.records, self.record, self.log = conf, records, record, log
        self.fp: Fingerprint | None = None
        self.decision: ReuseDecision | None = None
        self.refused = False
        self.index = ReuseIndex(ws, dag_id, step["task_id"])

    def fingerprint(
        self,
        params: dict[str, Any],
        inputs: dict[str, Any],
        upstream: dict[str, Any],
        extra: dict[str, Any] | None = None,
    ) -> Fingerprint | None:
        """The run's fingerprint; inputs given only as {datastore, path} get their store version first."""
        try:
            for rec in inputs.values():
                if "version" not in rec and rec.get("datastore") and rec.get("path") is not None:
                    rec["version"] = self.ws._require_datastore(rec["datastore"]).store.version(rec["path"])
            self.fp = fingerprint_step(self.step, params, inputs, upstream, extra=extra)
        except Exception as exc:  # reuse is an optimisation: never fail a step because of it
            self.log.warning(
                "Step %s: could not fingerprint this run (%s); running it without reuse.",
                self.step["name"],
                exc,
            )
            self.fp = None
            return None
        self.record["fingerprint"] = self.fp.digest
        return self.fp

    def decide(
        self,
        params: dict[str, Any],
        inputs: dict[str, Any],
        upstream: dict[str, Any],
        *,
        extra: dict[str, Any] | None = None,
        refuse: str | None = None,
    ) -> ReuseDecision | None:
        """Reuse or run, and why; ``refuse`` (a reason) runs the step and keeps it out of the index."""
        self.decision, self.refused = None, refuse is not None
        if self.fingerprint(params, inputs, upstream, extra) is None:
            return None
        if self.refused:
            self.decision = ReuseDecision(False, refuse)
            return self.decision
        regenerate = str(self.conf.get("regenerate_outputs", False)).lower() in ("true", "1")
        try:
            self.decision = decide(
                self.index,
                self.fp,
                allow_reuse=bool(self.step.get("allow_reuse", True)),
                regenerate=regenerate,
                script=self.step.get("script_name"),
            )
        except Exception as exc:
            self.log.warning(
                "Step %s: could not read its reuse index (%s); running it.", self.step["name"], exc
            )
            self.decision = ReuseDecision(False, f"reuse index unreadable ({exc})")
        return self.decision

    @property
    def reuse(self) -> bool:
        return self.decision is not None and self.decision.reuse

    def ran(self) -> str:
        """Record and log why the step runs (call before the work)."""
        reason = self.decision.reason if self.decision is not None else "fingerprint unavailable"
        self.record.update(reused=False, run_reason=reason)
        self.log.info(
            "Running step %s: %s (fingerprint %s)",
            self.step["name"],
            reason,
            self.fp.short if self.fp is not None else "-",
        )
        return reason

    def reused(self, started: float) -> dict[str, Any]:
        """Hand the earlier run's outputs on, record where they came from; the caller runs nothing."""
        assert self.fp is not None and self.decision is not None and self.decision.entry is not None
        entry, task_id = self.decision.entry, self.step["task_id"]
        outputs = self.stamp(
            {n: {"datastore": o["datastore"], "path": o["path"]} for n, o in entry["outputs"].items()}
        )
        earlier = RunRecords(self.records.store, self.dag_id, entry["run_id"]).read_step(task_id) or {}
        self.log.info(
            "Reused: step %s of run %s (fingerprint %s)", entry.get("step"), entry["run_id"], self.fp.short
        )
        end = time.time()
        self.record.update(
            status="Finished",
            end=end,
            duration=round(end - started, 3),
            outputs=outputs,
            reused=True,
            reuse_reason=self.decision.reason,
            metrics=earlier.get("metrics", {}),
            logs=earlier.get("logs", {}),
            reused_from={
                "run_id": entry["run_id"],
                "step": entry.get("step"),
                "step_run_id": entry.get("step_run_id"),
                "task_id": task_id,
            },
        )
        self.records.write_step(task_id, self.record)
        self.index.remember(self.fp, self.run_id)
        return {
            "outputs": outputs,
            "metrics": self.record["metrics"],
            "status": "Finished",
            "reused": True,
            "reason": self.decision.reason,
            "reused_from": self.record["reused_from"],
        }

    def stamp(self, outputs: dict[str, Any]) -> dict[str, Any]:
        """Outputs as handed to consumers: with this run's fingerprint (their inputs' version)."""
        if self.fp is None:
            return outputs
        return {name: {**where, "fingerprint": self.fp.digest} for name, where in outputs.items()}

    def publish(self, outputs: dict[str, Any], inputs: dict[str, Any]) -> None:
        """Offer this committed run for reuse, unless it was refused or an input changed while it ran."""
        if self.fp is None or self.refused:
            return
        try:
            moved = self._inputs_moved(inputs)
            if moved:
                self.log.warning(
                    "Step %s: input %s changed while the step ran; this run will not be reused.",
                    self.step["name"],
                    ", ".join(moved),
                )
                return
            self.index.record(
                self.fp,
                run_id=self.run_id,
                step=self.step["name"],
                step_run_id=self.record.get("run_id", ""),
                outputs=outputs,
            )
        except Exception as exc:
            self.log.warning("Step %s: could not write its reuse entry (%s).", self.step["name"], exc)

    def _inputs_moved(self, inputs: dict[str, Any]) -> list[str]:
        """Datastore inputs whose version differs from the one fingerprinted."""
        moved = []
        for name, rec in inputs.items():
            if rec.get("datastore") and rec.get("path") is not None and rec.get("version") is not None:
                store = self.ws._require_datastore(rec["datastore"]).store
                if not store.exists(rec["path"]) or store.version(rec["path"]) != rec["version"]:
                    moved.append(name)
        return moved
