"""azureml.pipeline.steps: one module per step family, imported on first use."""

from airflow_azml._lazy import lazy_exports

_EXPORTS = {
    "PythonScriptStep": "airflow_azml.pipeline.steps.python_script_step",
    "EstimatorStep": "airflow_azml.pipeline.steps.estimator_step",
    "CommandStep": "airflow_azml.pipeline.steps.command_step",
    "DataTransferStep": "airflow_azml.pipeline.steps.data_transfer_step",
    "DatabricksStep": "airflow_azml.pipeline.steps.databricks_step",
    "AdlaStep": "airflow_azml.pipeline.steps.adla_step",
    "ModuleStep": "airflow_azml.pipeline.steps.module_step",
    "ParallelRunStep": "airflow_azml.pipeline.steps.parallel_run_step",
    "ParallelRunConfig": "airflow_azml.pipeline.steps.parallel_run_step",
    "HyperDriveStep": "airflow_azml.pipeline.steps.hyperdrive_step",
    "HyperDriveStepRun": "airflow_azml.pipeline.core.hyperdrive_run",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
