"""Step operators: thin Airflow wrappers around the engine-neutral StepExecution."""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseOperator

from airflow_azml.execution import StepExecution, StepInvocation

__all__ = ["AzmlStepOperator", "PythonScriptStepOperator", "EstimatorStepOperator", "OUTPUTS_KEY", "METRICS_KEY"]

OUTPUTS_KEY = "azml_outputs"
METRICS_KEY = "azml_metrics"


class AzmlStepOperator(BaseOperator):
    """Runs one compiled pipeline step. ``step`` is the step's plan; ``pipeline`` the shared part.

    Inputs produced by upstream steps arrive as XCom references (datastore + path); this
    step's committed outputs are pushed the same way under the ``azml_outputs`` key.
    """

    template_fields = ()
    ui_color = "#dbeafe"

    def __init__(self, *, step: dict[str, Any], pipeline: dict[str, Any], **kwargs: Any):
        kwargs.setdefault("do_xcom_push", False)
        super().__init__(**kwargs)
        self.step = step
        self.pipeline = pipeline
        self._execution: StepExecution | None = None

    def _invocation(self, context: Any) -> StepInvocation:
        ti = context["ti"]
        upstream = {}
        for spec in self.step["inputs"]:
            if spec["source"] == "step_output" and spec["step"] not in upstream:
                upstream[spec["step"]] = ti.xcom_pull(task_ids=spec["step"], key=OUTPUTS_KEY) or {}
        dag_run = context["dag_run"]
        return StepInvocation(
            dag_id=ti.dag_id, run_id=context["run_id"], step=self.step, workspace=self.pipeline["workspace"],
            parameters=self.pipeline["parameters"], params=dict(context["params"]), upstream=upstream,
            try_number=ti.try_number, conf=dict(getattr(dag_run, "conf", None) or {}),
            compat=bool(self.pipeline.get("compat")),
        )

    def execute(self, context: Any) -> None:
        self._execution = StepExecution(self._invocation(context), log=self.log)
        result = self._execution.run()
        ti = context["ti"]
        ti.xcom_push(key=OUTPUTS_KEY, value=result["outputs"])
        ti.xcom_push(key=METRICS_KEY, value=result["metrics"])

    def on_kill(self) -> None:
        if self._execution is not None:
            self._execution.kill()


class PythonScriptStepOperator(AzmlStepOperator):
    """A PythonScriptStep: ``python script_name arguments...`` in source_directory."""


class EstimatorStepOperator(AzmlStepOperator):
    """An EstimatorStep: the estimator's entry script with its script_params."""

    ui_color = "#e0e7ff"
