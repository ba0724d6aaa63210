"""azureml.pipeline.steps: one module per step family."""

from airflow_azml.pipeline.steps.estimator_step import EstimatorStep
from airflow_azml.pipeline.steps.python_script_step import PythonScriptStep

__all__ = ["PythonScriptStep", "EstimatorStep"]
