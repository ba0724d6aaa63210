"""airflow-azml is a well-behaved provider: listed by `airflow providers list`, plugin registered."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_azml.get_provider_info import get_provider_info
from tests.support.processes import python_json


def test_provider_info_names_the_distribution():
    info = get_provider_info()
    assert info["package-name"] == "airflow-azml"
    assert info["plugins"] == [
        {"name": "airflow_azml", "plugin-class": "airflow_azml.provider.plugins.AzmlPlugin"}
    ]
    assert "workspace_config" in info["config"]["azml"]["options"]


_PRELOAD_PROBE = """
import json, sys
import airflow_azml.get_provider_info as provider
provider.get_provider_info()
print(json.dumps(sorted(m for m in sys.modules if m.startswith(("airflow", "pandas", "pyarrow")))))
"""


def _modules_after_provider_info(preload: str) -> list[str]:
    env = {**os.environ, "AZML_PRELOAD_MODULES": preload}
    return python_json(_PRELOAD_PROBE, env=env, timeout=60)


def test_provider_info_preloads_the_dag_authoring_modules_without_airflow():
    from airflow_azml.get_provider_info import DAG_AUTHORING_MODULES

    loaded = _modules_after_provider_info("1")
    assert set(DAG_AUTHORING_MODULES) <= set(loaded)
    # Airflow calls get_provider_info() while it loads its configuration: nothing of Airflow's
    # (and no pandas/pyarrow) may be imported from here.
    assert [m for m in loaded if m == "airflow" or m.startswith(("airflow.", "pandas", "pyarrow"))] == []


def test_preloading_can_be_turned_off():
    loaded = _modules_after_provider_info("0")
    # the package itself installs only the finder for the Airflow side's old import paths
    assert [m for m in loaded if m.startswith("airflow_azml.")] == [
        "airflow_azml._moved",
        "airflow_azml.get_provider_info",
    ]


@pytest.mark.slow
def test_airflow_lists_the_provider_and_the_plugin(tmp_path: Path):
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path / 'a.db'}",
    }
    airflow = [sys.executable, "-m", "airflow"]
    providers = subprocess.run(
        [*airflow, "providers", "list", "-o", "plain"], env=env, capture_output=True, text=True, timeout=120
    )
    assert providers.returncode == 0, providers.stderr
    assert any(line.split()[:1] == ["airflow-azml"] for line in providers.stdout.splitlines()), (
        providers.stdout
    )
    plugins = subprocess.run(
        [*airflow, "plugins", "-o", "plain"], env=env, capture_output=True, text=True, timeout=120
    )
    assert plugins.returncode == 0, plugins.stderr
    assert "airflow_azml" in plugins.stdout
