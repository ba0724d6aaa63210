"""A ParallelRunStep's run part: the script-step lifecycle with the parallel driver as its process.

Inputs, reuse, outputs, environments, logs and records are exactly those of a script step
(:class:`~airflow_azml.execution.step.StepExecution`); what differs is the process started:
``python -m airflow_azml.runtime.parallel`` with the step's parallel settings resolved for
this run (PipelineParameters, the CPU count, mini-batch defaults), the checkpoint's place on the
default datastore, and where the error summary goes. A failure becomes the step's error with
the first failing mini-batch's items and traceback instead of an exit code.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from airflow_azml.exceptions import StepFailedError, UserErrorException
from airflow_azml.execution.outputs import OutputStager
from airflow_azml.execution.params import expand_arguments
from airflow_azml.execution.process import StepProcess
from airflow_azml.execution.step import StepExecution
from airflow_azml.runtime.metrics import MetricsWriter
from airflow_azml.runtime.parallel_batches import DEFAULT_BYTES, DEFAULT_FILES
from airflow_azml.runtime.parallel_board import Board
from airflow_azml.runtime.parallel_progress import BOARD_FOLDER, SUMMARY_FILE

__all__ = ["ParallelRunExecution", "resolve_settings"]


def _value(value: Any, params: dict[str, Any]) -> Any:
    return params[value["$param"]] if isinstance(value, dict) and "$param" in value else value


def _positive_int(name: str, value: Any, step: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if number < 1:
        raise UserErrorException(
            f"ParallelRunStep {step!r}: {name}={value!r} for this run; give a whole number >= 1."
        )
    return number


def resolve_settings(par: dict[str, Any], params: dict[str, Any], tabular: bool, step: str) -> dict[str, Any]:
    """The parallel settings of this run: parameters resolved, v1's defaults filled in."""
    from airflow_azml.pipeline.steps.parallel_run_step import parse_size

    nodes = params.get("aml_node_count", _value(par["node_count"], params))  # v1's reserved override
    procs = _value(par["process_count_per_node"], params) or os.cpu_count() or 1
    size = _value(par["mini_batch_size"], params)
    if tabular:
        size = (
            DEFAULT_BYTES if size is None else parse_size(size, f"ParallelRunStep {step!r}: mini_batch_size")
        )
    else:
        size = _positive_int("mini_batch_size", DEFAULT_FILES if size is None else size, step)
    return {
        **par,
        "node_count": _positive_int("node_count", nodes, step),
        "process_count_per_node": _positive_int("process_count_per_node", procs, step),
        "mini_batch_size": size,
        "input_kind": "tabular" if tabular else "file",
    }


class ParallelRunExecution(StepExecution):
    """:class:`StepExecution` whose process is the ParallelRunStep driver.

    With node tasks (``step["parallel"]["node_tasks"]``, set by the operator when the step's
    compute target routes it to a queue and it may have several nodes) this task is node 0: it
    runs the lifecycle, publishes the cut on the board, works as one node, and at the end gathers
    every node's records and output files before the outputs are committed.
    """

    node = 0

    @property
    def board(self) -> Board:
        prefix = f"{self.records.prefix}/{self.step['task_id']}/{BOARD_FOLDER}"
        return Board(self.ws.get_default_datastore().store, prefix, self.node)

    def work(self, attempt: Any) -> dict[str, Any]:
        """Node 0's lifecycle; the waiting nodes learn from the board when it ends without running."""
        try:
            outputs = super().work(attempt)
        except BaseException:
            if self.step["parallel"].get("node_tasks"):
                self.board.set_state("failed", reason="the step's task failed before its nodes finished")
            raise
        if self.process is None and self.step["parallel"].get("node_tasks"):
            self.board.set_state("reused")
        return outputs

    def _run_and_commit(
        self, stager: OutputStager, params: dict[str, Any], inputs: dict[str, Any]
    ) -> dict[str, Any]:
        if self.node == 0 and self.step["parallel"].get("node_tasks"):  # not reused: the nodes may start
            self.board.set_state("started")
        try:
            return super()._run_and_commit(stager, params, inputs)
        except StepFailedError as exc:
            failure = self.workdir / "parallel_failure.txt"
            if failure.exists():
                raise StepFailedError(failure.read_text()) from None
            raise exc
        finally:
            self._report()

    def _launch(self, params: dict[str, Any], inputs: dict[str, Any], outputs: dict[str, str]) -> int:
        from airflow_azml.execution.environments import interpreter_for

        args = expand_arguments(self.step["arguments"], params, inputs, outputs, self.step["name"])
        ctx_file = self._write_context(inputs, outputs)
        python = interpreter_for(self.step, self.log)
        config = self.workdir / "parallel.json"
        cfg = self._config(params, inputs, outputs)
        config.write_text(json.dumps(cfg, indent=1, default=str))
        driver = (
            "airflow_azml.runtime.parallel_node" if cfg.get("node_tasks") else "airflow_azml.runtime.parallel"
        )
        (self.workdir / "parallel_failure.txt").unlink(missing_ok=True)
        self.process = StepProcess(
            [python, "-m", driver, str(config), *args],
            cwd=Path(self.step["source_directory"]),
            env=self._driver_env(params, ctx_file, python),
            log=self.log,
            logdir=self.workdir / "logs",
        )
        code = self.process.run()
        if code == 0 and self.node == 0 and self.step["parallel"].get("node_tasks"):
            self._gather_outputs(outputs)
        return code

    def _driver_env(self, params: dict[str, Any], ctx_file: Path, python: str) -> dict[str, str]:
        env = self._env(params, ctx_file, python)
        # the driver's own imports never see source_directory (a user's numbers.py shadowing the
        # standard library's); the entry script's folder is put on sys.path when it is loaded, as in v1
        env["PYTHONSAFEPATH"] = "1"
        # A task process blocks the metadata DB with an unparsable URL, and importing Airflow (for the
        # datastore the checkpoint and the board live on) then fails: the driver needs no DB at all.
        if env.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "").startswith("airflow-db-not-allowed"):
            env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = "sqlite://"
        return env

    def _gather_outputs(self, outputs: dict[str, str]) -> None:
        """What run() wrote to the output folder on the other nodes, into this node's staged
        outputs (committed only if the whole step succeeds)."""
        board = self.board
        folder = f"{board.prefix}/outputs"
        if not board.store.exists(folder):
            return
        nodes = sorted({rel[len(folder) + 1 :].split("/", 1)[0] for rel in board.store.list_files(folder)})
        for node in nodes:
            for name, local in outputs.items():
                if board.store.exists(f"{folder}/{node}/{name}"):
                    board.store.get(f"{folder}/{node}/{name}", Path(local))
        self.log.info(
            "ParallelRunStep %s: gathered the output files of %s", self.step["name"], ", ".join(nodes)
        )

    def _config(
        self, params: dict[str, Any], inputs: dict[str, Any], outputs: dict[str, str]
    ) -> dict[str, Any]:
        par = self.step["parallel"]
        values = {name: inputs[name] for name in par["inputs"]}
        tabular = par.get("input_kind") == "tabular" or any(
            (v.get("definition") or {}).get("kind") == "tabular" for v in values.values()
        )
        settings = resolve_settings(par, params, tabular, self.step["name"])
        if par.get("node_tasks") and settings["node_count"] > 1:  # one node of several task instances
            settings.update(
                node_tasks=True,
                node=self.node,
                upload_outputs=self.node > 0 and bool(outputs) and par["output_action"] != "append_row",
            )
        out_dir = next(iter(outputs.values()), None)
        files = self.workdir / "files"
        append_dir = Path(out_dir) if out_dir else files
        return {
            **settings,
            "step_name": self.step["name"],
            "entry_script": str(Path(self.step["source_directory"]) / self.step["script_name"]),
            "input_values": values,
            "definitions": {n: (self.record["inputs"].get(n) or {}).get("definition") for n in par["inputs"]},
            "append_row_path": str(append_dir / par["append_row_file_name"]),
            "output_dir": out_dir,
            "working_dir": str(self.workdir / "parallel"),
            "log_dir": str(self.workdir / "logs"),
            "summary_file": str(files / SUMMARY_FILE),
            "failure_file": str(self.workdir / "parallel_failure.txt"),
            "workspace": self.inv.workspace,
            "checkpoint_prefix": f"{self.records.prefix}/{self.step['task_id']}/parallel_progress",
            "board_prefix": f"{self.records.prefix}/{self.step['task_id']}/{BOARD_FOLDER}",
            "attempt": self.inv.try_number,
        }

    def _report(self) -> None:
        """The error summary's counts as the step's metrics (and so in XCom and the step view)."""
        path = self.workdir / "files" / SUMMARY_FILE
        if not path.exists():
            return
        summary = json.loads(path.read_text())
        writer = MetricsWriter(self.workdir / "metrics.jsonl")
        mb, items = summary["mini_batches"], summary["items"]
        for name, value in (
            ("mini_batches", mb["total"]),
            ("mini_batches_failed", mb["failed"]),
            ("mini_batches_from_checkpoint", mb["from_checkpoint"]),
            ("items", items["total"]),
            ("items_failed", items["failed"]),
            ("items_per_second", summary["items_per_second"]),
        ):
            writer.write("scalar", name, value)
        self.log.info(
            "ParallelRunStep %s: %s mini-batches (%s failed), %s items (%s failed), %s items/s; summary in %s",
            self.step["name"],
            mb["total"],
            mb["failed"],
            items["total"],
            items["failed"],
            summary["items_per_second"],
            SUMMARY_FILE,
        )
