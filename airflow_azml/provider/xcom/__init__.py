"""XCom backend that keeps large values on the default datastore (``[core] xcom_backend``)."""

from airflow_azml.provider.xcom.backend import XCOM_PREFIX, DatastoreXComBackend

__all__ = ["DatastoreXComBackend", "XCOM_PREFIX"]
