"""HyperDriveStep: a hyperparameter sweep of one training script as one pipeline step, as in v1.

The step runs the HyperDriveConfig's script (a ScriptRunConfig or an estimator) once per child
with the child's hyperparameters appended as ``--name value``. Its outputs are PipelineData
with a ``training_output``: ``TrainingOutput("Model")`` becomes the best child's model,
``TrainingOutput("Metrics")`` (and ``metrics_output``) every child's metrics as JSON. Everything
is checked when the step is built.
"""

from __future__ import annotations

from typing import Any

from airflow_azml.exceptions import UserErrorException
from airflow_azml.pipeline.core.builder import PipelineStep
from airflow_azml.pipeline.core.training_output import METRICS_FILE, TrainingOutput
from airflow_azml.pipeline.steps.python_script_step import script_problems
from airflow_azml.train.hyperdrive.config import HyperDriveConfig

__all__ = ["HyperDriveStep", "METRICS_FILE"]


class HyperDriveStep(PipelineStep):
    """``HyperDriveStep(name, hyperdrive_config, estimator_entry_script_arguments=None, inputs=None,
    outputs=None, metrics_output=None, allow_reuse=True, version=None)``."""

    step_kind = "hyperdrive"
    operator_class = "airflow_azml.provider.operators.hyperdrive.HyperDriveStepOperator"

    def __init__(
        self,
        name: str,
        hyperdrive_config: HyperDriveConfig,
        estimator_entry_script_arguments: list | None = None,
        inputs: list | None = None,
        outputs: list | None = None,
        metrics_output: Any = None,
        allow_reuse: bool = True,
        version: str | None = None,
    ):
        if not isinstance(hyperdrive_config, HyperDriveConfig):
            raise UserErrorException(
                f"HyperDriveStep {name!r}: hyperdrive_config must be a HyperDriveConfig, not "
                f"{type(hyperdrive_config).__name__}."
            )
        self.hyperdrive_config = cfg = hyperdrive_config
        self.script_name = cfg.entry_script
        source = cfg.run_config or cfg.estimator
        arguments = list(getattr(cfg.run_config, "arguments", None) or [])
        if cfg.estimator is not None:
            from airflow_azml.pipeline.steps.estimator_step import _flatten_script_params

            arguments = _flatten_script_params(cfg.estimator.script_params)
        arguments += list(estimator_entry_script_arguments or [])
        all_outputs = list(outputs or []) + ([metrics_output] if metrics_output is not None else [])
        est_inputs = list(getattr(cfg.estimator, "inputs", None) or [])
        super().__init__(
            name,
            list(inputs or []) + [i for i in est_inputs if i not in (inputs or [])],
            all_outputs,
            arguments,
            getattr(source, "compute_target", None),
            allow_reuse,
            version,
            cfg.source_directory,
        )
        self._training = self._training_outputs(metrics_output)

    def _training_outputs(self, metrics_output: Any) -> dict[str, dict[str, Any]]:
        """What each output carries; an output without a TrainingOutput is refused (no child writes it)."""
        found: dict[str, dict[str, Any]] = {}
        for decl in self._outputs:
            training = getattr(decl.obj, "training_output", None)
            if decl.obj is metrics_output and training is None:
                training = TrainingOutput("Metrics")
            if not isinstance(training, TrainingOutput):
                raise UserErrorException(
                    f"HyperDriveStep {self.name!r}: output {decl.name!r} has no training_output, so no child run "
                    "would write it. Create it as PipelineData(..., training_output=TrainingOutput('Model', "
                    "model_file='outputs/model.pkl')) or TrainingOutput('Metrics'), or pass it as metrics_output."
                )
            if decl.obj is metrics_output and training.type != "Metrics":
                raise UserErrorException(
                    f"HyperDriveStep {self.name!r}: metrics_output {decl.name!r} has {training!r}; metrics_output "
                    "holds the children's metrics (TrainingOutput('Metrics') or no training_output)."
                )
            found[decl.name] = training.to_spec()
        return found

    def check(self, workspace: Any) -> list[str]:
        return script_problems(self, self.script_name)

    def plan_fields(self) -> dict[str, Any]:
        cfg = self.hyperdrive_config
        return {
            "script_name": self.script_name,
            "params": {},
            "environment": self._environment(),
            "hyperdrive": {**cfg.to_spec(), "training_outputs": self._training},
            "run_class": "airflow_azml.pipeline.core.hyperdrive_run.HyperDriveStepRun",
        }

    def _environment(self) -> dict[str, Any]:
        cfg = self.hyperdrive_config
        if cfg.estimator is not None:
            return cfg.estimator.environment_spec(self.source_directory)
        from airflow_azml.core.runconfig import runconfig_spec

        src = cfg.run_config
        target = src.run_config or src.environment
        if target is None:
            return {"pip": [], "conda": [], "docker_image": None, "env": dict(src.environment_variables)}
        return runconfig_spec(target, env_vars=src.environment_variables)
