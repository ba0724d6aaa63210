"""One step run from start to finish, the same in a local run and on a worker."""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airflow_azml.core._home import azml_home
from airflow_azml.core.workspace import Workspace
from airflow_azml.exceptions import StepFailedError, UserErrorException
from airflow_azml.execution.inputs import InputResolver
from airflow_azml.execution.outputs import OutputStager
from airflow_azml.execution.params import coerce_params, expand_arguments
from airflow_azml.execution.process import StepProcess
from airflow_azml.execution.records import RunRecords, run_slug, step_run_id
from airflow_azml.runtime import CONTEXT_ENV
from airflow_azml.runtime.metrics import read_metrics, summarize

__all__ = ["StepInvocation", "StepExecution", "SCRIPT_KINDS"]

SCRIPT_KINDS = ("python_script", "estimator", "command")


@dataclass
class StepInvocation:
    """Everything a step run needs, gathered by the operator from Airflow's context."""

    dag_id: str
    run_id: str
    step: dict[str, Any]
    workspace: dict[str, Any]
    parameters: dict[str, Any]
    params: dict[str, Any]
    upstream: dict[str, Any] = field(default_factory=dict)
    try_number: int = 1
    conf: dict[str, Any] = field(default_factory=dict)
    compat: bool = False
    final_try: bool = True


class StepExecution:
    """Resolve inputs, stage outputs, launch, commit on success, record everything."""

    def __init__(self, inv: StepInvocation, log: Any = None):
        self.inv = inv
        self.step = inv.step
        self.log = log or logging.getLogger("airflow_azml.step")
        self.ws = Workspace.from_spec(inv.workspace)
        self.slug = run_slug(inv.run_id)
        self.records = RunRecords(self.ws.get_default_datastore().store, inv.dag_id, inv.run_id)
        self.workdir = azml_home() / "work" / inv.dag_id / self.slug / self.step["task_id"] / f"try_{inv.try_number}"
        self.process: StepProcess | None = None
        self.record: dict[str, Any] = {}

    def run(self) -> dict[str, Any]:
        """Run the step, or reuse an earlier run with the same fingerprint; either way say why."""
        started = time.time()
        self.record = self._base_record(started)
        self.records.write_step(self.step["task_id"], self.record)
        stager = OutputStager(self.ws, self.workdir, self.slug, self.step["task_id"], f"try_{self.inv.try_number}",
                              self.inv.dag_id)
        try:
            params, inputs = self._resolve_inputs()
            fp, decision = self._reuse_decision(params)
            if decision is not None and decision.reuse:
                return self._reused(started, fp, decision)
            self._log_run_reason(fp, decision)
            outputs = self._run_and_commit(stager, params, inputs)
        except BaseException as exc:
            stager.discard()
            self._finish("Failed", started, error=str(exc))
            if self.inv.final_try:  # a step that will be retried has not failed the run yet
                self.records.mark_failed(self.step["task_id"])
            raise
        if fp is not None:
            outputs = {name: {**where, "fingerprint": fp.digest} for name, where in outputs.items()}
        self._finish("Finished", started, outputs=outputs)
        self._index(fp, outputs)
        return {"outputs": outputs, "metrics": self.record.get("metrics", {}), "status": "Finished",
                "reused": False, "reason": self.record.get("run_reason")}

    def _resolve_inputs(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """Parameter values and resolved inputs (what the script gets; the record keeps their versions)."""
        params = coerce_params(self.inv.parameters, self.inv.params, self.step["name"])
        resolver = InputResolver(self.ws, self.workdir, params, self.inv.upstream, self.step["name"])
        inputs: dict[str, Any] = {}
        for spec in self.step["inputs"]:
            inputs[spec["name"]], self.record["inputs"][spec["name"]] = resolver.resolve(spec)
        self.record["parameters"] = params
        return params, inputs

    def _reuse_decision(self, params: dict[str, Any]) -> tuple[Any, Any]:
        """The step's fingerprint and whether an earlier run can stand in; (None, None) if it cannot be computed."""
        from airflow_azml.execution.fingerprint import fingerprint_step
        from airflow_azml.execution.reuse import ReuseIndex, decide

        try:
            fp = fingerprint_step(self.step, params, self.record["inputs"], self.inv.upstream)
            self._reuse_index = ReuseIndex(self.ws, self.inv.dag_id, self.step["task_id"])
            regenerate = str(self.inv.conf.get("regenerate_outputs", False)).lower() in ("true", "1")
            decision = decide(self._reuse_index, fp, allow_reuse=bool(self.step.get("allow_reuse", True)),
                              regenerate=regenerate, script=self.step.get("script_name"))
        except Exception as exc:  # reuse is an optimisation: never fail a step because of it
            self.log.warning("Step %s: could not fingerprint this run (%s); running it without reuse.",
                             self.step["name"], exc)
            return None, None
        self.record["fingerprint"] = fp.digest
        return fp, decision

    def _log_run_reason(self, fp: Any, decision: Any) -> None:
        reason = decision.reason if decision is not None else "fingerprint unavailable"
        self.record.update(reused=False, run_reason=reason)
        self.log.info("Running step %s: %s (fingerprint %s)", self.step["name"], reason,
                      fp.short if fp is not None else "-")

    def _reused(self, started: float, fp: Any, decision: Any) -> dict[str, Any]:
        """Hand the earlier run's outputs on, run nothing, and record where they came from."""
        entry = decision.entry
        outputs = {name: {"datastore": o["datastore"], "path": o["path"], "fingerprint": fp.digest}
                   for name, o in entry["outputs"].items()}
        earlier = RunRecords(self.records.store, self.inv.dag_id, entry["run_id"]).read_step(self.step["task_id"]) or {}
        self.log.info("Reused: step %s of run %s (fingerprint %s)", entry.get("step"), entry["run_id"], fp.short)
        end = time.time()
        self.record.update(
            status="Finished", end=end, duration=round(end - started, 3), outputs=outputs, reused=True,
            reuse_reason=decision.reason, metrics=earlier.get("metrics", {}), logs=earlier.get("logs", {}),
            reused_from={"run_id": entry["run_id"], "step": entry.get("step"), "step_run_id": entry.get("step_run_id"),
                         "task_id": self.step["task_id"]},
        )
        self.records.write_step(self.step["task_id"], self.record)
        self._reuse_index.remember(fp, self.inv.run_id)
        return {"outputs": outputs, "metrics": self.record["metrics"], "status": "Finished", "reused": True,
                "reason": decision.reason, "reused_from": self.record["reused_from"]}

    def _index(self, fp: Any, outputs: dict[str, Any]) -> None:
        """Offer this committed run for reuse, unless an input changed while it ran."""
        if fp is None:
            return
        try:
            moved = self._inputs_moved()
            if moved:
                self.log.warning("Step %s: input %s changed while the step ran; this run will not be reused.",
                                 self.step["name"], ", ".join(moved))
                return
            self._reuse_index.record(fp, run_id=self.inv.run_id, step=self.step["name"],
                                     step_run_id=self.record["run_id"], outputs=outputs)
        except Exception as exc:
            self.log.warning("Step %s: could not write its reuse entry (%s).", self.step["name"], exc)

    def _inputs_moved(self) -> list[str]:
        """Datastore inputs whose version differs from the one fingerprinted."""
        moved = []
        for name, rec in self.record["inputs"].items():
            if rec.get("datastore") and rec.get("path") is not None and rec.get("version") is not None:
                store = self.ws._require_datastore(rec["datastore"]).store
                if not store.exists(rec["path"]) or store.version(rec["path"]) != rec["version"]:
                    moved.append(name)
        return moved

    def _run_and_commit(self, stager: OutputStager, params: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
        out_paths = {spec["name"]: str(stager.prepare(spec)) for spec in self.step["outputs"]}
        code = self._launch(params, inputs, out_paths)
        if code != 0:
            tail = "\n".join(self.process.stderr_tail) if self.process else ""
            raise StepFailedError(
                f"Step {self.step['name']!r} failed: {self.step.get('script_name', 'the process')} exited with code "
                f"{code}.\n--- last lines of stderr ---\n{tail}"
            )
        outputs = stager.commit(self.log)
        self._register(outputs)
        return outputs

    def _launch(self, params: dict[str, Any], inputs: dict[str, Any], outputs: dict[str, str]) -> int:
        """Start the step's process(es): its environment's Python (or its command), one per rank."""
        from airflow_azml.execution.distributed import launch_process
        from airflow_azml.execution.environments import interpreter_for, resolve_command

        if self.step["kind"] not in SCRIPT_KINDS:
            raise UserErrorException(f"Step kind {self.step['kind']!r} has no process launcher.")
        args = expand_arguments(self.step["arguments"], params, inputs, outputs, self.step["name"])
        ctx_file = self._write_context(inputs, outputs)
        python = interpreter_for(self.step, self.log)
        env = self._env(params, ctx_file, python)
        cwd = Path(self.step["source_directory"])
        if self.step["kind"] == "command":
            argv = resolve_command(args, cwd, env, self.step["name"])
        else:
            argv = [python, "-m", "airflow_azml.runtime.launch", self.step["script_name"], *args]
        self.process = launch_process(  # type: ignore[assignment]
            argv, cwd=cwd, env=env, log=self.log, logdir=self.workdir / "logs",
            distribution=self.step.get("distribution"), step=self.step["name"])
        return self.process.run()

    def _write_context(self, inputs: dict[str, Any], outputs: dict[str, str]) -> Path:
        self.workdir.mkdir(parents=True, exist_ok=True)
        ctx = {
            "run_id": step_run_id(self.inv.run_id, self.step["task_id"]),
            "parent_run_id": self.inv.run_id,
            "step_name": self.step["name"],
            "experiment": self.inv.dag_id,
            "workspace": self.inv.workspace,
            "input_datasets": inputs,
            "output_datasets": outputs,
            "metrics_file": str(self.workdir / "metrics.jsonl"),
            "parent_metrics_file": str(self.workdir / "parent_metrics.jsonl"),
            "files_dir": str(self.workdir / "files"),
        }
        for name in ("metrics.jsonl", "parent_metrics.jsonl"):
            (self.workdir / name).unlink(missing_ok=True)
        path = self.workdir / "context.json"
        path.write_text(json.dumps(ctx, indent=1, default=str))
        return path

    def _env(self, params: dict[str, Any], ctx_file: Path, python: str = sys.executable) -> dict[str, str]:
        env = dict(os.environ)
        bin_dir = str(Path(python).parent)
        env["PATH"] = os.pathsep.join([bin_dir, env.get("PATH", "")])  # `python` in a command = the step's
        if python != sys.executable:
            env["VIRTUAL_ENV"] = str(Path(python).parent.parent)
        env.update(self.step.get("environment", {}).get("env", {}))
        for key, value in self.step.get("params", {}).items():
            resolved = params[value["$param"]] if isinstance(value, dict) and "$param" in value else value
            env[f"AML_PARAMETER_{key}"] = str(resolved)
        env[CONTEXT_ENV] = str(ctx_file)
        env["AZUREML_RUN_ID"] = step_run_id(self.inv.run_id, self.step["task_id"])
        env["AZUREML_EXPERIMENT_NAME"] = self.inv.dag_id
        env["PYTHONUNBUFFERED"] = "1"
        if self.inv.compat:
            env["AZML_COMPAT"] = "1"
        return env

    def _register(self, outputs: dict[str, Any]) -> None:
        from airflow_azml.data.dataset import dataset_from_definition

        for spec in self.step["outputs"]:
            reg = spec.get("register")
            if not reg:
                continue
            where = outputs[spec["name"]]
            kind = "tabular" if spec.get("tabular") else "file"
            definition = {"kind": kind, "paths": [{"datastore": where["datastore"], "path": where["path"]}],
                          **(spec.get("tabular") or {"options": {}})}
            ds = dataset_from_definition(definition, self.ws).register(
                self.ws, reg["name"], reg.get("description"), reg.get("tags"), create_new_version=True)
            self.log.info("Registered dataset %r version %s", ds.name, ds.version)

    def _base_record(self, started: float) -> dict[str, Any]:
        return {"name": self.step["name"], "task_id": self.step["task_id"], "kind": self.step["kind"],
                "status": "Running", "start": started, "try_number": self.inv.try_number,
                "host": socket.gethostname(), "worker": os.environ.get("AZML_WORKER_NAME"),
                "compute_target": self.step.get("compute_target"),
                "run_id": step_run_id(self.inv.run_id, self.step["task_id"]), "inputs": {}, "outputs": {}}

    def _finish(self, status: str, started: float, outputs: dict | None = None, error: str | None = None) -> None:
        end = time.time()
        metrics = summarize(read_metrics(self.workdir / "metrics.jsonl"))
        logs = {n: self.records.put_file(self.step["task_id"], n, self.workdir / "logs" / n)
                for n in ("stdout.txt", "stderr.txt")}
        self.records.put_file(self.step["task_id"], "metrics.jsonl", self.workdir / "metrics.jsonl")
        self.records.put_file(self.step["task_id"], "parent_metrics.jsonl", self.workdir / "parent_metrics.jsonl")
        if (self.workdir / "files").exists():
            self.records.put_file(self.step["task_id"], "files", self.workdir / "files")
        self.record.update(status=status, end=end, duration=round(end - started, 3), metrics=metrics, logs=logs,
                           outputs=outputs or {}, error=error)
        self.records.write_step(self.step["task_id"], self.record)

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
