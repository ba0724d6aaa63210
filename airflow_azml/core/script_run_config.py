"""ScriptRunConfig: one script or command run (submitted as a one-step pipeline, or given to a CommandStep)."""

from __future__ import annotations

from typing import Any

from airflow_azml.exceptions import UserErrorException

__all__ = ["ScriptRunConfig"]

#: v1's default max_run_duration_seconds (30 days)
_THIRTY_DAYS = 2592000


class ScriptRunConfig:
    """v1's ``ScriptRunConfig(source_directory, script=None, arguments=None, run_config=None,
    _telemetry_values=None, compute_target=None, environment=None, distributed_job_config=None,
    resume_from=None, max_run_duration_seconds=2592000, command=None, docker_runtime_config=None)``.

    Give ``script`` (+ ``arguments``) or ``command`` (a list or a string), not both, as in v1.
    ``resume_from`` and ``docker_runtime_config`` are accepted and not used.
    """

    def __init__(
        self,
        source_directory: str = ".",
        script: str | None = None,
        arguments: list | None = None,
        run_config: Any = None,
        _telemetry_values: Any = None,
        compute_target: Any = None,
        environment: Any = None,
        distributed_job_config: Any = None,
        resume_from: Any = None,
        max_run_duration_seconds: int | None = _THIRTY_DAYS,
        command: list | str | None = None,
        docker_runtime_config: Any = None,
    ):
        if command and (script or arguments):
            raise UserErrorException(
                "ScriptRunConfig: give either command or script/arguments, not both "
                f"(command={command!r}, script={script!r})."
            )
        self.source_directory = source_directory
        self.script = script
        self.arguments = list(arguments or [])
        self.command = command
        self.run_config = run_config
        self.compute_target = compute_target
        self.environment = environment or getattr(run_config, "environment", None)
        self.distributed_job_config = distributed_job_config or getattr(
            run_config, "distributed_job_config", None
        )
        self.max_run_duration_seconds = max_run_duration_seconds
        self.resume_from = resume_from
        self.docker_runtime_config = docker_runtime_config

    @property
    def node_count(self) -> int:
        return int(getattr(self.distributed_job_config, "node_count", None) or 1)

    @property
    def environment_variables(self) -> dict[str, str]:
        return dict(getattr(self.run_config, "environment_variables", {}) or {})

    def command_line(self) -> list | str:
        """What runs: ``command`` as given, or ``python <script> <arguments>``."""
        if self.command:
            return self.command
        if not self.script:
            raise UserErrorException("ScriptRunConfig: give script (a file in source_directory) or command.")
        return ["python", self.script, *self.arguments]

    def to_step(self) -> Any:
        """The one step this configuration runs as: a CommandStep for a command, else a PythonScriptStep."""
        from airflow_azml.pipeline.steps import CommandStep, PythonScriptStep

        if self.command:
            return CommandStep(runconfig=self)
        return PythonScriptStep(
            self.script,
            arguments=self.arguments,
            compute_target=self.compute_target,
            runconfig=self.run_config or self.environment,
            source_directory=self.source_directory,
        )
