"""EstimatorStep: run an Estimator's entry script as a pipeline step."""

from __future__ import annotations

from typing import Any

from airflow_azml.exceptions import UserErrorException
from airflow_azml.pipeline.core.builder import PipelineStep
from airflow_azml.pipeline.steps.python_script_step import script_problems

__all__ = ["EstimatorStep"]


def _flatten_script_params(script_params: dict[str, Any]) -> list[Any]:
    """v1 passes ``{'--lr': 0.1, '--flag': ''}`` as ``--lr 0.1 --flag``."""
    out: list[Any] = []
    for key, value in script_params.items():
        out.append(str(key))
        if not (isinstance(value, str) and value == ""):
            out.append(value)
    return out


class EstimatorStep(PipelineStep):
    """``EstimatorStep(name=None, estimator=None, estimator_entry_script_arguments=None,
    runconfig_pipeline_params=None, inputs=None, outputs=None, compute_target=None, allow_reuse=True,
    version=None)``."""

    step_kind = "estimator"
    operator_class = "airflow_azml.provider.operators.step.EstimatorStepOperator"

    def __init__(
        self,
        name: str | None = None,
        estimator: Any = None,
        estimator_entry_script_arguments: list | None = None,
        runconfig_pipeline_params: dict | None = None,
        inputs: list | None = None,
        outputs: list | None = None,
        compute_target: Any = None,
        allow_reuse: bool = True,
        version: str | None = None,
    ):
        if estimator is None:
            raise UserErrorException(f"EstimatorStep {name!r} needs estimator=Estimator(...).")
        if estimator.inputs and inputs:
            raise UserErrorException(
                f"EstimatorStep {name!r}: give inputs on the step or the estimator, not both."
            )
        self.estimator = estimator
        self.script_name = estimator.entry_script
        arguments = _flatten_script_params(estimator.script_params) + list(
            estimator_entry_script_arguments or []
        )
        super().__init__(
            name or estimator.entry_script,
            inputs or estimator.inputs,
            outputs,
            arguments,
            compute_target or estimator.compute_target,
            allow_reuse,
            version,
            estimator.source_directory,
        )

    def check(self, workspace: Any) -> list[str]:
        return script_problems(self, self.script_name)

    def plan_fields(self) -> dict[str, Any]:
        est = self.estimator
        return {
            "script_name": self.script_name,
            "params": {},
            "environment": est.environment_spec(self.source_directory),
            "distribution": est.distribution_spec(),
            "framework": est.framework_name,
            "timeout_seconds": est.max_run_duration_seconds,
        }
