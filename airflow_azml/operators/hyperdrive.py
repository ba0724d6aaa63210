"""HyperDriveStepOperator: a HyperDriveStep as one Airflow task whose children are processes.

The step lifecycle (gate, record, reuse, finish, XCom) is :class:`AzmlStepOperator`'s; this
class supplies only the run part, a sweep through
:class:`~airflow_azml.execution.hyperdrive.HyperDriveExecution`. The children run as processes
inside the step's task on the worker its compute target routes it to, at most
``max_concurrent_runs`` at once; each has its own run record (``StepRun.get_children()``).
Killing the task stops every child.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_azml.operators.step import AzmlStepOperator

if TYPE_CHECKING:
    from airflow_azml.execution.lifecycle import StepAttempt

__all__ = ["HyperDriveStepOperator"]


class HyperDriveStepOperator(AzmlStepOperator):
    """A HyperDriveStep: the training script once per sampled set of hyperparameters."""

    ui_color = "#dcfce7"

    def run_step(self, attempt: StepAttempt, context: Any) -> dict[str, Any]:
        from airflow_azml.execution.hyperdrive import HyperDriveExecution

        self._execution = HyperDriveExecution(attempt.inv, log=attempt.log)
        return self._execution.work(attempt)
