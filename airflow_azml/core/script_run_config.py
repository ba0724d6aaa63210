"""ScriptRunConfig: a single script run (submitted as a one-step pipeline)."""

from __future__ import annotations

from typing import Any

__all__ = ["ScriptRunConfig"]


class ScriptRunConfig:
    """``ScriptRunConfig(source_directory, script, arguments=None, compute_target=None, environment=None)``."""

    def __init__(
        self,
        source_directory: str = ".",
        script: str | None = None,
        arguments: list | None = None,
        run_config: Any = None,
        compute_target: Any = None,
        environment: Any = None,
        **_: Any,
    ):
        self.source_directory = source_directory
        self.script = script
        self.arguments = list(arguments or [])
        self.run_config = run_config
        self.compute_target = compute_target
        self.environment = environment

    def to_step(self) -> Any:
        from airflow_azml.pipeline.steps import PythonScriptStep

        return PythonScriptStep(
            self.script,
            arguments=self.arguments,
            compute_target=self.compute_target,
            runconfig=self.run_config or self.environment,
            source_directory=self.source_directory,
        )
