"""azureml.core.environment names."""

from airflow_azml.core.runconfig import CondaDependencies, DockerConfiguration, Environment

__all__ = ["Environment", "CondaDependencies", "DockerConfiguration"]
