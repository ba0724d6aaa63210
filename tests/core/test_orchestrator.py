"""The orchestrator port (issue #13): its tables name real adapters in the right layers, each adapter
has every method of the port, and the workspace alone chooses the adapter."""

from __future__ import annotations

import inspect
import json
import tomllib
from pathlib import Path

import pytest

from airflow_azml.core import _orchestrator
from airflow_azml.core._orchestrator import ADAPTERS, AIRFLOW_SIDE, Orchestrator, RunStates, orchestrator
from airflow_azml.core.workspace import Workspace
from airflow_azml.exceptions import UserErrorException, WorkspaceConfigError

REPO = Path(__file__).resolve().parents[2]


def _layers() -> list[set[str]]:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]
    contract = next(c for c in config["contracts"] if c["id"] == "layers")
    return [{n.strip() for n in layer.split(":")} for layer in contract["layers"]]


def _top(module: str) -> str:
    return module.split(".")[1]


def test_every_name_the_port_binds_resolves_above_the_model():
    """The tables are the only upward bindings of the model: each names an existing object in the
    Airflow side or the REST client, never in the model's own layer (that would hide an import)."""
    layers = _layers()
    model = next(i for i, layer in enumerate(layers) if "core" in layer)
    for target in [*ADAPTERS.values(), *AIRFLOW_SIDE.values()]:
        module, _, name = target.partition(":")
        level = next(i for i, layer in enumerate(layers) if _top(module) in layer)
        assert level < model, f"{target} is not above the model layer"
    for kind in ADAPTERS:
        assert inspect.isclass(_orchestrator._resolve(ADAPTERS[kind]))


@pytest.mark.parametrize("kind", sorted(ADAPTERS))
def test_each_adapter_has_every_method_of_the_port(kind):
    cls = _orchestrator._resolve(ADAPTERS[kind])
    port_methods = {
        name for name, value in vars(Orchestrator).items() if callable(value) and not name.startswith("_")
    }
    assert port_methods == {
        "submit",
        "trigger",
        "attach",
        "list_runs",
        "require_deployed",
        "set_paused",
        "put_connection",
        "authentication_header",
        "asset_id",
        "post_asset_event",
    }
    for name in port_methods:
        ours, theirs = inspect.signature(getattr(cls, name)), inspect.signature(getattr(Orchestrator, name))
        assert list(ours.parameters) == list(theirs.parameters), (
            f"{cls.__name__}.{name}{ours} != port{theirs}"
        )
    assert cls.kind == kind


def _workspace(tmp_path: Path, airflow: dict | None = None) -> Workspace:
    config = {
        "workspace_name": "ws",
        "datastores": {"workspaceblobstore": {"type": "local", "path": str(tmp_path / "store")}},
    }
    if airflow:
        config["airflow"] = airflow
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "config.json").write_text(json.dumps(config))
    return Workspace.from_config(tmp_path / "config.json")


def test_the_workspace_chooses_the_adapter(tmp_path, monkeypatch):
    monkeypatch.delenv("AZML_AIRFLOW_URL", raising=False)
    local = orchestrator(_workspace(tmp_path / "a"))
    assert local.kind == "local" and isinstance(local, Orchestrator)
    remote = orchestrator(_workspace(tmp_path / "b", {"base_url": "http://127.0.0.1:9", "username": "u"}))
    assert remote.kind == "rest" and isinstance(remote, Orchestrator)
    monkeypatch.setenv("AZML_AIRFLOW_URL", "http://127.0.0.1:9")
    assert orchestrator(_workspace(tmp_path / "c")).kind == "rest"
    assert orchestrator(_workspace(tmp_path / "c"), "local").kind == "local"


def test_the_local_adapter_says_what_needs_a_running_airflow(tmp_path, monkeypatch):
    monkeypatch.delenv("AZML_AIRFLOW_URL", raising=False)
    local = orchestrator(_workspace(tmp_path))
    for call in (
        lambda: local.trigger("p", {}),
        lambda: local.list_runs("p"),
        lambda: local.require_deployed("p"),
    ):
        with pytest.raises(WorkspaceConfigError, match="AZML_AIRFLOW_URL"):
            call()
    local.set_paused("p", True)  # nothing to mirror on the embedded Airflow
    with pytest.raises(UserErrorException, match="experiment_name="):
        local.attach("manual__1", None)
    with pytest.raises(UserErrorException, match="No run 'manual__1' of experiment 'exp'"):
        local.attach("manual__1", "exp")


def test_a_recorded_run_is_attached_with_its_steps(tmp_path, monkeypatch):
    """A run this process did not start: the local adapter reads its steps from the run records."""
    from airflow_azml.execution.records import RunRecords

    monkeypatch.delenv("AZML_AIRFLOW_URL", raising=False)
    monkeypatch.setenv("AZML_AIRFLOW_HOME", str(tmp_path / "airflow"))
    ws = _workspace(tmp_path)
    records = RunRecords(ws.get_default_datastore().store, "exp", "manual__1")
    records.write_step("prep", {"name": "prep step", "status": "Finished"})
    states, plan = orchestrator(ws).attach("manual__1", "exp")
    assert isinstance(states, RunStates)
    assert plan["steps"]["prep"]["name"] == "prep step"
    assert states.state() == "success" and states.run_id() == "manual__1"
