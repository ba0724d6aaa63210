"""One step run from start to finish, the same in a local run and on a worker."""

from __future__ import annotations

import json
import logging
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airflow_azml.core._home import azml_home
from airflow_azml.core.workspace import Workspace
from airflow_azml.exceptions import StepFailedError, UserErrorException
from airflow_azml.execution.inputs import InputResolver
from airflow_azml.execution.lifecycle import StepAttempt, StepResult
from airflow_azml.execution.outputs import OutputStager
from airflow_azml.execution.params import coerce_params, expand_arguments
from airflow_azml.execution.process import StepProcess
from airflow_azml.execution.records import RunRecords, run_slug, step_run_id
from airflow_azml.runtime import CONTEXT_ENV
from airflow_azml.runtime.launch import script_command
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
        self.workdir = (
            azml_home() / "work" / inv.dag_id / self.slug / self.step["task_id"] / f"try_{inv.try_number}"
        )
        self.process: StepProcess | None = None
        self.attempt: StepAttempt | None = None
        self.record: dict[str, Any] = {}

    def run(self) -> StepResult:
        """Run the step, or reuse an earlier run with the same fingerprint; either way say why."""
        return StepAttempt(self.inv, self.log, ws=self.ws).run(self.work)

    def work(self, attempt: StepAttempt) -> dict[str, Any]:
        """The run part of a script step: resolve inputs, reuse or launch, commit the outputs."""
        self.attempt, self.record, self.log = attempt, attempt.record, attempt.log
        attempt.collectors.append(self._collect)
        stager = OutputStager(
            self.ws,
            self.workdir,
            self.slug,
            self.step["task_id"],
            f"try_{self.inv.try_number}",
            self.inv.dag_id,
        )
        try:
            params, inputs = self._resolve_inputs()
            if attempt.decide(params, self.record["inputs"]) is not None:
                return {}
            return self._run_and_commit(stager, params, inputs)
        except BaseException:
            stager.discard()
            raise

    def _resolve_inputs(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """Parameter values and resolved inputs (what the script gets; the record keeps their versions)."""
        params = coerce_params(self.inv.parameters, self.inv.params, self.step["name"])
        resolver = InputResolver(self.ws, self.workdir, params, self.inv.upstream, self.step["name"])
        inputs: dict[str, Any] = {}
        for spec in self.step["inputs"]:
            inputs[spec["name"]], self.record["inputs"][spec["name"]] = resolver.resolve(spec)
        self.record["parameters"] = params
        return params, inputs

    def _run_and_commit(
        self, stager: OutputStager, params: dict[str, Any], inputs: dict[str, Any]
    ) -> dict[str, Any]:
        out_paths = {spec["name"]: str(stager.prepare(spec)) for spec in self.step["outputs"]}
        code = self._launch(params, inputs, out_paths)
        if self.attempt is not None and self.attempt.canceled:  # even a 0 exit commits nothing then
            raise StepFailedError(self.attempt.canceled)
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
            argv = [*script_command(python, self.step["script_name"], cwd, env), *args]
        self.process = launch_process(  # type: ignore[assignment]
            argv,
            cwd=cwd,
            env=env,
            log=self.log,
            logdir=self.workdir / "logs",
            distribution=self.step.get("distribution"),
            step=self.step["name"],
        )
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
        """``register_on_complete``: each such output is the dataset's next version; the output
        notes it (``registered``), and the task announces it as an asset event."""
        from airflow_azml.data.registry import register_dataset

        for spec in self.step["outputs"]:
            reg = spec.get("register")
            if not reg:
                continue
            where = outputs[spec["name"]]
            kind = "tabular" if spec.get("tabular") else "file"
            definition = {
                "kind": kind,
                "paths": [{"datastore": where["datastore"], "path": where["path"]}],
                **(spec.get("tabular") or {"options": {}}),
            }
            by = {
                "pipeline_run_id": self.inv.run_id,
                "task_id": self.step["task_id"],
                "step": self.step["name"],
                "announced_by": "task",
            }
            record = register_dataset(
                self.ws, definition, reg["name"], reg.get("description"), reg.get("tags"), True, by
            )
            outputs[spec["name"]]["registered"] = {"name": record["name"], "version": record["version"]}
            self.log.info("Registered dataset %r version %s", record["name"], record["version"])

    def _collect(self) -> dict[str, Any]:
        """The attempt's logs and metrics, copied to the run records (when it ends, either way)."""
        logs = {
            n: self.records.put_file(self.step["task_id"], n, self.workdir / "logs" / n)
            for n in ("stdout.txt", "stderr.txt")
        }
        for name in ("metrics.jsonl", "parent_metrics.jsonl"):
            self.records.put_file(self.step["task_id"], name, self.workdir / name)
        if (self.workdir / "files").exists():
            self.records.put_file(self.step["task_id"], "files", self.workdir / "files")
        return {"metrics": summarize(read_metrics(self.workdir / "metrics.jsonl")), "logs": logs}

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
