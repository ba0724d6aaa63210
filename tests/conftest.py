"""Shared fixtures. Every test gets its own AZML_HOME (datastores, run records, work dirs);
tests that run Airflow share one migrated embedded Airflow home per session (migrating
costs ~7 s), each DAG file living in its own dags folder under tmp_path."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

if TYPE_CHECKING:
    from tests.support.azurite import AzuriteServer


@pytest.fixture(scope="session")
def embedded_airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite Airflow home for the whole session (AZML_AIRFLOW_HOME)."""
    home = tmp_path_factory.mktemp("airflow_home")
    os.environ["AZML_AIRFLOW_HOME"] = str(home)
    os.environ["AZML_LOCAL_OWNER_PID"] = str(os.getpid())  # its warm local server ends with the session
    return home


@pytest.fixture(scope="module")
def azurite() -> Iterator[AzuriteServer]:
    """A real Azurite blob service (tests/support/azurite.py), one per test module; without the emulator
    the test is skipped (or fails, with AZML_REQUIRE_AZURITE=1)."""
    from tests.support.azurite import azurite_server

    yield from azurite_server()


@pytest.fixture
def azml_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh AZML_HOME (default local datastore root, records, work dirs) for one test."""
    home = tmp_path / "azml_home"
    home.mkdir()
    monkeypatch.setenv("AZML_HOME", str(home))
    monkeypatch.delenv("AZML_WORKSPACE_CONFIG", raising=False)
    monkeypatch.delenv("AZML_COMPAT", raising=False)
    return home


@pytest.fixture
def workspace_dir(tmp_path: Path, azml_home: Path) -> Path:
    """A project folder with a workspace file (config.json) and a 'cpu' compute target."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "config.json").write_text(
        json.dumps(
            {
                "workspace_name": "test-ws",
                "compute_targets": {"cpu": {"type": "AmlCompute", "queue": "cpu", "retries": 0}},
            }
        )
    )
    return project


def write(path: Path, text: str) -> Path:
    """Write a file (creating folders) and return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path
