"""azureml.core: Workspace, Experiment, Datastore, Dataset, Run, Environment, ScriptRunConfig."""

from airflow_azml import __version__ as VERSION
from airflow_azml.core.compute import ComputeTarget
from airflow_azml.core.datastore import Datastore
from airflow_azml.core.dataset import Dataset
from airflow_azml.core.experiment import Experiment
from airflow_azml.core.runconfig import Environment, RunConfiguration
from airflow_azml.core.script_run_config import ScriptRunConfig
from airflow_azml.core.workspace import Workspace
from airflow_azml.runtime.run import Run

__all__ = [
    "VERSION",
    "Workspace",
    "Experiment",
    "Datastore",
    "Dataset",
    "Run",
    "Environment",
    "RunConfiguration",
    "ScriptRunConfig",
    "ComputeTarget",
]
