"""Storage backends behind datastores: one small interface, one class per kind."""

from airflow_azml.data.stores.base import Store, check_relative
from airflow_azml.data.stores.local import LocalStore

__all__ = ["Store", "LocalStore", "check_relative"]
