"""Step execution: resolve inputs, stage outputs, launch, commit, record.

Shared by every step operator and never imports Airflow, so the same code runs in a local
``dag.test()`` run and on a Celery worker, and can be tested without an Airflow database.
"""

from airflow_azml.execution.records import RunRecords, run_slug, step_run_id
from airflow_azml.execution.step import StepExecution, StepInvocation

__all__ = ["StepExecution", "StepInvocation", "RunRecords", "run_slug", "step_run_id"]
