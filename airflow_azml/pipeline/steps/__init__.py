"""azureml.pipeline.steps: one module per step family, imported on first use."""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["PythonScriptStep", "EstimatorStep", "CommandStep", "DataTransferStep", "DatabricksStep", "AdlaStep"]

_MODULES = {
    "PythonScriptStep": "python_script_step",
    "EstimatorStep": "estimator_step",
    "CommandStep": "command_step",
    "DataTransferStep": "data_transfer_step",
    "DatabricksStep": "databricks_step",
    "AdlaStep": "adla_step",
}


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        module = importlib.import_module(f"airflow_azml.pipeline.steps.{_MODULES[name]}")
        value = getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'airflow_azml.pipeline.steps' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
