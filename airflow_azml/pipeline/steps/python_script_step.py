"""PythonScriptStep: run a Python script with arguments, inputs and outputs."""

from __future__ import annotations

import os
from typing import Any

from airflow_azml.exceptions import UserErrorException
from airflow_azml.pipeline.core.builder import PipelineStep
from airflow_azml.pipeline.core.graph import PipelineParameter

__all__ = ["PythonScriptStep", "script_problems", "encode_params", "environment_spec"]

_LITERALS = (bool, int, float, str)


_FOUND_SCRIPTS: set[str] = set()  # scripts seen to exist in this process (a missing one is looked for again)


def script_problems(step: PipelineStep, script_name: str) -> list[str]:
    """A missing script is found when the pipeline is built, not when the step runs."""
    path = os.path.join(step.source_directory, script_name)
    if path in _FOUND_SCRIPTS or os.path.isfile(path):
        _FOUND_SCRIPTS.add(path)
        return []
    where = "folder does not exist" if not step.source_directory.is_dir() else "file does not exist"
    return [
        f"Step {step.name!r}: script {script_name!r} not found in source_directory {str(step.source_directory)!r} "
        f"(the {where}). Relative source_directory paths are resolved against the DAG file's folder."
    ]


def environment_spec(runconfig: Any) -> dict[str, Any]:
    """The step's environment as plan data (without a runconfig: the worker's own, no import needed)."""
    if runconfig is None:
        return {"pip": [], "conda": [], "docker_image": None, "env": {}}
    from airflow_azml.core.runconfig import runconfig_spec

    return runconfig_spec(runconfig)


def encode_params(step: PipelineStep) -> dict[str, Any]:
    """``params`` become env vars AML_PARAMETER_<name>; PipelineParameters are resolved at run time."""
    out: dict[str, Any] = {}
    for key, value in step.params.items():
        if isinstance(value, PipelineParameter):
            out[key] = {"$param": value.name}
        elif isinstance(value, _LITERALS):
            out[key] = value
        else:
            raise UserErrorException(
                f"Step {step.name!r}: params[{key!r}] = {value!r}; params values must be str, int, float, bool or "
                "a PipelineParameter."
            )
    return out


class PythonScriptStep(PipelineStep):
    """``PythonScriptStep(script_name, name=None, arguments=None, compute_target=None, runconfig=None,
    runconfig_pipeline_params=None, inputs=None, outputs=None, params=None, source_directory=None,
    allow_reuse=True, version=None, hash_paths=None)``."""

    step_kind = "python_script"
    operator_class = "airflow_azml.provider.operators.step.PythonScriptStepOperator"

    def __init__(
        self,
        script_name: str,
        name: str | None = None,
        arguments: list | None = None,
        compute_target: Any = None,
        runconfig: Any = None,
        runconfig_pipeline_params: dict | None = None,
        inputs: list | None = None,
        outputs: list | None = None,
        params: dict | None = None,
        source_directory: str | None = None,
        allow_reuse: bool = True,
        version: str | None = None,
        hash_paths: list | None = None,
    ):
        if not script_name or not isinstance(script_name, str):
            raise UserErrorException(
                f"PythonScriptStep needs script_name, the script to run (got {script_name!r})."
            )
        self.script_name = script_name
        self.runconfig = runconfig
        super().__init__(
            name or script_name,
            inputs,
            outputs,
            arguments,
            compute_target,
            allow_reuse,
            version,
            source_directory,
            params,
        )
        self._params_plan = encode_params(self)

    def check(self, workspace: Any) -> list[str]:
        return script_problems(self, self.script_name)

    def plan_fields(self) -> dict[str, Any]:
        return {
            "script_name": self.script_name,
            "params": self._params_plan,
            "environment": environment_spec(self.runconfig),
        }
