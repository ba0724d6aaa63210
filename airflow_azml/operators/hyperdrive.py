"""HyperDriveStepOperator: a HyperDriveStep as one Airflow task whose children are processes.

The step lifecycle (gate, record, reuse, finish, XCom) is :class:`AzmlStepOperator`'s; this
class supplies only the run part, a sweep through
:class:`~airflow_azml.execution.hyperdrive.HyperDriveExecution`. The children run as processes
inside the step's task on the worker its compute target routes it to, at most
``max_concurrent_runs`` at once; each has its own run record (``StepRun.get_children()``).
Killing the task stops every child.
"""

from __future__ import annotations

from airflow_azml.operators.links import HyperDriveSweepLink
from airflow_azml.operators.step import AzmlStepOperator

__all__ = ["HyperDriveStepOperator"]


class HyperDriveStepOperator(AzmlStepOperator):
    """A HyperDriveStep: the training script once per sampled set of hyperparameters."""

    ui_color = "#dcfce7"
    operator_extra_links = (*AzmlStepOperator.operator_extra_links, HyperDriveSweepLink())
    execution_path = "airflow_azml.execution.hyperdrive:HyperDriveExecution"
