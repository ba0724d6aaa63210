"""HyperDriveStepOperator: a HyperDriveStep as one Airflow task whose children are processes
(or, with slot tasks, the controller of the slot tasks that run them).

The step lifecycle (gate, record, reuse, finish, XCom) is :class:`AzmlStepOperator`'s; this
class supplies only the run part, a sweep through
:class:`~airflow_azml.execution.hyperdrive.HyperDriveExecution`. The children run as processes
inside the step's task on the worker its compute target routes it to, at most
``max_concurrent_runs`` at once; each has its own run record (``StepRun.get_children()``).
Killing the task stops every child. Airflow's own UI shows the children too: their log lines
(``[HD_<n>]``), the ``azml_hyperdrive`` XCom (each child's run id, hyperparameters, status,
primary metric and why it was stopped; the best one) and the "HyperDrive sweep" link to the
Pipeline (azml) view's sweep section. Why children are not task instances: docs/architecture.md.

Slot tasks (:func:`slot_tasks`): when the step's compute target routes it to a queue on an
executor that spreads tasks over workers (Celery, Kubernetes, Edge), or when the target says
``"hyperdrive_slots": true`` in the workspace file (also on LocalExecutor; ``false`` never), the
step gets ``max_concurrent_runs`` slot tasks (:class:`HyperDriveSlotOperator`,
``<step>__slot_<k>``) beside it, after the same upstream, on the same queue: this task is the
controller (samples, judges, picks the best, publishes) and the slots run the children
(``execution/hyperdrive_slots.py``).
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseOperator

from airflow_azml.provider.operators.routing import spreads_over_workers
from airflow_azml.provider.operators.step import AzmlStepOperator

__all__ = ["HyperDriveStepOperator", "HyperDriveSlotOperator", "SWEEP_KEY", "SLOTS_OPTION", "slot_tasks"]

#: the compute target setting (workspace file, ``compute_targets``) that turns slot tasks on or off
SLOTS_OPTION = "hyperdrive_slots"


def slot_tasks(step: dict[str, Any], workspace: dict[str, Any]) -> bool:
    """True when the step's children run in slot tasks (see the module docstring)."""
    targets = (workspace.get("config") or {}).get("compute_targets") or {}
    chosen = (targets.get(step.get("compute_target") or "") or {}).get(SLOTS_OPTION)
    if chosen is not None:
        return bool(chosen)
    routing = step.get("routing") or {}
    return bool(routing.get("queue")) and spreads_over_workers(routing.get("executor"))


#: XCom key of the sweep's children table
SWEEP_KEY = "azml_hyperdrive"


class HyperDriveStepOperator(AzmlStepOperator):
    """A HyperDriveStep: the training script once per sampled set of hyperparameters."""

    ui_color = "#dcfce7"
    execution_path = "airflow_azml.execution.hyperdrive:HyperDriveExecution"

    @classmethod
    def for_step(cls, *, step: dict[str, Any], pipeline: dict[str, Any], **kwargs: Any) -> AzmlStepOperator:
        if slot_tasks(step, pipeline["workspace"]):
            step = {**step, "hyperdrive": {**step["hyperdrive"], "slots": True}}
            kwargs["priority_weight"] = int(kwargs.get("priority_weight") or 1) + 1  # the controller first
        return super().for_step(step=step, pipeline=pipeline, **kwargs)

    def add_node_tasks(self, upstream: list[BaseOperator], **routing: Any) -> list[BaseOperator]:
        """The step's slot tasks (none unless :func:`slot_tasks`), after ``upstream``."""
        spec = self.step["hyperdrive"]
        if not spec.get("slots"):
            return []
        routing.pop("priority_weight", None)
        count = min(int(spec["max_concurrent_runs"]), int(spec["max_total_runs"]))
        made = [
            HyperDriveSlotOperator(
                task_id=f"{self.task_id}__slot_{k}",
                slot=k,
                step=self.step,
                pipeline=self.pipeline,
                dag=self.dag,
                **routing,
            )
            for k in range(1, count + 1)
        ]
        for task in made:
            for up in upstream:
                up >> task
        return made

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
            "children": [
                {**{k: r.get(k) for k in keys}, **({"slot": r["slot"].get("task")} if r.get("slot") else {})}
                for r in records
            ],
        }


class HyperDriveSlotOperator(AzmlStepOperator):
    """Slot ``slot`` of a HyperDriveStep: runs the children the step's task posts, one at a time."""

    ui_color = "#bbf7d0"
    operator_extra_links = ()

    def __init__(self, *, step: dict[str, Any], pipeline: dict[str, Any], slot: int = 1, **kwargs: Any):
        super().__init__(**kwargs)
        self.step, self.pipeline, self.slot = step, pipeline, slot

    def execute(self, context: Any) -> dict[str, Any]:
        from airflow_azml.execution.hyperdrive_slots import HyperDriveSlotExecution

        self._execution = HyperDriveSlotExecution(self._invocation(context), int(self.slot), log=self.log)
        return self._execution.run_slot()
