"""AdlaStepOperator: run an AdlaStep's SQL/U-SQL script on DuckDB or an Airflow SQL connection.

The step lifecycle (gate, run record, reuse, XCom) is every operator's; the run part is the
shared StepExecution (inputs resolved to local paths, outputs staged and committed only on
success); only the launch differs: instead of a script process, the script's ``@@name@@``
placeholders are filled and the statements run on the engine the compute target names.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from airflow_azml.execution import StepExecution
from airflow_azml.execution.lifecycle import StepAttempt
from airflow_azml.operators.step import AzmlStepOperator
from airflow_azml.pipeline.steps.adla_step import priority_weight

__all__ = ["AdlaStepOperator", "SqlStepExecution", "engine_conn_id", "make_output_folder"]


def engine_conn_id(step: dict[str, Any], workspace: dict[str, Any]) -> str | None:
    """The Airflow SQL connection of the step's compute target, or None for embedded DuckDB."""
    targets = (workspace.get("config") or {}).get("compute_targets") or {}
    spec = targets.get(step.get("compute_target") or "", {}) or {}
    return spec.get("conn_id") or None


def make_output_folder(script: str, name: str, path: Path) -> None:
    """Create an output's folder before the script runs (``COPY ... TO '@@out@@/result.parquet'``).

    v1 scripts that write the output path itself as one file (``OUTPUT @x TO "@@out@@"``) get
    only the parent folder, so the engine can create the file there.
    """
    if re.search(rf"""["']@@{re.escape(name)}@@["']""", script):
        path.parent.mkdir(parents=True, exist_ok=True)
    else:
        path.mkdir(parents=True, exist_ok=True)


class SqlStepExecution(StepExecution):
    """A StepExecution whose launch runs SQL in this process instead of starting a script."""

    def __init__(self, *args: Any, connect: Any = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.connect = connect

    def _launch(self, params: dict[str, Any], inputs: dict[str, Any], outputs: dict[str, str]) -> int:
        from airflow_azml.runtime.sql import is_usql, run_on_duckdb, substitute, translate_usql

        script_path = Path(self.step["source_directory"]) / self.step["script_name"]
        raw = script_path.read_text()
        values = self._values(params, inputs, outputs)
        for name, path in outputs.items():
            make_output_folder(raw, name, Path(path))
        script = substitute(raw, values, script_name=str(script_path))
        logs = self.workdir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        if self.step.get("runtime_version"):
            self.log.info(
                "runtime_version %r is recorded only: there is no ADLA runtime to choose.",
                self.step["runtime_version"],
            )
        if self.connect is None:
            if is_usql(script):
                self.log.info("U-SQL translated to DuckDB:\n%s", ";\n".join(translate_usql(script)))
            summary = run_on_duckdb(script, threads=self.step.get("degree_of_parallelism"))
        else:
            summary = self._on_connection(script)
        (logs / "stdout.txt").write_text("\n".join(json.dumps(s) for s in summary) + "\n")
        self.record["statements"] = summary
        return 0

    def _on_connection(self, script: str) -> list[dict[str, Any]]:
        from airflow_azml.runtime.sql import run_on_dbapi

        connection = self.connect()
        try:
            return run_on_dbapi(script, connection)
        finally:
            connection.close()

    def _values(
        self, params: dict[str, Any], inputs: dict[str, Any], outputs: dict[str, str]
    ) -> dict[str, str]:
        """What each ``@@name@@`` becomes: input/output paths and params (PipelineParameters resolved)."""
        values: dict[str, str] = {}
        for key, value in self.step.get("params", {}).items():
            resolved = params[value["$param"]] if isinstance(value, dict) and "$param" in value else value
            values[key] = str(resolved)
        for name, item in inputs.items():
            if "path" in item:
                values[name] = item["path"]
            else:
                files = item["definition"].get("local_files") or []
                values[name] = files[0] if len(files) == 1 else str(Path(files[0]).parent) if files else ""
        values.update(outputs)
        return values


class AdlaStepOperator(AzmlStepOperator):
    """Runs an AdlaStep. ``priority`` (ADLA: lower first) becomes Airflow's ``priority_weight``."""

    ui_color = "#fef3c7"

    @classmethod
    def for_step(cls, *, step: dict[str, Any], pipeline: dict[str, Any], **kwargs: Any) -> AdlaStepOperator:
        if step.get("priority") is not None:
            kwargs["priority_weight"] = priority_weight(step["priority"])
        return super().for_step(step=step, pipeline=pipeline, **kwargs)

    def _connect(self) -> Any:
        """A factory for a DB-API connection of the compute target's Airflow connection, or None."""
        conn_id = engine_conn_id(self.step, self.pipeline["workspace"])
        if conn_id is None:
            return None

        def connect() -> Any:
            from airflow.sdk import BaseHook

            hook = BaseHook.get_connection(conn_id).get_hook()
            self.log.info("Running the script on Airflow connection %r (%s)", conn_id, type(hook).__name__)
            return hook.get_conn()

        return connect

    def run_step(self, attempt: StepAttempt, context: Any) -> dict[str, Any]:
        """The SQL step's run part: a StepExecution whose launch runs the script on the engine."""
        self._execution = SqlStepExecution(attempt.inv, log=attempt.log, connect=self._connect())
        return self._execution.work(attempt)
