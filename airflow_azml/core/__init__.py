"""azureml.core: Workspace, Experiment, Datastore, Dataset, Run, Environment, ScriptRunConfig."""

from airflow_azml._lazy import lazy_exports

_EXPORTS = {
    "VERSION": "airflow_azml.core._version",
    "Workspace": "airflow_azml.core.workspace",
    "Experiment": "airflow_azml.core.experiment",
    "Datastore": "airflow_azml.core.datastore",
    "Dataset": "airflow_azml.core.dataset",
    "Run": "airflow_azml.runtime.run",
    "Environment": "airflow_azml.core.runconfig",
    "RunConfiguration": "airflow_azml.core.runconfig",
    "ScriptRunConfig": "airflow_azml.core.script_run_config",
    "ComputeTarget": "airflow_azml.core.compute",
    "Model": "airflow_azml.core.model",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
