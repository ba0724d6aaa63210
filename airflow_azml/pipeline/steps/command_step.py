"""CommandStep: run a command (a program and its arguments) as a pipeline step.

v1's replacement for EstimatorStep. The command is a list (data and PipelineParameters may
sit inside it and become paths/values at run time) or a string split like a shell would
split it — but never run by a shell: write ``["bash", "-c", "..."]`` to get one. The
command runs in source_directory with the step's environment first on PATH, so ``python``
means the environment's Python.
"""

from __future__ import annotations

import shlex
from typing import Any

from airflow_azml.exceptions import UserErrorException
from airflow_azml.pipeline.core.builder import PipelineStep
from airflow_azml.pipeline.steps.python_script_step import encode_params

__all__ = ["CommandStep"]


def _command_list(command: Any, name: str | None) -> list[Any]:
    if isinstance(command, str):
        try:
            parts: list[Any] = shlex.split(command)
        except ValueError as exc:
            raise UserErrorException(
                f"CommandStep {name!r}: cannot split the command {command!r}: {exc}."
            ) from exc
    elif isinstance(command, list | tuple):
        parts = list(command)
        if parts and isinstance(parts[0], str) and len(parts[0].split()) > 1:
            # v1 joined the list with spaces: ['python train.py --epochs 30'] is a whole command line
            parts = _command_list(parts[0], name) + parts[1:]
    else:
        raise UserErrorException(
            f"CommandStep {name!r}: command must be a list or a string, got {type(command).__name__}; give "
            "command=, or runconfig=ScriptRunConfig(source_directory, command=[...]) as in v1."
        )
    if not parts:
        raise UserErrorException(f"CommandStep {name!r}: the command is empty.")
    if not isinstance(parts[0], str):
        raise UserErrorException(
            f"CommandStep {name!r}: the command must start with a program name, not {parts[0]!r}."
        )
    return parts


class CommandStep(PipelineStep):
    """``CommandStep(command=None, name=None, compute_target=None, runconfig=None,
    runconfig_pipeline_params=None, inputs=None, outputs=None, params=None, source_directory=None,
    allow_reuse=True, version=None)``.

    ``runconfig`` may be a RunConfiguration or, as in v1, a ScriptRunConfig whose command (or
    script and arguments), source_directory, compute_target, environment and
    distributed_job_config apply where the step does not give its own.
    """

    step_kind = "command"
    operator_class = "airflow_azml.provider.operators.step.CommandStepOperator"

    def __init__(
        self,
        command: list | str | None = None,
        name: str | None = None,
        compute_target: Any = None,
        runconfig: Any = None,
        runconfig_pipeline_params: dict | None = None,
        inputs: list | None = None,
        outputs: list | None = None,
        params: dict | None = None,
        source_directory: str | None = None,
        allow_reuse: bool = True,
        version: str | None = None,
    ):
        if hasattr(runconfig, "command_line"):  # a ScriptRunConfig: v1 takes what the step leaves out from it
            command = runconfig.command_line() if command is None else command
            source_directory = source_directory or runconfig.source_directory
            compute_target = compute_target if compute_target is not None else runconfig.compute_target
        parts = _command_list(command, name)
        self.command = parts
        self.runconfig = runconfig
        super().__init__(
            name or str(parts[0]),
            inputs,
            outputs,
            parts,
            compute_target,
            allow_reuse,
            version,
            source_directory,
            params,
        )
        self._params_plan = encode_params(self)
        from airflow_azml.core.runconfig import runconfig_distribution

        self._distribution = runconfig_distribution(runconfig, self.name)

    def check(self, workspace: Any) -> list[str]:
        """A program given as a relative path must exist in source_directory."""
        program = str(self.command[0])
        if "/" in program and not (self.source_directory / program).is_file():
            return [
                f"Step {self.name!r}: command program {program!r} not found in source_directory "
                f"{str(self.source_directory)!r}."
            ]
        return []

    def plan_fields(self) -> dict[str, Any]:
        from airflow_azml.core.runconfig import runconfig_spec

        return {
            "params": self._params_plan,
            "environment": runconfig_spec(self.runconfig),
            "distribution": self._distribution,
            "timeout_seconds": getattr(self.runconfig, "max_run_duration_seconds", None),
        }
