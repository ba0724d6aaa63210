"""AirflowRestClient configuration (workspace file, environment) and its errors, without a server
(the live-server behaviour is in tests/system/test_rest_trigger.py)."""

from __future__ import annotations

import json

import pytest

from airflow_azml.client import AirflowRestClient, airflow_settings
from airflow_azml.core import Workspace
from airflow_azml.exceptions import AirflowApiError, WorkspaceConfigError
from tests.support.live_airflow import free_port


def _ws(tmp_path, section):
    (tmp_path / "config.json").write_text(json.dumps({"workspace_name": "w", "airflow": section}))
    return Workspace.from_config(tmp_path)


def test_settings_from_the_workspace_file_with_password_env(tmp_path, azml_home, monkeypatch):
    monkeypatch.delenv("AZML_AIRFLOW_URL", raising=False)
    monkeypatch.delenv("AZML_AIRFLOW_PASSWORD", raising=False)
    monkeypatch.setenv("MY_PW", "s3cret")
    ws = _ws(tmp_path, {"base_url": "http://af:8080/", "username": "ci", "password_env": "MY_PW"})
    client = AirflowRestClient.from_workspace(ws)
    assert (client.base_url, client.username, client.password) == ("http://af:8080", "ci", "s3cret")


def test_environment_wins_over_the_file(tmp_path, azml_home, monkeypatch):
    monkeypatch.setenv("AZML_AIRFLOW_URL", "http://other:9")
    monkeypatch.setenv("AZML_AIRFLOW_USERNAME", "bob")
    monkeypatch.setenv("AZML_AIRFLOW_PASSWORD", "pw")
    ws = _ws(tmp_path, {"base_url": "http://af:8080", "username": "ci", "password": "x"})
    assert airflow_settings(ws) == {"base_url": "http://other:9", "username": "bob", "password": "pw"}


def test_no_airflow_configured_says_how_to_configure(tmp_path, azml_home, monkeypatch):
    monkeypatch.delenv("AZML_AIRFLOW_URL", raising=False)
    with pytest.raises(WorkspaceConfigError, match="'airflow' section with base_url"):
        AirflowRestClient.from_workspace(Workspace())


def test_unreachable_server_is_an_airflow_api_error():
    client = AirflowRestClient(f"http://127.0.0.1:{free_port()}", "u", "p", timeout=2)
    with pytest.raises(AirflowApiError, match="Cannot reach Airflow") as err:
        client.get_dag("x")
    assert err.value.status_code == 0
