"""Storage backends behind datastores: one small interface, one class per kind."""

from airflow_azml._lazy import lazy_exports

_EXPORTS = {
    "Store": "airflow_azml.data.stores.base",
    "check_relative": "airflow_azml.data.stores.base",
    "LocalStore": "airflow_azml.data.stores.local",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
