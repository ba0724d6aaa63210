"""Provider metadata for Airflow's provider discovery (``apache_airflow_provider`` entry point)."""

from __future__ import annotations

import importlib
import os
from typing import Any

__all__ = ["get_provider_info", "DAG_AUTHORING_MODULES"]

#: What a pipeline DAG file imports (pure Python: none of them imports Airflow). Airflow calls
#: get_provider_info() while it loads its configuration, in every process and so before the DAG
#: processor forks a child to parse a file and before a worker parses the DAG file of a task:
#: importing these here lets each such child inherit them instead of importing them again, as
#: Airflow's own ``[dag_processor] parsing_pre_import_modules`` does for the ``airflow.*``
#: modules a DAG file imports. ``AZML_PRELOAD_MODULES=0`` turns it off.
DAG_AUTHORING_MODULES = (
    "airflow_azml.core.workspace",
    "airflow_azml.core.datastore",
    "airflow_azml.core.dataset",
    "airflow_azml.pipeline.core.pipeline",
    "airflow_azml.pipeline.steps.python_script_step",
    "airflow_azml.pipeline.steps.estimator_step",
    "airflow_azml.pipeline.steps.command_step",
    "airflow_azml.train.estimator",
    "airflow_azml.compiler",
    "airflow_azml.compiler.lineage",
)


def _preload_dag_authoring_modules() -> None:
    if os.environ.get("AZML_PRELOAD_MODULES", "1").strip().lower() in ("0", "false", "no", "off"):
        return
    for name in DAG_AUTHORING_MODULES:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - a broken install fails where the DAG file imports it, with its traceback
            return


def get_provider_info() -> dict[str, Any]:
    from airflow_azml import __version__

    _preload_dag_authoring_modules()
    return {
        "package-name": "airflow-azml",
        "name": "Azure ML v1 pipelines (airflow-azml)",
        "description": "The Azure ML SDK v1 pipeline programming model (Pipeline, PythonScriptStep, "
        "PipelineData, ...) compiled to Airflow DAGs.",
        "versions": [__version__],
        "state": "ready",
        "plugins": [{"name": "airflow_azml", "plugin-class": "airflow_azml.provider.plugins.AzmlPlugin"}],
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
