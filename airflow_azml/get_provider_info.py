"""Provider metadata for Airflow's provider discovery (``apache_airflow_provider`` entry point)."""

from __future__ import annotations

from typing import Any

__all__ = ["get_provider_info"]


def get_provider_info() -> dict[str, Any]:
    from airflow_azml import __version__

    return {
        "package-name": "airflow-azml",
        "name": "Azure ML v1 pipelines (airflow-azml)",
        "description": "The Azure ML SDK v1 pipeline programming model (Pipeline, PythonScriptStep, "
        "PipelineData, ...) compiled to Airflow DAGs.",
        "versions": [__version__],
        "state": "ready",
        "plugins": [{"name": "airflow_azml", "plugin-class": "airflow_azml.plugins.AzmlPlugin"}],
        "config": {
            "azml": {
                "description": "airflow-azml settings.",
                "options": {
                    "workspace_config": {
                        "description": "Path of the workspace file (config.json). Same as $AZML_WORKSPACE_CONFIG.",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "/opt/airflow/dags/config.json",
                        "default": "",
                    },
                    "xcom_threshold": {
                        "description": "DatastoreXComBackend: values larger than this many bytes go to the "
                        "default datastore; only their URI is stored in Airflow's database.",
                        "version_added": "0.1.0",
                        "type": "integer",
                        "example": "65536",
                        "default": "65536",
                    },
                },
            }
        },
    }
