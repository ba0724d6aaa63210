"""``azureml.core.VERSION``: the airflow-azml version."""

from airflow_azml import __version__ as VERSION

__all__ = ["VERSION"]
