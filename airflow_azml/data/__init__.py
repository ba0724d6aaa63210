"""azureml.data: datasets, output configurations, data references."""

from airflow_azml._lazy import lazy_exports

_EXPORTS = {
    "OutputFileDatasetConfig": "airflow_azml.data.output_dataset_config",
    "OutputTabularDatasetConfig": "airflow_azml.data.output_dataset_config",
    "TabularDataset": "airflow_azml.data.dataset",
    "FileDataset": "airflow_azml.data.dataset",
    "DataReference": "airflow_azml.data.data_reference",
    "DataPath": "airflow_azml.data.datapath",
    "DataPathComputeBinding": "airflow_azml.data.datapath",
    "DatasetConsumptionConfig": "airflow_azml.data.dataset_consumption_config",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
