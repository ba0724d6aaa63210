"""The Airflow plugin of airflow-azml (registered through the provider and ``airflow.plugins``).

Each feature lives in its own module here and contributes FastAPI apps / UI entries; a
module that is absent contributes nothing.
"""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin

from airflow_azml._lazy import optional_module
from airflow_azml.provider.timetables import RecurrenceTimetable

__all__ = ["AzmlPlugin"]

_FEATURES = ("submit_api", "ui")


def _collect(attr: str) -> list[Any]:
    found: list[Any] = []
    for name in _FEATURES:
        module = optional_module(f"airflow_azml.provider.plugins.{name}")
        if module is not None:
            found += list(getattr(module, attr, []))
    return found


class AzmlPlugin(AirflowPlugin):
    name = "airflow_azml"
    fastapi_apps = _collect("FASTAPI_APPS")
    external_views = _collect("EXTERNAL_VIEWS")
    react_apps = _collect("REACT_APPS")
    operator_extra_links = _collect("OPERATOR_EXTRA_LINKS")
    timetables = [RecurrenceTimetable]  # v1 recurrences cron cannot say (every other day at 22:30)
