"""DatastoreChangeTrigger, the event trigger of datastore schedules and registry assets, run here as
the triggerer runs it (its async generator, real datastores); and the Assets it is attached to.
The live triggerer runs it in tests/system/test_rest_trigger.py and tests/system/test_asset_schedules_live.py."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest

from airflow_azml.core import Dataset, Workspace
from airflow_azml.provider.triggers import DatastoreChangeTrigger, _watch_spec, dataset_asset, folder_asset
from tests.conftest import write


class _StateStore:
    """Stands for the triggerer's AssetStateStoreAccessors of one asset (the DB behind it in Airflow)."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def _single_accessor(self) -> _StateStore:
        return self

    async def aget(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    async def aset(self, key: str, value: Any) -> None:
        self.values[key] = value


async def _next(gen: Any, timeout: float = 10) -> dict[str, Any]:
    return (await asyncio.wait_for(gen.__anext__(), timeout)).payload


def _trigger(ws: Workspace, folder: str, watch: str = "blobs") -> DatastoreChangeTrigger:
    name = ws.get_default_datastore().name
    trigger = DatastoreChangeTrigger(_watch_spec(ws.to_spec(), name), name, folder, watch, 0.05)
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_azml.provider.triggers.DatastoreChangeTrigger"
    return DatastoreChangeTrigger(**kwargs)  # as the triggerer builds it from the DB


def test_blob_watch_fires_once_per_new_or_changed_blob_and_keeps_its_state(workspace_dir) -> None:
    ws = Workspace.from_config(workspace_dir)
    root = ws.get_default_datastore().root
    for rel, text in (("in/a.csv", "1"), ("in/b.csv", "22"), ("in/sub/c.csv", "3"), ("in/.tmp", "x")):
        write(root / rel, text)
    state = _StateStore()

    async def first_trigger() -> list[dict[str, Any]]:
        trigger = _trigger(ws, "in")
        trigger.asset_state_store = state
        gen = trigger.run()
        found = [await _next(gen), await _next(gen)]  # what is there when the watch starts
        write(root / "in" / "a.csv", "changed")  # a new version of a
        os.utime(root / "in" / "a.csv", ns=(1, 1))  # another mtime even on a coarse clock
        write(root / "in" / "d.csv", "4")
        found += [await _next(gen), await _next(gen)]  # b, unchanged, is not in between
        with pytest.raises(TimeoutError):  # nothing changed: no event in several looks
            await _next(gen, timeout=0.4)
        return found

    found = asyncio.run(first_trigger())
    assert [(f["path"], f["datastore"]) for f in found] == [
        ("in/a.csv", "workspaceblobstore"),
        ("in/b.csv", "workspaceblobstore"),
        ("in/a.csv", "workspaceblobstore"),
        ("in/d.csv", "workspaceblobstore"),
    ]
    assert found[0]["version"] != found[2]["version"]

    async def restarted() -> dict[str, Any]:  # a new trigger (triggerer restart) with the kept state
        trigger = _trigger(ws, "in")
        trigger.asset_state_store = state
        gen = trigger.run()
        write(root / "in" / "e.csv", "5")
        event = await _next(gen)
        await gen.aclose()
        return event

    assert asyncio.run(restarted())["path"] == "in/e.csv"  # nothing seen before the restart fires again


def test_version_watch_fires_per_new_registered_version_only(workspace_dir) -> None:
    ws = Workspace.from_config(workspace_dir)
    store = ws.get_default_datastore()
    write(store.root / "data" / "x.csv", "a\n1\n")
    ds = Dataset.File.from_files((store, "data/*.csv"))
    ds.register(ws, "raw")  # version 1, before the watch starts: no event

    async def watch() -> list[dict[str, Any]]:
        gen = _trigger(ws, ".azml/datasets/raw", "versions").run()
        first = asyncio.ensure_future(gen.__anext__())
        await asyncio.sleep(0.3)  # several looks: nothing new
        assert not first.done()
        ds.register(ws, "raw", tags={"v": "1"})  # the same definition: no new version
        Dataset.File.from_files((store, "data/x.csv")).register(ws, "raw", create_new_version=True)
        event = (await asyncio.wait_for(first, 10)).payload
        await gen.aclose()
        return [event]

    assert asyncio.run(watch()) == [{"kind": "datasets", "name": "raw", "version": 2}]


def test_assets_name_the_registry_and_the_folder_and_carry_their_watcher(workspace_dir) -> None:
    ws = Workspace.from_config(workspace_dir)
    asset = dataset_asset(ws, "my data")
    assert asset.uri == "azureml://workspaces/test-ws/datasets/my%20data" and asset.group == "dataset"
    (watcher,) = asset.watchers
    assert watcher.trigger.folder == ".azml/datasets/my data" and watcher.trigger.watch == "versions"
    # the same asset whichever way the workspace is given: one trigger in Airflow, not two
    assert (
        dataset_asset(ws.to_spec(), "my data").watchers[0].trigger.serialize() == watcher.trigger.serialize()
    )
    folder = folder_asset(ws, "workspaceblobstore", "incoming", 60.0, "azml_sched_x")
    assert folder.uri == f"file:///{str(ws.get_default_datastore().root).strip('/')}/incoming"
    assert folder.watchers[0].name == "azml_sched_x" and folder.watchers[0].trigger.poll_interval == 60.0


def test_to_dag_schedules_on_a_registered_dataset(workspace_dir) -> None:
    from airflow_azml.pipeline.core import Pipeline
    from airflow_azml.pipeline.steps import PythonScriptStep

    ws = Workspace.from_config(workspace_dir)
    write(workspace_dir / "s" / "a.py", "print(1)\n")
    raw = Dataset.get_by_name(ws, "raw")
    step = PythonScriptStep(
        "a.py", name="a", source_directory=str(workspace_dir / "s"), inputs=[raw.as_named_input("raw")]
    )
    dag = Pipeline(ws, [step]).to_dag("on_data", schedule=[raw])
    (asset,) = dag.timetable.asset_condition.objects
    assert asset.uri == "azureml://workspaces/test-ws/datasets/raw" and asset.watchers
    # the step's inlet is the same asset with the same watcher: Airflow keeps one declaration per
    # asset, and an inlet without it would drop the schedule's watcher
    (inlet,) = dag.get_task("a").inlets
    assert (
        inlet.uri == asset.uri
        and inlet.watchers[0].trigger.serialize() == asset.watchers[0].trigger.serialize()
    )
    unregistered = Dataset.File.from_files((ws.get_default_datastore(), "data/*.csv"))
    with pytest.raises(Exception, match="only a registered dataset has versions"):
        Pipeline(ws, [step]).to_dag("on_files", schedule=[unregistered])


def test_version_watch_leaves_a_task_announced_version_to_its_task(workspace_dir) -> None:
    """A register_on_complete version is its task's asset event (through an AssetAlias), and a register
    on a running Airflow posts its own; the watch announces neither again, and does announce the next
    version registered elsewhere."""
    from airflow_azml.data.registry import register_dataset

    ws = Workspace.from_config(workspace_dir)
    definition = {"kind": "file", "paths": [{"datastore": "workspaceblobstore", "path": "a"}], "options": {}}
    register_dataset(ws, definition, "out", None, None, True)

    async def watch() -> dict[str, Any]:
        gen = _trigger(ws, ".azml/datasets/out", "versions").run()
        first = asyncio.ensure_future(gen.__anext__())
        await asyncio.sleep(0.2)
        by = {"pipeline_run_id": "r1", "task_id": "c", "step": "c", "announced_by": "task"}
        register_dataset(ws, {**definition, "paths": [{"path": "b"}]}, "out", None, None, True, by)
        await asyncio.sleep(0.3)  # several looks: version 2 is the task's to announce
        # version 3: a register outside a step posted its event itself (data/announce.py)
        by = {"announced_by": "register"}
        register_dataset(ws, {**definition, "paths": [{"path": "c"}]}, "out", None, None, True, by)
        await asyncio.sleep(0.3)
        assert not first.done()
        register_dataset(ws, {**definition, "paths": [{"path": "d"}]}, "out", None, None, True)
        event = (await asyncio.wait_for(first, 10)).payload
        await gen.aclose()
        return event

    assert asyncio.run(watch()) == {"kind": "datasets", "name": "out", "version": 4}


@pytest.mark.slow
def test_register_on_complete_is_an_event_of_the_dataset_asset(embedded_airflow_home, workspace_dir) -> None:
    """A run of a step whose output is registered on completion adds the dataset's new version as
    an asset event through the task's AssetAlias; a reused run registers nothing and adds none."""
    from airflow_azml.compiler import compile_pipeline
    from airflow_azml.core import Experiment
    from airflow_azml.data.output_dataset_config import OutputFileDatasetConfig
    from airflow_azml.pipeline.core import Pipeline
    from airflow_azml.pipeline.steps import PythonScriptStep
    from airflow_azml.provider.operators.render import render_dag
    from tests.support.assets import embedded_asset_events

    ws = Workspace.from_config(workspace_dir)
    write(
        workspace_dir / "src" / "w.py",
        "import os, sys\nos.makedirs(sys.argv[1], exist_ok=True)\nopen(sys.argv[1] + '/a.txt', 'w').write('hi')\n",
    )
    out = OutputFileDatasetConfig(name="cleaned").register_on_complete("cleaned_data")
    step = PythonScriptStep("w.py", name="w", arguments=[out], source_directory=str(workspace_dir / "src"))
    pipeline = Pipeline(ws, [step])
    dag = render_dag(compile_pipeline(pipeline, "registering"))
    aliases = [o.name for o in dag.get_task("w").outlets if type(o).__name__ == "AssetAlias"]
    assert aliases == ["azml-register:azureml://workspaces/test-ws/datasets/cleaned_data"]

    for _ in range(2):  # the second run is reused
        run = Experiment(ws, "registering").submit(Pipeline(ws, [step]))
        assert run.wait_for_completion(show_output=False) == "Finished"
    events = [
        e
        for e in embedded_asset_events(embedded_airflow_home, "registering")
        if e["uri"] == "azureml://workspaces/test-ws/datasets/cleaned_data"
    ]
    assert len(events) == 1
    extra = events[0]["extra"]
    assert (extra["name"], extra["version"], extra["output"], extra["step"]) == (
        "cleaned_data",
        1,
        "cleaned",
        "w",
    )
    assert extra["path"] and extra["reused"] is False
    record = Dataset.get_by_name(ws, "cleaned_data").resolve()
    assert record.version == 1


def test_model_versions_are_events_naming_the_run_that_registered_them(workspace_dir, tmp_path) -> None:
    from airflow_azml.core.model import Model

    ws = Workspace.from_config(workspace_dir)
    write(tmp_path / "model.pkl", "weights")
    Model.register(ws, str(tmp_path / "model.pkl"), "churn")

    async def watch() -> dict[str, Any]:
        gen = _trigger(ws, ".azml/models/churn", "versions").run()
        first = asyncio.ensure_future(gen.__anext__())
        await asyncio.sleep(0.2)
        Model.register(ws, str(tmp_path / "model.pkl"), "churn", _run_id="train_run_7")
        event = (await asyncio.wait_for(first, 10)).payload
        await gen.aclose()
        return event

    assert asyncio.run(watch()) == {
        "kind": "models",
        "name": "churn",
        "version": 2,
        "registered_by": {"run_id": "train_run_7"},
    }


def test_a_registration_inside_a_step_names_its_step_run(workspace_dir, tmp_path, monkeypatch) -> None:
    """Dataset.register in a step's script: the record (and so the watch's event) names the step run."""
    import json

    from airflow_azml.data.registry import dataset_record

    ws = Workspace.from_config(workspace_dir)
    context = tmp_path / "context.json"
    context.write_text(json.dumps({"run_id": "run1_prep", "parent_run_id": "run1", "step_name": "prep"}))
    monkeypatch.setenv("AZML_RUN_CONTEXT", str(context))
    write(ws.get_default_datastore().root / "d" / "x.csv", "a\n1\n")
    Dataset.File.from_files((ws.get_default_datastore(), "d/x.csv")).register(ws, "from_step")
    record = dataset_record(ws, "from_step")
    assert record["registered_by"] == {"step_run_id": "run1_prep", "pipeline_run_id": "run1", "step": "prep"}
