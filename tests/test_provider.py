"""airflow-azml is a well-behaved provider: listed by `airflow providers list`, plugin registered."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_azml.get_provider_info import get_provider_info


def test_provider_info_names_the_distribution():
    info = get_provider_info()
    assert info["package-name"] == "airflow-azml"
    assert info["plugins"] == [{"name": "airflow_azml", "plugin-class": "airflow_azml.plugins.AzmlPlugin"}]
    assert "workspace_config" in info["config"]["azml"]["options"]


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
