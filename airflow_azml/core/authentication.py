"""azureml.core.authentication: bearer headers for the configured Airflow REST API."""

from __future__ import annotations

from typing import Any

__all__ = [
    "InteractiveLoginAuthentication",
    "ServicePrincipalAuthentication",
    "MsiAuthentication",
    "AbstractAuthentication",
]


class AbstractAuthentication:
    """Gets a JWT from Airflow's ``/auth/token`` with the workspace file's (or env) credentials."""

    def __init__(self, *args: Any, **kwargs: Any):
        self._workspace = kwargs.get("workspace")

    def get_authentication_header(self) -> dict[str, str]:
        from airflow_azml.core._orchestrator import orchestrator

        return orchestrator(self._workspace, "rest").authentication_header()


class InteractiveLoginAuthentication(AbstractAuthentication):
    pass


class ServicePrincipalAuthentication(AbstractAuthentication):
    pass


class MsiAuthentication(AbstractAuthentication):
    pass
