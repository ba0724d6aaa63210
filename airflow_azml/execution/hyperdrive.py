"""A HyperDriveStep's run part: the script-step lifecycle whose process is a sweep of children.

Inputs, reuse, outputs, environment and the step's record are a script step's
(:class:`~airflow_azml.execution.step.StepExecution`). What differs is ``_launch``: a
:class:`~airflow_azml.execution.sweep.Sweep` starts each child as the training script in its
own snapshot of source_directory, with the step's arguments plus ``--name value`` per
hyperparameter, its own run id, metrics and logs; each child gets a record of its own under the
step's record folder (``<task>/children/HD_<n>.json``). The best completed child's ``outputs``
and every child's metrics become the step's TrainingOutputs; the best child's metrics are the step's.
"""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path
from typing import Any

from airflow_azml.exceptions import StepFailedError
from airflow_azml.execution.hyperdrive_board import CHILDREN_DIR
from airflow_azml.execution.hyperdrive_reuse import ChildIndex, ReusedChild
from airflow_azml.execution.params import expand_arguments
from airflow_azml.execution.process import StepProcess
from airflow_azml.execution.records import step_run_id
from airflow_azml.execution.step import StepExecution
from airflow_azml.execution.sweep import Sweep, SweepChild, best_child, best_value
from airflow_azml.pipeline.core.training_output import METRICS_FILE
from airflow_azml.runtime.launch import script_command
from airflow_azml.runtime.metrics import read_metrics, summarize

__all__ = ["HyperDriveExecution", "child_run_id", "hyperparameter_arguments", "CHILDREN_DIR"]

CANCEL_FLAG = "_cancel_sweep"  # written by HyperDriveStepRun.cancel()


def child_run_id(step_run: str, number: int) -> str:
    """v1 names a sweep's children ``<hyperdrive run id>_<n>``."""
    return f"{step_run}_HD_{number}"


def hyperparameter_arguments(values: dict[str, Any]) -> list[str]:
    """``{"--lr": 0.1, "batch": 8}`` → ``["--lr", "0.1", "--batch", "8"]`` (v1 passes names as flags)."""
    out: list[str] = []
    for name, value in values.items():
        out += [name if name.startswith("-") else f"--{name}", str(value)]
    return out


class _ChildProcess:
    """A child's process, run in a thread so the sweep can watch many at once."""

    def __init__(self, process: StepProcess, metrics_file: Path, metric: str):
        self.process, self.metrics_file, self.metric = process, metrics_file, metric
        self.code: int | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self.code = self.process.run()
        except Exception:  # noqa: BLE001 - a child that cannot run is a failed child
            self.code = -1

    def poll(self) -> int | None:
        return None if self._thread.is_alive() else self.code

    def wait(self, seconds: float) -> None:
        """Up to ``seconds``, less if it ends first."""
        self._thread.join(timeout=seconds)

    def kill(self) -> None:
        self.process.kill(grace=2.0)
        self._thread.join(timeout=10)

    def series(self) -> list[float]:
        return [
            float(r["value"])
            for r in read_metrics(self.metrics_file)
            if r["name"] == self.metric and r["kind"] == "scalar" and isinstance(r["value"], int | float)
        ]


class HyperDriveExecution(StepExecution):
    """:class:`StepExecution` whose process is a sweep of child runs."""

    sweep: Sweep | None = None
    index: ChildIndex | None = None

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.reused_children: dict[int, str] = {}  # child number -> the earlier child run it reuses

    def work(self, attempt: Any) -> dict[str, Any]:
        """The step lifecycle; with slot tasks, the board tells them when it ends without a sweep."""
        try:
            outputs = super().work(attempt)
        except BaseException:
            self._tell_slots("failed")
            raise
        if self.sweep is None:  # reused: the slots have nothing to do
            self._tell_slots("reused")
        return outputs

    def _tell_slots(self, status: str) -> None:
        if self.step["hyperdrive"].get("slots"):
            from airflow_azml.execution.hyperdrive_board import sweep_board

            sweep_board(self, 0).set_state(status)

    def _launch(self, params: dict[str, Any], inputs: dict[str, Any], outputs: dict[str, str]) -> int:
        from airflow_azml.execution.environments import interpreter_for

        spec = self.step["hyperdrive"]
        base_ctx = json.loads(self._write_context(inputs, outputs).read_text())
        args = expand_arguments(self.step["arguments"], params, inputs, outputs, self.step["name"])
        python = interpreter_for(self.step, self.log)

        def spawn(number: int, values: dict[str, Any]) -> _ChildProcess:
            return self._spawn_child(number, values, base_ctx, args, params, python)

        def start(number: int, values: dict[str, Any]) -> Any:
            reused = self._reused_child(number, values)
            if reused is not None:
                return reused
            if slots is not None:  # a slot task runs it (execution/hyperdrive_slots.py)
                return slots.post(number, values)
            return spawn(number, values)

        slots = self._slot_controller(spawn)
        fp = getattr(self.attempt.gate, "fp", None) if self.step.get("allow_reuse", True) else None
        self.index = ChildIndex(self.records.store, self.inv.dag_id, getattr(fp, "components", None), spec)
        flag = f"{self.records.prefix}/{self.step['task_id']}/{CANCEL_FLAG}"
        self.sweep = Sweep(
            spec,
            start,
            self._record_child,
            log=self.log,
            cancelled=lambda: self.records.store.exists(flag),
            poll_seconds=0.2 if slots is None else 0.1,
        )
        self.attempt.collectors.append(self._summary)
        try:
            children = self.sweep.run()
        finally:
            if slots is not None:
                slots.finish()
        best = best_child(children, self.sweep.maximize, ("Completed",))
        if best is None:
            raise StepFailedError(self._no_best(children))
        if slots is not None:  # its files are where its slot put them: here before they are published
            slots.fetch_files(best.number)
        self._publish(children, best, outputs)
        return 0

    def _child_dir(self, number: int) -> Path:
        return self.workdir / CHILDREN_DIR / f"HD_{number}"

    def _slot_controller(self, spawn: Any) -> Any:
        """With slot tasks (``hyperdrive.slots``, set by the operator) the board this task posts
        trials on; None when the children are this task's own processes (also on a retry of the
        step: the slot tasks of the first try have ended, so the rest runs here)."""
        if not self.step["hyperdrive"].get("slots"):
            return None
        from airflow_azml.execution.hyperdrive_board import SlotController

        if self.inv.try_number > 1:
            self.log.info("HyperDrive: a retry of the step runs its remaining children in this task")
            return None
        return SlotController(self, spawn)

    def _reused_child(self, number: int, values: dict[str, Any]) -> ReusedChild | None:
        """The child's earlier result (an earlier try of this run, or the reuse index), restored
        into its folder; None when it has to run."""
        folder = self._child_dir(number)
        shutil.rmtree(folder, ignore_errors=True)
        earlier = self._earlier_try(number, values)
        if earlier is None and self.index is not None:
            earlier = self.index.find(values)
        if earlier is None:
            return None
        self.index.restore(earlier, folder)
        self.reused_children[number] = earlier.get("reused_from") or earlier["record"]["run_id"]
        self.log.info(
            "HyperDrive child HD_%s %s: reused from %s", number, values, earlier["record"]["run_id"]
        )
        return ReusedChild(earlier["record"])

    def _spawn_child(
        self,
        number: int,
        values: dict[str, Any],
        base: dict[str, Any],
        args: list[str],
        params: dict,
        python: str,
    ) -> _ChildProcess:
        """The training script as child ``number``: its snapshot, context, arguments and process."""
        folder = self._child_dir(number)
        shutil.rmtree(folder, ignore_errors=True)
        snapshot = folder / "snapshot"
        shutil.copytree(
            self.step["source_directory"], snapshot, ignore=shutil.ignore_patterns("outputs", "logs")
        )
        run_id = child_run_id(step_run_id(self.inv.run_id, self.step["task_id"]), number)
        ctx = {
            **base,
            "run_id": run_id,
            "step_name": f"{self.step['name']}_HD_{number}",
            "metrics_file": str(folder / "metrics.jsonl"),
            "files_dir": str(folder / "files"),
            "hyperparameters": values,
        }
        ctx_file = folder / "context.json"
        ctx_file.write_text(json.dumps(ctx, indent=1, default=str))
        env = self._env(params, ctx_file, python)
        env["AZUREML_RUN_ID"] = run_id
        argv = [*script_command(python, self.step["script_name"], snapshot, env), *args]
        argv += hyperparameter_arguments(values)
        process = StepProcess(
            argv, cwd=snapshot, env=env, log=self.log, logdir=folder / "logs", prefix=f"[HD_{number}] "
        )
        return _ChildProcess(
            process, folder / "metrics.jsonl", self.step["hyperdrive"]["primary_metric_name"]
        )

    def _earlier_try(self, number: int, values: dict[str, Any]) -> dict[str, Any] | None:
        """On an Airflow retry of the step, this child as an earlier try of the same run completed it
        (same number, same hyperparameters): taken, not run again, whatever ``allow_reuse`` says."""
        if self.inv.try_number <= 1:
            return None
        folder = f"{self.records.prefix}/{self.step['task_id']}/{CHILDREN_DIR}/HD_{number}"
        if not self.records.store.exists(f"{folder}.json"):
            return None
        record = json.loads(self.records.store.read_bytes(f"{folder}.json"))
        same = json.dumps(record.get("hyperparameters"), sort_keys=True) == json.dumps(values, sort_keys=True)
        if record.get("status") != "Completed" or not same:
            return None
        return {"record": record, "folder": folder, "reused_from": f"{record['run_id']} (an earlier try)"}

    def _child_record(self, child: SweepChild) -> dict[str, Any]:
        folder = self._child_dir(child.number)
        handle = child.handle
        process = getattr(handle, "process", None)
        tail = list(process.stderr_tail) if process is not None and child.status == "Failed" else []
        return {
            "run_id": child_run_id(step_run_id(self.inv.run_id, self.step["task_id"]), child.number),
            "number": child.number,
            "hyperparameters": child.hyperparameters,
            "status": child.status,
            "exit_code": child.exit_code,
            "termination_reason": child.reason,
            "start_time": child.start_time,
            "end_time": child.end_time,
            "primary_metric_name": self.step["hyperdrive"]["primary_metric_name"],
            "primary_metric_goal": self.step["hyperdrive"]["primary_metric_goal"],
            "primary_metric_series": child.series,
            "best_primary_metric": best_value(child.series, self.sweep.maximize) if self.sweep else None,
            "metrics": summarize(read_metrics(folder / "metrics.jsonl")),
            "error": "\n".join(tail) or None,
            "reused_from": self.reused_children.get(child.number),
            "slot": getattr(handle, "slot", None),  # the slot task that ran it (slot tasks only)
        }

    def _record_child(self, child: SweepChild) -> None:
        """Write a child's record (at its start and at its end) and, once ended, its logs and files."""
        task, name = self.step["task_id"], f"{CHILDREN_DIR}/HD_{child.number}"
        if child.status != "Running" and not getattr(child.handle, "slot_puts_files", False):
            self._put_child_files(child.number)
        record = self._child_record(child)
        self.records.store.write_bytes(
            f"{self.records.prefix}/{task}/{name}.json", json.dumps(record, indent=1, default=str).encode()
        )
        if (
            child.status == "Completed"
            and self.index is not None
            and child.number not in self.reused_children
        ):
            self.index.remember(record, f"{self.records.prefix}/{task}/{name}")

    def _put_child_files(self, number: int) -> None:
        """An ended child's outputs, logs and metrics into its run-record folder."""
        task, name, folder = self.step["task_id"], f"{CHILDREN_DIR}/HD_{number}", self._child_dir(number)
        outputs = folder / "snapshot" / "outputs"
        if outputs.is_dir():
            shutil.copytree(outputs, folder / "files" / "outputs", dirs_exist_ok=True)
        for file in ("logs/stdout.txt", "logs/stderr.txt", "metrics.jsonl"):
            self.records.put_file(task, f"{name}/{Path(file).name}", folder / file)
        if (folder / "files").exists():
            self.records.put_file(task, f"{name}/files", folder / "files")

    def _no_best(self, children: list[SweepChild]) -> str:
        lines = [
            f"  HD_{c.number} {c.hyperparameters}: {c.status}"
            + (f" ({c.reason})" if c.reason else "")
            + (f" exit code {c.exit_code}" if c.exit_code else "")
            + (
                f": {c.handle.process.stderr_tail[-1]}"
                if getattr(c.handle, "process", None) and c.handle.process.stderr_tail
                else ""
            )
            for c in children
        ]
        metric = self.step["hyperdrive"]["primary_metric_name"]
        why = (
            f" The sweep ended early: {self.sweep.stopped_reason}."
            if self.sweep and self.sweep.stopped_reason
            else ""
        )
        return (
            f"HyperDriveStep {self.step['name']!r}: no child run completed with the primary metric {metric!r} "
            f"logged, so there is no best run.{why}\n" + "\n".join(lines)
        )

    def _publish(self, children: list[SweepChild], best: SweepChild, outputs: dict[str, str]) -> None:
        """The best child's model and every child's metrics into the step's outputs; its metrics are the step's."""
        folder = self._child_dir(best.number)
        records = [self._child_record(c) for c in children]
        every = {r["run_id"]: r["metrics"] for r in records}
        for name, training in self.step["hyperdrive"]["training_outputs"].items():
            target = Path(outputs[name])
            target.mkdir(parents=True, exist_ok=True)
            if training["type"] == "Metrics":
                (target / METRICS_FILE).write_text(json.dumps(every, indent=1, default=str))
                continue
            rel = training["model_file"] or "outputs"
            source = folder / "files" / rel
            if source.is_dir():
                shutil.copytree(source, target / rel, dirs_exist_ok=True)
            elif source.is_file():
                (target / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target / rel)
            else:
                raise StepFailedError(
                    f"HyperDriveStep {self.step['name']!r}: the best child run HD_{best.number} has no {rel!r} for "
                    f"output {name!r}; the training script must save it there (e.g. under ./outputs)."
                )
        shutil.copy2(folder / "metrics.jsonl", self.workdir / "metrics.jsonl")
        self.log.info(
            "HyperDrive best child: HD_%s %s with %s = %s",
            best.number,
            best.hyperparameters,
            self.step["hyperdrive"]["primary_metric_name"],
            best_value(best.series, self.sweep.maximize),
        )

    def _summary(self) -> dict[str, Any]:
        """The sweep in the step's record: its children, the best one, and why it ended."""
        sweep = self.sweep
        if sweep is None:
            return {}
        best = best_child(sweep.children, sweep.maximize, ("Completed",))
        return {
            "hyperdrive": {
                "children": [child_run_id(self.record.get("run_id", ""), c.number) for c in sweep.children],
                "statuses": {f"HD_{c.number}": c.status for c in sweep.children},
                "best_child": None if best is None else f"HD_{best.number}",
                "stopped_reason": sweep.stopped_reason,
                "exhausted": sweep.exhausted,
                "primary_metric_name": self.step["hyperdrive"]["primary_metric_name"],
                "primary_metric_goal": self.step["hyperdrive"]["primary_metric_goal"],
            }
        }

    def kill(self) -> None:
        if self.sweep is not None:
            self.sweep.stop("the step was stopped")
