"""Azurite for the hook tests: one blob service per module, a fresh container per test."""

from __future__ import annotations

import os
import uuid

import pytest

from tests.support.azurite import AzuriteServer


@pytest.fixture
def blob_conn(azurite: AzuriteServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """An Airflow connection id (AIRFLOW_CONN_* env var) for the Azurite account."""
    conn_id = f"azml_blob_{uuid.uuid4().hex[:6]}"
    for key, value in azurite.airflow_conn_env(conn_id, "wasb").items():
        monkeypatch.setenv(key, value)
    assert os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"]
    return conn_id


@pytest.fixture
def container(azurite: AzuriteServer) -> str:
    name = f"c{uuid.uuid4().hex[:12]}"
    azurite.create_container(name)
    return name
