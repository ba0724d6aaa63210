"""The compat switch: v1's real module paths resolve to airflow_azml through the v1 map, our
internal modules stay ours, and a v1 name or module we do not have says why and what instead."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
from airflow_azml import compat
compat.enable()
import azureml.core
from azureml.core import Workspace, Run
from azureml.core.run import Run as RunFromItsModule
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
from azureml.exceptions import UserErrorException, ComputeTargetException as FromExceptions
import airflow_azml.core, airflow_azml.pipeline.core.graph, airflow_azml.exceptions
assert Workspace is airflow_azml.core.Workspace and Run is RunFromItsModule is airflow_azml.core.Run
assert PipelineParameter is airflow_azml.pipeline.core.graph.PipelineParameter
assert ComputeTargetException is FromExceptions is airflow_azml.exceptions.ComputeTargetException
assert UserErrorException is airflow_azml.exceptions.UserErrorException
assert azureml.core.runconfig.RunConfiguration is RunConfiguration  # submodules are attributes
assert azureml.core.VERSION == airflow_azml.core.VERSION
assert "Workspace" in dir(azureml.core) and "Keyvault" not in dir(azureml.core)
for statement in (
    "from azureml.pipeline.steps import {step}",
    "from azureml.core import Keyvault",
    "import azureml.core.webservice",
    "import azureml.core._home",
    "import azureml.pipeline.core.published_loader",
    "import azureml.opendatasets",
):
    try:
        exec(statement)
        print("IMPORTED", statement)
    except ImportError as exc:
        print(type(exc).__name__, exc)
import os
print("ENV", os.environ.get("AZML_COMPAT"))
"""
MIGRATE = "run `azml migrate` on your code to see what to change"


def _reason(entry: dict) -> str:
    return f"{entry['why']}; instead: {entry['instead']}"


def test_v1_module_paths_resolve_and_teach() -> None:
    from airflow_azml import v1map

    table = v1map.load()  # a step kind airflow-azml does not have (yet): the map says which
    names = table.modules["azureml.pipeline.steps"]["names"]
    step = min(
        n for n in names if table.name_entry("azureml.pipeline.steps", n)["status"] == v1map.UNSUPPORTED
    )
    script = SCRIPT.replace("{step}", step)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == (
        f"ImportError cannot import name {step!r} from 'azureml.pipeline.steps': "
        f"{_reason(table.name_entry('azureml.pipeline.steps', step))} ({MIGRATE})"
    )
    assert lines[1].startswith(
        "ImportError cannot import name 'Keyvault' from 'azureml.core': no workspace key vault"
    )
    assert lines[2] == (
        "ModuleNotFoundError No module named 'azureml.core.webservice': airflow-azml has no equivalent of "
        f"azureml.core.webservice ({_reason(table.modules['azureml.core.webservice'])}); {MIGRATE}."
    )
    for line, module in zip(
        lines[3:6],
        ("azureml.core._home", "azureml.pipeline.core.published_loader", "azureml.opendatasets"),
        strict=True,
    ):  # internal modules do not leak out as azureml.*; modules outside v1's pipeline API are not served
        assert line == (
            f"ModuleNotFoundError No module named {module!r}: airflow-azml has no equivalent of {module}; {MIGRATE}."
        )
    assert lines[6] == "ENV 1"


def test_served_modules_come_from_the_map() -> None:
    from airflow_azml import compat, v1map

    served = compat.served_modules()
    table = v1map.load()
    for module in (
        "azureml.core.run",
        "azureml.pipeline.core.graph",
        "azureml.exceptions",
        "azureml.core.compute",
    ):
        assert module in served and table.modules[module]["status"] != v1map.UNSUPPORTED
    assert served["azureml"] and served["azureml.core.compute"] and not served["azureml.core.run"]
    assert all(m in table.modules or any(k.startswith(m + ".") for k in table.modules) for m in served)
    assert "azureml.core.webservice" not in served


def test_a_class_the_map_is_behind_on_is_still_served(monkeypatch) -> None:
    """A class added at v1's path before the map was regenerated is served, not refused (the map's
    coverage test asks for the regeneration)."""
    from airflow_azml import compat, v1map
    from airflow_azml.core import Workspace

    key = "azureml.core.workspace.Workspace"
    stale = {k: v for k, v in v1map.load().classes[key].items() if k != "ours"}
    monkeypatch.setitem(v1map.load().classes, key, {**stale, "status": v1map.UNSUPPORTED, "why": "stale"})
    compat.enable()
    try:
        from azureml.core import Workspace as Served
    finally:
        compat.disable()
    assert Served is Workspace
