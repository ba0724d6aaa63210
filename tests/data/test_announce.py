"""data/announce.py off the happy path (the live one is in tests/system/test_rest_trigger.py): a
registration never fails because the running Airflow it names cannot be reached, and leaves the
version unmarked, for the registry watch to announce."""

from __future__ import annotations

import json
import logging
import socket
from pathlib import Path

from airflow_azml.core import Dataset, Model, Workspace
from tests.conftest import write


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_register_with_an_unreachable_airflow_leaves_the_version_to_the_watch(
    workspace_dir: Path, monkeypatch, caplog
) -> None:
    monkeypatch.setenv("AZML_AIRFLOW_URL", f"http://127.0.0.1:{_closed_port()}")
    monkeypatch.setenv("AZML_AIRFLOW_USERNAME", "admin")
    monkeypatch.setenv("AZML_AIRFLOW_PASSWORD", "x")
    ws = Workspace.from_config(workspace_dir)
    store = ws.get_default_datastore()
    write(Path(store.root) / "d" / "a.csv", "x\n1\n")
    write(workspace_dir / "model.txt", "weights")
    with caplog.at_level(logging.WARNING, logger="airflow_azml.data.announce"):
        ds = Dataset.File.from_files((store, "d/a.csv")).register(ws, "d")
        model = Model.register(ws, str(workspace_dir / "model.txt"), "m")
    assert (ds.version, model.version) == (1, 1)
    for rel in (".azml/datasets/d/1.json", ".azml/models/m/1.json"):
        assert "announced_by" not in json.dumps(json.loads(store.store.read_bytes(rel)))
    looked_up = [r.getMessage() for r in caplog.records]
    assert len(looked_up) == 2 and all("the registry watch announces it" in m for m in looked_up), looked_up
