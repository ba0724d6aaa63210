"""Settings of local runs and the side-by-side progress line (no Airflow started)."""

from __future__ import annotations

import time

import pytest

from airflow_azml.pipeline.core.progress import progress_line
from airflow_azml.provider.local.runner import PARALLELISM_ENV, default_parallelism
from airflow_azml.provider.local.server import IDLE_ENV, idle_seconds, socket_name


class _Step:
    def __init__(self, name: str, status: str, record: dict | None = None):
        self.name, self._status, self.record = name, status, record

    def get_status(self) -> str:
        return self._status


def test_progress_line_shows_every_step_side_by_side():
    now = time.time()
    steps = [
        _Step("prep", "Finished", {"duration": 5.24}),
        _Step("a", "Running", {"start": now - 3.0}),
        _Step("b", "Running", {"start": now - 1.0}),
        _Step("old", "Reused", {"duration": 0.1}),
        _Step("bad", "Failed", {"duration": 2.0}),
        _Step("next", "NotStarted"),
        _Step("later", "Queued"),
    ]
    line = progress_line(steps, 12.4)
    assert line.startswith(
        "[   12s] running: a 3.0s, b 1.0s | done: prep 5.2s | reused: old 0.1s | failed: bad 2.0s"
    )
    assert line.endswith("| waiting: 2")


def test_parallelism_defaults_to_the_cores_and_is_checked(monkeypatch):
    monkeypatch.delenv(PARALLELISM_ENV, raising=False)
    assert default_parallelism() >= 1
    monkeypatch.setenv(PARALLELISM_ENV, "6")
    assert default_parallelism() == 6
    for bad in ("0", "four", "-2"):
        monkeypatch.setenv(PARALLELISM_ENV, bad)
        with pytest.raises(SystemExit, match=PARALLELISM_ENV):
            default_parallelism()


def test_warm_server_settings():
    assert idle_seconds({}) == 600
    assert idle_seconds({IDLE_ENV: "0"}) == 0
    with pytest.raises(SystemExit, match=IDLE_ENV):
        idle_seconds({IDLE_ENV: "soon"})
    base = {"AIRFLOW_HOME": "/h", "AIRFLOW__CORE__DAGS_FOLDER": "/a"}
    # one server per home and Airflow settings; the dags folder is per run
    assert socket_name(base) == socket_name({**base, "AIRFLOW__CORE__DAGS_FOLDER": "/b", "OTHER": "x"})
    assert socket_name(base) != socket_name({**base, "AIRFLOW_HOME": "/g"})
    assert socket_name(base) != socket_name({**base, "AIRFLOW__CORE__XCOM_BACKEND": "x.Y"})
