"""Airflow-side storage access: datastores on Azure Blob / ADLS Gen2 through Airflow connections."""

from airflow_azml.provider.hooks.object_store import COMMITTED_MARKER, PENDING_MARKER, ObjectStore

__all__ = ["ObjectStore", "COMMITTED_MARKER", "PENDING_MARKER"]
