"""The workspace registry (``airflow_azml/core/registry.py``): one place for ids, paths, read, list,
write and delete of every kind of record on the workspace's default datastore, keyed (published
pipelines, submitted plans, endpoints, schedules, drafts, modules, registered datastores, saved
datasets) and versioned (datasets, models, environments)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_azml.core import Dataset, Datastore, Environment, Workspace, registry
from airflow_azml.core.model import Model
from airflow_azml.data.saved import save_datasets
from airflow_azml.pipeline.core import (
    Module,
    Pipeline,
    PipelineDraft,
    PipelineEndpoint,
    PublishedPipeline,
    Schedule,
    ScheduleRecurrence,
)
from airflow_azml.pipeline.core.published import write_submitted_plan
from airflow_azml.pipeline.steps import PythonScriptStep
from tests.conftest import write

KEYED = {
    "pipelines",
    "submitted",
    "endpoints",
    "schedules",
    "drafts",
    "modules",
    "datastores",
    "saved_datasets",
}
VERSIONED = {"datasets", "models", "environments"}


@pytest.fixture
def ws(tmp_path):
    store = tmp_path / "store"
    config = {
        "workspace_name": "ws",
        "datastores": {"workspaceblobstore": {"type": "local", "path": str(store)}},
    }
    (tmp_path / "config.json").write_text(json.dumps(config))
    return Workspace.from_config(tmp_path / "config.json")


@pytest.mark.parametrize(
    ("text", "ident"),
    [("train pipe-v1", "train_pipe-v1"), ("__x__", "x"), ("a/b\\c", "a_b_c"), ("", "x"), ("ok.v2", "ok.v2")],
)
def test_ids_are_safe_and_stable(text, ident):
    assert registry.safe_id(text) == ident
    assert registry.safe_id(ident) == ident


def test_every_kind_has_one_folder():
    assert set(registry.KINDS) == KEYED | VERSIONED and registry.VERSIONED_KINDS == VERSIONED
    assert registry.record_path("pipelines", "p v1") == ".azml/published/pipelines/p_v1.json"
    assert registry.record_path("modules", "abc") == ".azml/modules/abc.json"
    # datastore names and dataset ids are stored as given, as they always were
    assert registry.record_path("datastores", "my store") == ".azml/datastores/my store.json"
    # versioned names are stored as given (a dataset may be called "my data")
    assert registry.record_path("datasets", "my data", 3) == ".azml/datasets/my data/3.json"
    assert registry.folder("models", "churn") == ".azml/models/churn"
    assert registry.record_path("environments", "env", 1) == ".azml/environments/env/1.json"
    with pytest.raises(ValueError, match="is versioned: give the version of 'env'"):
        registry.record_path("environments", "env")
    with pytest.raises(ValueError, match="has no versions"):
        registry.record_path("drafts", "d", 1)
    with pytest.raises(ValueError, match=r"Unknown registry kind 'model'.*models"):
        registry.folder("model")
    with pytest.raises(ValueError, match="not versioned"):
        registry.VersionedRegistry(object(), "schedules")


def test_records_round_trip_on_the_default_datastore(ws, tmp_path):
    assert registry.entries(ws, "drafts") == [] and registry.read(ws, "drafts", "d1") is None
    registry.write(ws, "drafts", "d 1", {"id": "d 1", "n": 1})
    registry.write(ws, "drafts", "d2", {"id": "d2", "n": 2})
    (tmp_path / "store" / ".azml/published/drafts/nested").mkdir()
    (tmp_path / "store" / ".azml/published/drafts/nested/not_a_record.json").write_text("{}")
    assert (tmp_path / "store" / ".azml/published/drafts/d_1.json").is_file()
    assert registry.read(ws, "drafts", "d 1") == {"id": "d 1", "n": 1}
    assert registry.exists(ws, "drafts", "d 1") and not registry.exists(ws, "drafts", "d3")
    assert sorted(e["n"] for e in registry.entries(ws, "drafts")) == [1, 2]
    registry.delete(ws, "drafts", "d 1")
    assert [e["id"] for e in registry.entries(ws, "drafts")] == ["d2"]
    assert registry.entries(ws, "schedules") == []


def test_versioned_records_round_trip_on_the_default_datastore(ws, tmp_path):
    assert registry.entries(ws, "models") == [] and registry.names(ws, "models") == set()
    for name, version in (("b", 1), ("a", 2), ("a", 1), ("a", 10)):
        registry.write(ws, "models", name, {"name": name, "version": version}, version=version)
    (tmp_path / "store" / ".azml/models/a/notes.txt").write_text("not a version")
    assert registry.versions(ws, "models", "a") == [1, 2, 10] and registry.names(ws, "models") == {"a", "b"}
    listed = [(e["name"], e["version"]) for e in registry.entries(ws, "models")]
    assert listed == [("a", 1), ("a", 2), ("a", 10), ("b", 1)]
    assert registry.read(ws, "models", "a", 10) == {"name": "a", "version": 10}
    assert registry.read(ws, "models", "a", 3) is None and not registry.exists(ws, "models", "a", 3)
    registry.delete(ws, "models", "a", 10)
    assert registry.versions(ws, "models", "a") == [1, 2] and registry.entries(ws, "datasets") == []


def test_the_old_import_paths_name_the_one_registry():
    from airflow_azml.data import registry as data_registry
    from airflow_azml.data import watch
    from airflow_azml.pipeline.core import registry as old

    assert (old.read, old.write, old.entries, old.safe_id, old.KINDS) == (
        registry.read,
        registry.write,
        registry.entries,
        registry.safe_id,
        registry.KINDS,
    )
    assert data_registry.VersionedRegistry is registry.VersionedRegistry
    assert watch.stored_versions is registry.stored_versions
    assert watch.registry_folder("datasets", "raw") == registry.folder("datasets", "raw")


def _pipeline(ws: Workspace, folder: Path) -> Pipeline:
    write(folder / "src" / "a.py", "print(1)\n")
    return Pipeline(ws, [PythonScriptStep("a.py", name="a", source_directory=str(folder / "src"))])


def _publish_every_kind(ws: Workspace, folder: Path) -> dict[str, tuple[str, int | None]]:
    """One record of every kind, each made through the v1 API; kind -> (id or name, version)."""
    pipeline = _pipeline(ws, folder)
    published = pipeline.publish(name="p")
    endpoint = PipelineEndpoint.publish(ws, "ep", "an endpoint", published)
    daily = ScheduleRecurrence(frequency="Day", interval=1)
    schedule = Schedule.create(
        ws, name="daily", pipeline_id=published.id, experiment_name="e", recurrence=daily
    )
    draft = PipelineDraft.create(ws, name="d", description="", experiment_name="e", pipeline=pipeline)
    module = Module.create(ws, name="m", description="a module")
    write_submitted_plan(ws, {**published.plan, "dag_id": "e_submitted"})
    store = ws.get_default_datastore()
    write(Path(store.root) / "raw" / "a.csv", "x\n1\n")
    dataset = Dataset.File.from_files((store, "raw/a.csv")).register(ws, "raw_data")
    model = Model.register(ws, str(write(folder / "model.txt", "weights")), "churn")
    environment = Environment("env").register(ws)
    extra = Datastore.register_local(ws, "extra", str(folder / "extra"))
    web = Dataset.File.from_files("https://example.invalid/iris.csv")
    save_datasets(ws, [web])  # what Experiment.submit does with an unregistered dataset it is given
    return {
        "pipelines": (published.id, None),
        "endpoints": (endpoint.id, None),
        "schedules": (schedule.id.removeprefix("azml_sched__"), None),
        "drafts": (draft.id, None),
        "modules": (module.id, None),
        "submitted": ("e_submitted", None),
        "datastores": (extra.name, None),
        "saved_datasets": (web.id, None),
        "datasets": (dataset.name, dataset.version),
        "models": (model.name, model.version),
        "environments": (environment.name, int(environment.version)),
    }


def test_every_kind_written_through_the_v1_api_is_a_record_of_the_one_registry(workspace_dir, tmp_path):
    ws = Workspace.from_config(workspace_dir)
    made = _publish_every_kind(ws, tmp_path)
    assert set(made) == set(registry.KINDS)
    root = Path(ws.get_default_datastore().root)
    for kind, (ident, version) in made.items():
        path = root / registry.record_path(kind, ident, version)
        record = registry.read(ws, kind, ident, version)
        assert record is not None and json.loads(path.read_bytes()) == record, kind
        assert record in registry.entries(ws, kind), kind
        # the bytes are those the registries this one replaced always wrote: old workspaces read alike
        indent = 2 if kind in registry.VERSIONED_KINDS | {"datastores"} else 1
        assert path.read_bytes() == json.dumps(record, indent=indent, default=str).encode(), kind
    # and the v1 API lists what the registry holds
    assert [p.id for p in PublishedPipeline.list(ws)] == [made["pipelines"][0]]
    assert [e.id for e in PipelineEndpoint.list(ws)] == [made["endpoints"][0]]
    assert [s.id for s in Schedule.list(ws)] == [f"azml_sched__{made['schedules'][0]}"]
    assert [d.id for d in PipelineDraft.list(ws)] == [made["drafts"][0]]
    assert Module.get(ws, name="m").id == made["modules"][0]
    assert list(Dataset.get_all(ws)) == ["raw_data"] and registry.names(ws, "datasets") == {"raw_data"}
    assert [m.id for m in Model.list(ws)] == ["churn:1"] and registry.versions(ws, "models", "churn") == [1]
    assert list(Environment.list(ws)) == ["env"] and registry.versions(ws, "environments", "env") == [1]
    # another process finds the registered datastore and the saved dataset through the registry
    again = Workspace.from_config(workspace_dir)
    assert Datastore(again, "extra").root == Path(tmp_path / "extra").resolve()
    assert (
        Dataset.get_by_id(again, made["saved_datasets"][0]).definition
        == registry.read(ws, "saved_datasets", made["saved_datasets"][0])["definition"]
    )
    # a second workspace has a registry of its own: none of these records
    other = workspace_dir.parent / "other"
    write(other / "config.json", json.dumps({"workspace_name": "other-ws"}))
    assert all(registry.entries(Workspace.from_config(other), kind) == [] for kind in registry.KINDS)
