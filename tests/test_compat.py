"""The compat switch: v1 import paths resolve to airflow_azml, and say so when there is no equivalent."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
from airflow_azml import compat
compat.enable()
import azureml.core
from azureml.core import Workspace, Run
from azureml.core.compute import ComputeTarget, AmlCompute
from azureml.core.compute_target import ComputeTargetException
from azureml.core.runconfig import RunConfiguration, DEFAULT_CPU_IMAGE
from azureml.core.conda_dependencies import CondaDependencies
from azureml.data import OutputFileDatasetConfig
from azureml.data.data_reference import DataReference
from azureml.pipeline.core import Pipeline, PipelineData
from azureml.pipeline.core.graph import PipelineParameter
from azureml.pipeline.steps import PythonScriptStep
from azureml.widgets import RunDetails
import airflow_azml.core, airflow_azml.pipeline.core.graph
assert azureml.core is airflow_azml.core
assert PipelineParameter is airflow_azml.pipeline.core.graph.PipelineParameter
try:
    from azureml.pipeline.steps import HyperDriveStep
except ImportError as exc:
    print("HYPER", exc)
try:
    import azureml.train.hyperdrive
except ModuleNotFoundError as exc:
    print("MOD", exc)
import os
print("ENV", os.environ.get("AZML_COMPAT"))
"""


def test_v1_imports_resolve():
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("HYPER cannot import name 'HyperDriveStep'")
    assert lines[1] == (
        "MOD No module named 'azureml.train.hyperdrive': airflow-azml has no equivalent of "
        "azureml.train.hyperdrive (run `azml migrate` on your code to see what to change)."
    )
    assert lines[2] == "ENV 1"
