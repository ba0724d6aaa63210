"""Workspace discovery, datastores, compute targets and dataset registration on the local default."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_azml.core import ComputeTarget, Dataset, Datastore, Workspace
from airflow_azml.core.compute import AmlCompute, ComputeTargetException
from airflow_azml.exceptions import (
    DatasetNotFoundError,
    PathEscapeError,
    UserErrorException,
    WorkspaceConfigError,
)
from tests.conftest import write


def test_default_local_workspace(azml_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    ws = Workspace.from_config()
    assert (ws.name, ws.resource_group, ws.subscription_id, ws.location) == (
        "local",
        "local",
        "local",
        "local",
    )
    ds = ws.get_default_datastore()
    assert ds.name == "workspaceblobstore" and ds.datastore_type == "Local"
    assert ds.root == azml_home / "datastores" / "workspaceblobstore"


def test_config_found_beside_the_calling_file_not_the_cwd(workspace_dir: Path, tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    dag = write(
        workspace_dir / "dags" / "f.py",
        "from airflow_azml.core import Workspace\nws = Workspace.from_config()\n",
    )
    import runpy

    ws = runpy.run_path(str(dag))["ws"]
    assert ws.name == "test-ws"
    assert list(ws.compute_targets) == ["cpu"]


def test_unreadable_config_is_a_clear_error(tmp_path: Path, azml_home: Path):
    write(tmp_path / "config.json", "{not json")
    with pytest.raises(WorkspaceConfigError, match="Cannot read the workspace file"):
        Workspace.from_config(tmp_path)


def test_unknown_datastore_lists_known_ones(workspace_dir: Path):
    ws = Workspace.from_config(workspace_dir)
    with pytest.raises(
        WorkspaceConfigError,
        match=r"No datastore named 'workspaceblobstor'.*Did you mean "
        r"'workspaceblobstore'.*Known datastores: workspaceblobstore",
    ):
        Datastore(ws, "workspaceblobstor")


def test_compute_target_lookup_and_v1_provisioning_pattern(workspace_dir: Path):
    ws = Workspace.from_config(workspace_dir)
    assert AmlCompute(ws, "cpu").routing() == {"queue": "cpu", "retries": 0}
    with pytest.raises(ComputeTargetException, match="Known targets: cpu"):
        ComputeTarget(ws, "gpu-cluster")
    try:
        target = AmlCompute(ws, "gpu-cluster")
    except ComputeTargetException:
        config = AmlCompute.provisioning_configuration(vm_size="STANDARD_NC6", max_nodes=4)
        target = ComputeTarget.create(ws, "gpu-cluster", config)
        target.wait_for_completion(show_output=False)
    assert target.name == "gpu-cluster" and "gpu-cluster" in ws.compute_targets


def test_upload_download_and_path_escapes(workspace_dir: Path, tmp_path: Path):
    ws = Workspace.from_config(workspace_dir)
    ds = ws.get_default_datastore()
    src = tmp_path / "src"
    write(src / "a.csv", "x\n1\n")
    write(src / "sub" / "b.csv", "x\n2\n")
    ref = ds.upload(str(src), target_path="raw", show_progress=False)
    assert (ref.datastore_name, ref.path_on_datastore) == ("workspaceblobstore", "raw")
    assert ds.store.list_files("raw") == ["raw/a.csv", "raw/sub/b.csv"]
    ds.upload_files([str(src / "a.csv")], target_path="single", overwrite=True, show_progress=False)
    assert ds.download(str(tmp_path / "dl"), prefix="raw", show_progress=False) == 2
    assert (tmp_path / "dl" / "raw" / "sub" / "b.csv").read_text() == "x\n2\n"
    for bad in ("../outside", "/etc", "a/../../b", "abfs://x@y/z"):
        with pytest.raises(PathEscapeError, match="Nothing was read or written"):
            ds.upload(str(src), target_path=bad, show_progress=False)
    assert not (Path(ds.root).parent / "outside").exists()


def test_register_and_get_by_name_versions(workspace_dir: Path):
    ws = Workspace.from_config(workspace_dir)
    ds = ws.get_default_datastore()
    write(Path(ds.root) / "t" / "1.csv", "a,b\n1,2\n")
    write(Path(ds.root) / "t" / "2.csv", "a,b\n3,4\n")
    tab = Dataset.Tabular.from_delimited_files(path=[(ds, "t/*.csv")])
    v1 = tab.register(ws, "table")
    assert v1.version == 1 and tab.register(ws, "table").version == 1  # same definition: same version
    other = Dataset.Tabular.from_delimited_files(path=[(ds, "t/1.csv")])
    with pytest.raises(UserErrorException, match="create_new_version=True"):
        other.register(ws, "table")
    assert other.register(ws, "table", create_new_version=True).version == 2
    latest = Dataset.get_by_name(ws, "table")
    assert latest.to_pandas_dataframe().to_dict("list") == {"a": [1], "b": [2]}
    first = Dataset.get_by_name(ws, "table", version=1)
    assert first.to_pandas_dataframe()["a"].tolist() == [1, 3]
    assert first.take(1).to_pandas_dataframe()["a"].tolist() == [1]
    with pytest.raises(DatasetNotFoundError, match="Did you mean 'table'"):
        Dataset.get_by_name(ws, "tabel").to_pandas_dataframe()


def test_declared_dataset_in_workspace_file(tmp_path: Path, azml_home: Path):
    write(tmp_path / "data" / "d.csv", "k\n5\n")
    (tmp_path / "config.json").write_text(
        json.dumps(
            {
                "datastores": {"seed": {"type": "local", "path": "data"}},
                "datasets": {"d": {"type": "tabular", "datastore": "seed", "path": "d.csv"}},
            }
        )
    )
    ws = Workspace.from_config(tmp_path)
    assert Dataset.get_by_name(ws, "d").to_pandas_dataframe()["k"].tolist() == [5]
