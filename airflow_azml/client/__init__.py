"""Client side of a running Airflow: REST calls, remote runs (never imports Airflow)."""

from airflow_azml.client.rest import AirflowRestClient, airflow_settings

__all__ = ["AirflowRestClient", "airflow_settings"]
