"""The SQL step's run part (AdlaStep): a StepExecution whose launch runs SQL instead of a process.

Engine-neutral, beside the local Spark one (``local_spark.py``): the script's ``@@name@@``
placeholders are filled with the resolved input/output paths and parameters, and the statements
run on embedded DuckDB (U-SQL translated) or on a DB-API connection the caller supplies
(``connect``: the Airflow side opens the compute target's Airflow SQL connection).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from airflow_azml.execution import StepExecution

__all__ = ["SqlStepExecution", "engine_conn_id", "make_output_folder"]


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
