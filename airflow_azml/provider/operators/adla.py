"""AdlaStepOperator: run an AdlaStep's SQL/U-SQL script on DuckDB or an Airflow SQL connection.

The step lifecycle (gate, run record, reuse, XCom) is every operator's; the run part is
``execution/sql.py``'s SqlStepExecution (inputs resolved to local paths, outputs staged and
committed only on success; the statements run instead of a script process); this operator only
opens the compute target's Airflow SQL connection for it.
"""

from __future__ import annotations

from typing import Any

from airflow_azml.execution.lifecycle import StepAttempt
from airflow_azml.execution.sql import SqlStepExecution, engine_conn_id, make_output_folder
from airflow_azml.pipeline.steps.adla_step import priority_weight
from airflow_azml.provider.operators.step import AzmlStepOperator

__all__ = ["AdlaStepOperator", "SqlStepExecution", "engine_conn_id", "make_output_folder"]


class AdlaStepOperator(AzmlStepOperator):
    """Runs an AdlaStep. ``priority`` (ADLA: lower first) becomes Airflow's ``priority_weight``."""

    ui_color = "#fef3c7"

    @classmethod
    def for_step(cls, *, step: dict[str, Any], pipeline: dict[str, Any], **kwargs: Any) -> AdlaStepOperator:
        if step.get("priority") is not None:
            kwargs["priority_weight"] = priority_weight(step["priority"])
        return super().for_step(step=step, pipeline=pipeline, **kwargs)

    def _connect(self) -> Any:
        """A factory for a DB-API connection of the compute target's Airflow connection, or None."""
        conn_id = engine_conn_id(self.step, self.pipeline["workspace"])
        if conn_id is None:
            return None

        def connect() -> Any:
            from airflow.sdk import BaseHook

            hook = BaseHook.get_connection(conn_id).get_hook()
            self.log.info("Running the script on Airflow connection %r (%s)", conn_id, type(hook).__name__)
            return hook.get_conn()

        return connect

    def run_step(self, attempt: StepAttempt, context: Any) -> dict[str, Any]:
        """The SQL step's run part: a StepExecution whose launch runs the script on the engine."""
        self._execution = SqlStepExecution(attempt.inv, log=attempt.log, connect=self._connect())
        return self._execution.work(attempt)
