"""azureml.core.compute_target names."""

from airflow_azml.core.compute import ComputeTarget
from airflow_azml.exceptions import ComputeTargetException

__all__ = ["ComputeTarget", "ComputeTargetException"]
