"""azureml.contrib.notebook: run a Jupyter notebook as a pipeline step (papermill underneath)."""

from airflow_azml._lazy import lazy_exports

_EXPORTS = {
    "NotebookRunnerStep": "airflow_azml.contrib.notebook.step",
    "NotebookRunConfig": "airflow_azml.contrib.notebook.run_config",
    "NotebookExecutionHandler": "airflow_azml.contrib.notebook.handlers",
    "AzureMLNotebookHandler": "airflow_azml.contrib.notebook.handlers",
    "PapermillExecutionHandler": "airflow_azml.contrib.notebook.handlers",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
