"""ws.experiments and Experiment.list / get_runs read the run records of that workspace only."""

from __future__ import annotations

import json
from pathlib import Path

from airflow_azml.core import Experiment, Workspace


def _record(ws: Workspace, experiment: str, run: str) -> None:
    store = ws.get_default_datastore().store
    store.write_bytes(f".azml/runs/{experiment}/{run}/prep.json", json.dumps({"status": "Finished"}).encode())


def _workspace(folder: Path, name: str) -> Workspace:
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"workspace_name": name}))
    return Workspace.from_config(path=str(folder))


def test_experiments_lists_recorded_ones_and_gives_any_named_one(tmp_path: Path, azml_home: Path) -> None:
    ws = _workspace(tmp_path / "a", "ws-a")
    other = _workspace(tmp_path / "b", "ws-b")
    _record(ws, "train_exp", "manual__1")
    _record(ws, "train_exp", "manual__2")
    _record(other, "other_exp", "manual__1")

    assert sorted(ws.experiments) == ["train_exp"]
    assert [e.name for e in Experiment.list(ws)] == ["train_exp"]
    assert [e.name for e in Experiment.list(other)] == ["other_exp"]
    assert Experiment.list(ws, experiment_name="nope") == []
    rest = ws.experiments["MyRestPipeline"]  # named by a REST submit: exists as soon as a run names it
    assert (rest.name, rest.workspace) == ("MyRestPipeline", ws)
    assert "MyRestPipeline" not in ws.experiments
    runs = [r.id for r in ws.experiments["train_exp"].get_runs()]
    assert runs == ["manual__2", "manual__1"]
