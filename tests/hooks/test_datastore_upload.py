"""datastore.upload / upload_files land files where v1 puts them, on a local folder and on Blob (Azurite)."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_azml.core import Datastore, Workspace
from airflow_azml.exceptions import DatastoreError
from tests.conftest import write


@pytest.fixture(params=["local", "blob"])
def datastore(request: pytest.FixtureRequest, azml_home: Path, tmp_path: Path) -> Datastore:
    ws = Workspace()
    if request.param == "local":
        return Datastore.register_local(ws, "files", str(tmp_path / "store"))
    conn_id, container = request.getfixturevalue("blob_conn"), request.getfixturevalue("container")
    return Datastore.register_azure_blob_container(
        ws, "files", container_name=container, account_name="devstoreaccount1", conn_id=conn_id
    )


def _tree(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    write(src / "a.csv", "a1")
    write(src / "sub" / "b.csv", "b1")
    return src


def test_upload_a_folder(datastore: Datastore, tmp_path: Path) -> None:
    src = _tree(tmp_path)
    ref = datastore.upload(src_dir=str(src), target_path="data/raw", overwrite=False, show_progress=False)
    assert (ref.datastore_name, ref.path_on_datastore) == ("files", "data/raw")
    # the folder's content (not the folder itself) under target_path, sub-folders kept
    assert datastore.store.list_files("data") == ["data/raw/a.csv", "data/raw/sub/b.csv"]
    write(src / "a.csv", "a2")
    datastore.upload(src_dir=str(src), target_path="data/raw", overwrite=False, show_progress=False)
    assert datastore.store.read_bytes("data/raw/a.csv") == b"a1"  # existing files are kept
    datastore.upload(src_dir=str(src), target_path="data/raw", overwrite=True, show_progress=False)
    assert datastore.store.read_bytes("data/raw/a.csv") == b"a2"
    datastore.upload(str(src / "sub"), show_progress=False)  # no target_path: the root
    assert datastore.store.read_bytes("b.csv") == b"b1"
    with pytest.raises(DatastoreError, match="not a folder"):
        datastore.upload(str(src / "a.csv"))


def test_upload_files_keeps_paths_below_relative_root(datastore: Datastore, tmp_path: Path) -> None:
    src = _tree(tmp_path)
    files = [str(src / "a.csv"), str(src / "sub" / "b.csv")]
    datastore.upload_files(files, relative_root=str(src), target_path="explicit", show_progress=False)
    assert datastore.store.list_files("explicit") == ["explicit/a.csv", "explicit/sub/b.csv"]
    # relative_root left out: the files' common folder, as v1
    datastore.upload_files(files, target_path="common", show_progress=False)
    assert datastore.store.list_files("common") == ["common/a.csv", "common/sub/b.csv"]
    datastore.upload_files([str(src / "sub" / "b.csv")], target_path="one", show_progress=False)
    assert datastore.store.list_files("one") == ["one/b.csv"]
    with pytest.raises(DatastoreError, match=r"relative_root=.* is not a folder of every file"):
        datastore.upload_files(files, relative_root=str(src / "sub"), target_path="x")
    with pytest.raises(DatastoreError, match="not a file"):
        datastore.upload_files([str(src / "missing.csv")])
