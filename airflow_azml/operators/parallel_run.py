"""ParallelRunStepOperator: a ParallelRunStep as one Airflow task that fans out over worker processes.

The step lifecycle (gate, record, reuse, finish, XCom) is :class:`AzmlStepOperator`'s; this
class supplies only the run part, which starts the parallel driver through
:class:`~airflow_azml.execution.parallel.ParallelRunExecution`. The task runs
``node_count × process_count_per_node`` worker processes on the worker the step's compute
target routes it to (see docs/architecture.md for why one task and not one task per node).
"""

from __future__ import annotations

from airflow_azml.operators.step import AzmlStepOperator

__all__ = ["ParallelRunStepOperator"]


class ParallelRunStepOperator(AzmlStepOperator):
    """A ParallelRunStep: init() once per worker process, run(mini_batch) per mini-batch taken."""

    ui_color = "#fef3c7"
    execution_path = "airflow_azml.execution.parallel:ParallelRunExecution"
