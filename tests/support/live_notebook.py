"""A running Airflow as a v1 notebook meets it, for the live system tests.

The deployment's dags folder holds only the published-pipelines loader; this process reaches it
through the ``AZML_AIRFLOW_*`` variables alone (no workspace file) and shares its ``AZML_HOME``,
the way tools/live_airflow.py sets a deployment up.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_azml.pipeline.core.published_loader import write_loader
from tests.support.live_airflow import PASSWORDS, LiveAirflow, live_airflow

__all__ = ["notebook_airflow"]


def notebook_airflow(root: Path) -> Iterator[LiveAirflow]:
    """Generator for a module-scoped fixture: ``yield from notebook_airflow(tmp_path_factory.mktemp(...))``.

    The environment variables are set while the deployment runs and restored after it stops.
    """
    dags, home = root / "dags", root / "azml_home"
    write_loader(dags)
    mp = pytest.MonkeyPatch()
    mp.setenv("AZML_HOME", str(home))
    mp.delenv("AZML_WORKSPACE_CONFIG", raising=False)
    try:
        for af in live_airflow(dags, extra_env={"AZML_HOME": str(home)}):
            mp.setenv("AZML_AIRFLOW_URL", af.base_url)
            mp.setenv("AZML_AIRFLOW_USERNAME", "admin")
            mp.setenv("AZML_AIRFLOW_PASSWORD", PASSWORDS["admin"])
            yield af
    finally:
        mp.undo()
