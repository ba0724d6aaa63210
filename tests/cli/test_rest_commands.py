"""The REST subcommands (submit, runs, logs) share one way to reach a running Airflow: the
``--workspace`` option and the client it names (cli/_common.py). Without a server: the live
behaviour is covered by tests/system/test_rest_trigger.py."""

from __future__ import annotations

import json

import pytest

from airflow_azml.cli import main
from airflow_azml.exceptions import WorkspaceConfigError

COMMANDS = [["submit", "my_dag"], ["runs", "my_dag"], ["logs", "my_dag", "some_run"]]


@pytest.mark.parametrize("argv", COMMANDS, ids=lambda argv: argv[0])
def test_each_rest_command_takes_the_workspace_option(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([argv[0], "--help"])
    assert exit_info.value.code == 0
    assert "--workspace" in capsys.readouterr().out


@pytest.mark.parametrize("argv", COMMANDS, ids=lambda argv: argv[0])
def test_a_workspace_without_airflow_says_how_to_configure_one(argv, tmp_path, azml_home, monkeypatch):
    for name in ("AZML_AIRFLOW_URL", "AZML_AIRFLOW_USERNAME", "AZML_AIRFLOW_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "config.json").write_text(json.dumps({"workspace_name": "w"}))
    with pytest.raises(WorkspaceConfigError, match="'airflow' section with base_url"):
        main([*argv, "--workspace", str(tmp_path / "config.json")])
