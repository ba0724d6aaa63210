"""Settings of local runs and the side-by-side progress line (no Airflow started, but for one real run
showing the workspace file's parallelism taken)."""

from __future__ import annotations

import json
import time

import pytest

from airflow_azml.core import Experiment, Workspace
from airflow_azml.exceptions import UserErrorException, WorkspaceConfigError
from airflow_azml.pipeline.core import Pipeline
from airflow_azml.pipeline.core.progress import progress_line
from airflow_azml.pipeline.steps import PythonScriptStep
from airflow_azml.provider.local.runner import PARALLELISM_ENV, PARALLELISM_KEY, default_parallelism
from airflow_azml.provider.local.server import IDLE_ENV, idle_seconds, socket_name
from tests.conftest import write


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
        with pytest.raises(UserErrorException, match=PARALLELISM_ENV):
            default_parallelism()


def _spec(setting: object, path: str = "/p/config.json") -> dict:
    return {"config": {"airflow": {PARALLELISM_KEY: setting}}, "config_path": path}


def test_parallelism_in_the_workspace_file_comes_after_the_environment(monkeypatch):
    monkeypatch.delenv(PARALLELISM_ENV, raising=False)
    cores = default_parallelism()
    assert default_parallelism(_spec(3)) == 3
    assert default_parallelism({"config": {"airflow": {"base_url": "http://x"}}}) == cores
    monkeypatch.setenv(PARALLELISM_ENV, "5")  # the environment comes first
    assert default_parallelism(_spec(3)) == 5
    monkeypatch.delenv(PARALLELISM_ENV)
    for bad in (0, -1, "4", 2.5, True, [2]):
        with pytest.raises(WorkspaceConfigError) as err:
            default_parallelism(_spec(bad))
        assert "/p/config.json" in str(err.value) and f'"{PARALLELISM_KEY}"' in str(err.value), err.value


SLEEP = "import time, sys\ntime.sleep(1.5)\nprint('done', sys.argv[1])\n"


@pytest.mark.slow
def test_the_workspace_files_parallelism_is_the_runs(embedded_airflow_home, workspace_dir, monkeypatch):
    monkeypatch.delenv(PARALLELISM_ENV, raising=False)
    config = workspace_dir / "config.json"
    data = json.loads(config.read_text())
    config.write_text(json.dumps({**data, "airflow": {PARALLELISM_KEY: 0}}))
    ws = Workspace.from_config(workspace_dir)
    write(workspace_dir / "src" / "nap.py", SLEEP)
    steps = [
        PythonScriptStep(
            "nap.py", name=n, source_directory=str(workspace_dir / "src"), arguments=[n], allow_reuse=False
        )
        for n in ("one", "two")
    ]
    with pytest.raises(WorkspaceConfigError, match=str(config)):  # checked before anything starts
        Experiment(ws, "local_par_file").submit(Pipeline(ws, steps))

    config.write_text(json.dumps({**data, "airflow": {PARALLELISM_KEY: 1}}))
    ws = Workspace.from_config(workspace_dir)
    run = Experiment(ws, "local_par_file").submit(Pipeline(ws, steps))
    assert run.wait_for_completion(show_output=False, timeout_seconds=300) == "Finished"
    spans = sorted((s.record["start"], s.record["start"] + s.record["duration"]) for s in run.get_steps())
    # two independent steps, one after the other (the default, the cores, would start both at once)
    assert len(spans) == 2 and spans[0][1] <= spans[1][0], spans


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
