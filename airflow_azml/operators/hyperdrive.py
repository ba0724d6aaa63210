"""HyperDriveStepOperator: a HyperDriveStep as one Airflow task whose children are processes.

The step lifecycle (gate, record, reuse, finish, XCom) is :class:`AzmlStepOperator`'s; this
class supplies only the run part, a sweep through
:class:`~airflow_azml.execution.hyperdrive.HyperDriveExecution`. The children run as processes
inside the step's task on the worker its compute target routes it to, at most
``max_concurrent_runs`` at once; each has its own run record (``StepRun.get_children()``).
Killing the task stops every child. Airflow's own UI shows the children too: their log lines
(``[HD_<n>]``), the ``azml_hyperdrive`` XCom (each child's run id, hyperparameters, status,
primary metric and why it was stopped; the best one) and the "HyperDrive sweep" link to the
Pipeline (azml) view's sweep section. Why children are not task instances: docs/architecture.md.
"""

from __future__ import annotations

from typing import Any

from airflow_azml.operators.links import HyperDriveSweepLink
from airflow_azml.operators.step import AzmlStepOperator

__all__ = ["HyperDriveStepOperator", "SWEEP_KEY"]

#: XCom key of the sweep's children table
SWEEP_KEY = "azml_hyperdrive"


class HyperDriveStepOperator(AzmlStepOperator):
    """A HyperDriveStep: the training script once per sampled set of hyperparameters."""

    ui_color = "#dcfce7"
    operator_extra_links = (*AzmlStepOperator.operator_extra_links, HyperDriveSweepLink())
    execution_path = "airflow_azml.execution.hyperdrive:HyperDriveExecution"

    def _finish(self, context: Any, result: Any) -> None:
        super()._finish(context, result)
        table = self._children_table()
        if table is not None:
            context["ti"].xcom_push(key=SWEEP_KEY, value=table)

    def _children_table(self) -> dict[str, Any] | None:
        """The sweep as Airflow's XCom tab shows it (None when the step was reused: nothing ran)."""
        execution = self._execution
        sweep = getattr(execution, "sweep", None)
        if sweep is None:
            return None
        records = [execution._child_record(c) for c in sweep.children]
        scored = [r for r in records if r["status"] == "Completed" and r["best_primary_metric"] is not None]
        pick = max if sweep.maximize else min
        best = pick(scored, key=lambda r: r["best_primary_metric"]) if scored else None
        keys = (
            "run_id",
            "hyperparameters",
            "status",
            "best_primary_metric",
            "termination_reason",
            "reused_from",
        )
        return {
            "primary_metric_name": sweep.spec["primary_metric_name"],
            "primary_metric_goal": sweep.spec["primary_metric_goal"],
            "best_child": None if best is None else best["run_id"],
            "stopped_reason": sweep.stopped_reason,
            "children": [{k: r.get(k) for k in keys} for r in records],
        }
