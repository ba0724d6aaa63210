"""azureml.data: datasets, output configurations, data references."""

from airflow_azml.data.data_reference import DataReference
from airflow_azml.data.datapath import DataPath, DataPathComputeBinding
from airflow_azml.data.dataset import FileDataset, TabularDataset
from airflow_azml.data.dataset_consumption_config import DatasetConsumptionConfig
from airflow_azml.data.output_dataset_config import OutputFileDatasetConfig, OutputTabularDatasetConfig

__all__ = [
    "OutputFileDatasetConfig",
    "OutputTabularDatasetConfig",
    "TabularDataset",
    "FileDataset",
    "DataReference",
    "DataPath",
    "DataPathComputeBinding",
    "DatasetConsumptionConfig",
]
