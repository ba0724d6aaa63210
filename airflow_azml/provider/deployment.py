"""The workspace file an Airflow deployment configures, for code that runs outside a pipeline DAG
(the XCom backend, the plugin apps): ``$AZML_WORKSPACE_CONFIG``, else ``[azml] workspace_config``."""

from __future__ import annotations

import os

__all__ = ["configured_workspace_path"]


def configured_workspace_path() -> str | None:
    """The configured workspace file, or None when the deployment names none."""
    env = os.environ.get("AZML_WORKSPACE_CONFIG")
    if env:
        return env
    from airflow.configuration import conf

    return conf.get("azml", "workspace_config", fallback="") or None
