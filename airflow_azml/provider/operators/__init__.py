"""Airflow operators: one per step family."""

from airflow_azml._lazy import lazy_exports

_EXPORTS = {
    "AzmlStepOperator": "airflow_azml.provider.operators.step",
    "PythonScriptStepOperator": "airflow_azml.provider.operators.step",
    "EstimatorStepOperator": "airflow_azml.provider.operators.step",
    "CommandStepOperator": "airflow_azml.provider.operators.step",
    "ParallelRunStepOperator": "airflow_azml.provider.operators.parallel_run",
    "HyperDriveStepOperator": "airflow_azml.provider.operators.hyperdrive",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
