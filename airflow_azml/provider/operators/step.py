"""Step operators: the one step lifecycle, and the script steps' run part (StepExecution).

Every step operator runs :meth:`AzmlStepOperator.execute`: the continue-on-failure gate, the
invocation gathered from Airflow's context, a :class:`StepAttempt` (run record, reuse, finish)
around the step kind's own :meth:`~AzmlStepOperator.run_step`, then the XCom a later step and the
UI read. A step kind (SQL, data transfer, Databricks) overrides ``run_step`` only; one that only
needs another StepExecution class (HyperDrive, ParallelRun) names it in ``execution_path``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator, BaseOperatorLink

from airflow_azml.provider.operators.lineage import LineageMixin

if TYPE_CHECKING:  # imported in execute(): DAG parsing never pays for the execution layer
    from airflow_azml.execution import StepExecution, StepInvocation
    from airflow_azml.execution.lifecycle import StepAttempt, StepResult

__all__ = [
    "AzmlStepOperator",
    "PythonScriptStepOperator",
    "EstimatorStepOperator",
    "CommandStepOperator",
    "OUTPUTS_KEY",
    "METRICS_KEY",
    "REUSE_KEY",
    "ReusedFromLink",
]

OUTPUTS_KEY = "azml_outputs"
METRICS_KEY = "azml_metrics"
REUSE_KEY = "azml_reuse"


class ReusedFromLink(BaseOperatorLink):
    """ "Reused from" on a reused step's task: opens the earlier run's task instance that made its outputs.

    The Task SDK has no call for a task to set its own note, so reuse shows as this extra link
    (no link XCom when the step ran), the task log line, and the ``azml_reuse`` XCom with the reason (also
    only on a reused step).
    """

    name = "Reused from"

    def get_link(self, operator: BaseOperator, *, ti_key: Any) -> str:
        info = getattr(operator, "_azml_reuse", None)
        if info is None and hasattr(ti_key, "xcom_pull"):
            info = ti_key.xcom_pull(task_ids=ti_key.task_id, key=REUSE_KEY)
        earlier = info.get("reused_from") if isinstance(info, dict) else None
        if not earlier:
            return ""
        from urllib.parse import quote

        from airflow.configuration import conf

        base = conf.get("api", "base_url", fallback="").rstrip("/")
        run, task = quote(earlier["run_id"], safe=""), quote(earlier["task_id"])
        return f"{base}/dags/{quote(operator.dag_id)}/runs/{run}/tasks/{task}"


def _require_plan(op: Any) -> None:
    if getattr(op, "step", None) is None or getattr(op, "pipeline", None) is None:
        raise TypeError(
            f"{type(op).__name__} {op.task_id!r} has no step plan: build it with "
            f"{type(op).__name__}.for_step(step=..., pipeline=..., task_id=...)."
        )


class AzmlStepOperator(BaseOperator, LineageMixin):
    """Runs one compiled pipeline step. ``step`` is the step's plan; ``pipeline`` the shared part.

    Inputs produced by upstream steps arrive as XCom references (datastore + path); this
    step's committed outputs are pushed the same way under the ``azml_outputs`` key.

    Build it with :meth:`for_step`. The class has no ``__init__`` of its own on purpose:
    Airflow wraps each operator class's own ``__init__`` in its argument handling, which
    deep-copies the DAG's params every time, and a DAG file builds every step's task at every
    parse (in the DAG processor and at the start of every task).
    """

    template_fields = ()
    ui_color = "#dbeafe"
    #: the task's own links (made by the worker at the task's end); "Pipeline view" and "Step outputs"
    #: are the plugin's, made by the API server (operators/links.py)
    operator_extra_links = (ReusedFromLink(),)
    step: dict[str, Any] | None = None
    pipeline: dict[str, Any] | None = None
    #: "module:Class" of the StepExecution (sub)class the default ``run_step`` drives; a string so
    #: that DAG parsing never imports the execution layer.
    execution_path = "airflow_azml.execution:StepExecution"
    # Set while the step runs.
    _execution: StepExecution | None = None
    _attempt: StepAttempt | None = None
    _azml_reuse: dict[str, Any] | None = None

    @classmethod
    def for_step(cls, *, step: dict[str, Any], pipeline: dict[str, Any], **kwargs: Any) -> AzmlStepOperator:
        """The task of one plan step; ``kwargs`` are BaseOperator's (task_id, dag, routing, inlets,
        outlets...). ``pipeline`` is the part shared by every step (workspace, parameters, lineage)."""
        kwargs.setdefault("do_xcom_push", False)
        op = cls(**kwargs)
        op.step = step
        op.pipeline = pipeline
        return op

    def _invocation(self, context: Any) -> StepInvocation:
        from airflow_azml.execution import StepInvocation

        _require_plan(self)
        ti = context["ti"]
        upstream = {}
        for spec in self.step["inputs"]:
            if spec["source"] == "step_output" and spec["step"] not in upstream:
                upstream[spec["step"]] = ti.xcom_pull(task_ids=spec["step"], key=OUTPUTS_KEY) or {}
        dag_run = context["dag_run"]
        return StepInvocation(
            dag_id=ti.dag_id,
            run_id=context["run_id"],
            step=self.step,
            workspace=self.pipeline["workspace"],
            parameters=self.pipeline["parameters"],
            params=dict(context["params"]),
            upstream=upstream,
            try_number=ti.try_number,
            conf=dict(getattr(dag_run, "conf", None) or {}),
            compat=bool(self.pipeline.get("compat")),
            final_try=ti.try_number > (self.retries or 0),
        )

    # -- the lifecycle: gate -> invocation -> record/reuse around run_step -> XCom ----------------
    def execute(self, context: Any) -> None:
        """The one step lifecycle; the step kind's own part is :meth:`run_step`."""
        from airflow.sdk.exceptions import TaskDeferred

        from airflow_azml.execution.lifecycle import StepAttempt

        _require_plan(self)
        self._stop_if_a_step_failed(context)
        attempt = self._attempt = StepAttempt(self._invocation(context), log=self.log)
        self._note_assets(attempt)
        result = attempt.run(lambda a: self.run_step(a, context), passthrough=(TaskDeferred,))
        self._finish(context, result)
        self._emit_asset_events(context, attempt, result)

    def resume(self, context: Any, work: Any) -> None:
        """The lifecycle of a task back from deferral: the attempt's stored record, ``work``, then XCom."""
        from airflow_azml.execution.lifecycle import StepAttempt

        _require_plan(self)
        attempt = self._attempt = StepAttempt.resume(self._invocation(context), log=self.log)
        result = attempt.run(work, start=False)
        self._finish(context, result)
        self._emit_asset_events(context, attempt, result)

    def run_step(self, attempt: StepAttempt, context: Any) -> dict[str, Any]:
        """The step kind's run part: do the work (``attempt.decide`` first, for reuse); return the
        committed outputs. By default the :attr:`execution_path` class's ``work`` (script steps:
        StepExecution, which starts their process)."""
        module, _, name = self.execution_path.partition(":")
        execution_type = getattr(importlib.import_module(module), name)
        self._execution = execution_type(attempt.inv, log=attempt.log)
        return self._execution.work(attempt)

    def _stop_if_a_step_failed(self, context: Any) -> None:
        """continue_on_step_failure (run conf, default False): after a failure elsewhere, do not start."""
        if (getattr(context["dag_run"], "conf", None) or {}).get("continue_on_step_failure", False):
            return
        from airflow.sdk.exceptions import AirflowSkipException

        from airflow_azml.core.workspace import Workspace
        from airflow_azml.execution.records import RunRecords

        store = Workspace.from_spec(self.pipeline["workspace"]).get_default_datastore().store
        failed = [
            t
            for t in RunRecords(store, context["ti"].dag_id, context["run_id"]).failed_steps()
            if t != self.task_id
        ]
        if failed:
            raise AirflowSkipException(
                f"Canceled: step(s) {', '.join(failed)} failed and this run has "
                f"continue_on_step_failure=False, so step {self.task_id!r} did not start."
            )

    def _finish(self, context: Any, result: StepResult) -> None:
        """Hand the outputs on (XCom) and tell the UI whether the step ran or was reused."""
        ti = context["ti"]
        ti.xcom_push(key=OUTPUTS_KEY, value=result["outputs"])
        if result.get("metrics"):  # nothing reads it back; no metrics is no XCom (one request less)
            ti.xcom_push(key=METRICS_KEY, value=result["metrics"])
        self._mark_reuse(ti, result)

    def _mark_reuse(self, ti: Any, result: StepResult) -> None:
        """A reused step tells the UI so, and why: the ``azml_reuse`` XCom and the "Reused from" link. A step
        that ran has neither (its run record says why it ran): each would be one more request to the API
        at every task's end."""
        info = {
            "reused": bool(result.get("reused")),
            "reason": result.get("reason"),
            "reused_from": result.get("reused_from"),
        }
        self._azml_reuse = info
        if not info["reused"]:
            # No ``_link_ReusedFromLink`` XCom at the task's end (the extra-links API gives None for a missing
            # one as for ""). ``self`` is the task runner's copy of the task (prepare_for_execution), so the
            # DAG's task keeps the link.
            self.operator_extra_links = tuple(
                link for link in self.operator_extra_links if not isinstance(link, ReusedFromLink)
            )
            return
        ti.xcom_push(key=REUSE_KEY, value=info)
        self.log.info(
            "Step %s was REUSED (%s): nothing ran; outputs come from run %s.",
            self.step["name"],
            info["reason"],
            info["reused_from"]["run_id"],
        )

    def on_kill(self) -> None:
        """The task was told to stop (SIGTERM: a canceled local run, a task marked or cleared in the UI):
        the attempt ends Canceled, then the step's work is stopped."""
        if self._attempt is not None:
            self._attempt.cancel()
        if self._execution is not None:
            self._execution.kill()


class PythonScriptStepOperator(AzmlStepOperator):
    """A PythonScriptStep: ``python script_name arguments...`` in source_directory."""


class EstimatorStepOperator(AzmlStepOperator):
    """An EstimatorStep: the estimator's entry script with its script_params."""

    ui_color = "#e0e7ff"


class CommandStepOperator(AzmlStepOperator):
    """A CommandStep: its command list (no shell) in source_directory, with the step's environment on PATH."""

    ui_color = "#ede9fe"
