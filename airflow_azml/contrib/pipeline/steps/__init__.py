"""azureml.contrib.pipeline.steps: ParallelRunStep and ParallelRunConfig under their preview path."""

from airflow_azml._lazy import lazy_exports

_EXPORTS = {
    "ParallelRunStep": "airflow_azml.pipeline.steps.parallel_run_step",
    "ParallelRunConfig": "airflow_azml.pipeline.steps.parallel_run_step",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
