"""ParallelRunStepOperator: a ParallelRunStep as Airflow tasks that fan out over worker processes.

The step lifecycle (gate, record, reuse, finish, XCom) is :class:`AzmlStepOperator`'s; this
class supplies only the run part, which starts the parallel driver through
:class:`~airflow_azml.execution.parallel.ParallelRunExecution`.

Where the step's compute target routes it to a queue (Celery workers) and it may have several
nodes (``node_count`` > 1, or a PipelineParameter), each node beyond the first is a task
instance of its own (:class:`ParallelRunNodeOperator`, ``<step>__nodes``), on the same queue and
after the same upstream tasks, so Celery can run the nodes on different workers; the step's
own task is node 0 and gathers. A literal node_count gives fixed node tasks; a parameter gives a
mapped task expanded at run time from ``<step>__node_count``. Without a queue (local runs) the
step is one task running ``node_count × process_count_per_node`` processes (see
docs/architecture.md for the measurements behind this).
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseOperator

from airflow_azml.provider.operators.routing import spreads_over_workers
from airflow_azml.provider.operators.step import AzmlStepOperator

__all__ = ["ParallelRunStepOperator", "ParallelRunNodeOperator", "ParallelNodeCountOperator", "node_tasks"]


def node_tasks(step: dict[str, Any], parameters: dict[str, Any]) -> bool:
    """True when the step's nodes are task instances of their own (see the module docstring)."""
    routing = step.get("routing") or {}
    if not routing.get("queue") or not spreads_over_workers(routing.get("executor")):
        return False
    count = step["parallel"]["node_count"]
    if isinstance(count, dict) or "aml_node_count" in parameters:
        return True
    return int(count or 1) > 1


class ParallelRunStepOperator(AzmlStepOperator):
    """A ParallelRunStep: init() once per worker process, run(mini_batch) per mini-batch taken."""

    ui_color = "#fef3c7"
    execution_path = "airflow_azml.execution.parallel:ParallelRunExecution"

    @classmethod
    def for_step(cls, *, step: dict[str, Any], pipeline: dict[str, Any], **kwargs: Any) -> AzmlStepOperator:
        if node_tasks(step, pipeline["parameters"]):
            step = {**step, "parallel": {**step["parallel"], "node_tasks": True}}
            kwargs["priority_weight"] = int(kwargs.get("priority_weight") or 1) + 1  # node 0 before its nodes
        return super().for_step(step=step, pipeline=pipeline, **kwargs)

    def add_node_tasks(self, upstream: list[BaseOperator], **routing: Any) -> list[BaseOperator]:
        """The step's node tasks 1..n-1 (none unless :func:`node_tasks`), after ``upstream``."""
        if not self.step["parallel"].get("node_tasks"):
            return []
        routing.pop("priority_weight", None)
        common = {"step": self.step, "pipeline": self.pipeline, "dag": self.dag, **routing}
        count = self.step["parallel"]["node_count"]
        task_id = f"{self.task_id}__nodes"
        if isinstance(count, dict) or "aml_node_count" in self.pipeline["parameters"]:
            counter = ParallelNodeCountOperator(  # on the step's queue too: it may be the only one served
                task_id=f"{self.task_id}__node_count",
                step=self.step,
                pipeline=self.pipeline,
                dag=self.dag,
                **routing,
            )
            nodes = ParallelRunNodeOperator.partial(task_id=task_id, **common).expand(node=counter.output)
            made = [counter, nodes]
        else:
            made = [
                ParallelRunNodeOperator(task_id=f"{task_id}_{n}", node=n, **common)
                for n in range(1, int(count))
            ]
        for task in made:
            for up in upstream:
                up >> task
        return made


class ParallelNodeCountOperator(BaseOperator):
    """``[1, ..., node_count - 1]`` for this run (node_count a PipelineParameter): what the node
    task is mapped over, so the number of node tasks follows the value given at submit."""

    ui_color = "#fde68a"

    def __init__(self, *, step: dict[str, Any], pipeline: dict[str, Any], **kwargs: Any):
        super().__init__(**kwargs)
        self.step, self.pipeline = step, pipeline

    def execute(self, context: Any) -> list[int]:
        from airflow_azml.execution.parallel import resolve_settings
        from airflow_azml.execution.params import coerce_params

        params = coerce_params(self.pipeline["parameters"], dict(context["params"]), self.step["name"])
        tabular = self.step["parallel"].get("input_kind") == "tabular"
        settings = resolve_settings(self.step["parallel"], params, tabular, self.step["name"])
        return list(range(1, settings["node_count"]))


class ParallelRunNodeOperator(AzmlStepOperator):
    """Node ``node`` (1..n-1) of a ParallelRunStep: claims and runs mini-batches; node 0 gathers."""

    ui_color = "#fef9c3"
    operator_extra_links = ()

    def __init__(self, *, step: dict[str, Any], pipeline: dict[str, Any], node: int = 1, **kwargs: Any):
        super().__init__(**kwargs)
        self.step, self.pipeline, self.node = step, pipeline, node

    def execute(self, context: Any) -> dict[str, Any]:
        from airflow_azml.execution.parallel_node import ParallelNodeExecution

        self._execution = ParallelNodeExecution(self._invocation(context), int(self.node), log=self.log)
        return self._execution.run_node()
