"""azureml.pipeline.steps.parallel_run_config: v1's module path of ParallelRunConfig."""

from airflow_azml.pipeline.steps.parallel_run_step import ParallelRunConfig

__all__ = ["ParallelRunConfig"]
