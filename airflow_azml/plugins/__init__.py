"""The Airflow plugin of airflow-azml (registered through the provider and ``airflow.plugins``)."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

__all__ = ["AzmlPlugin"]


class AzmlPlugin(AirflowPlugin):
    name = "airflow_azml"
