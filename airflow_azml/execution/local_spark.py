"""Databricks local mode: a DatabricksStep's python script on the worker with a local PySpark session.

Engine-neutral like the rest of ``execution``: the Airflow side is ``operators/databricks.py``.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

from airflow_azml.exceptions import StepFailedError
from airflow_azml.execution import StepExecution
from airflow_azml.execution.process import StepProcess
from airflow_azml.runtime.launch import script_command

__all__ = ["LocalSparkExecution"]


class LocalSparkExecution(StepExecution):
    """Local mode: the step's python script with a local PySpark session, data as local paths."""

    def _launch(self, params: dict[str, Any], inputs: dict[str, Any], outputs: dict[str, str]) -> int:
        if importlib.util.find_spec("pyspark") is None:
            raise StepFailedError(
                f"Step {self.step['name']!r} runs in Databricks local mode, which needs PySpark on the worker: "
                "pip install pyspark (Java is needed too), or drop 'local': true from the compute target."
            )
        task = self.step["databricks"].get("spark_python_task") or {}
        if not self.step.get("script_name"):
            raise StepFailedError(
                f"Step {self.step['name']!r}: Databricks local mode runs python_script_name + source_directory "
                "steps only (notebooks, DBFS scripts and JARs need a workspace)."
            )
        args: list[str] = []
        for value in task.get("parameters") or []:
            is_param = isinstance(value, dict) and "$param" in value
            args += [f"--{value['$param']}", str(params[value["$param"]])] if is_param else [str(value)]
        paths = {n: i.get("path", "") for n, i in inputs.items()} | outputs
        args += [x for name, path in paths.items() for x in (f"-{name}", path)]
        env = self._env(params, self._write_context(inputs, outputs))
        env.update(
            PYSPARK_PYTHON=sys.executable, PYSPARK_DRIVER_PYTHON=sys.executable, SPARK_LOCAL_IP="127.0.0.1"
        )
        cwd = Path(self.step["source_directory"])
        argv = [*script_command(sys.executable, self.step["script_name"], cwd, env), *args]
        self.process = StepProcess(argv, cwd=cwd, env=env, log=self.log, logdir=self.workdir / "logs")
        return self.process.run()
