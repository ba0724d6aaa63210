"""ObjectStore against a real Azurite blob service.

What Azurite cannot test (it has no DFS endpoint, so no hierarchical namespace): ADLS Gen2
directory semantics — real directories, atomic directory rename, POSIX ACLs, and
``abfs`` paths going through the dfs.core.windows.net API. An ``adls_gen2`` datastore uses the
same blob-endpoint code path tested here (adlfs speaks the Blob API to Gen2 accounts too), and
its publication protocol does not rely on rename, so the behaviour checked below is the one a
Gen2 account gets; ACLs and HNS-only features are untested.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from airflow_azml.exceptions import DatastoreError, PathEscapeError
from airflow_azml.provider.hooks.object_store import (
    COMMITTED_MARKER,
    INCOMING_PREFIX,
    PENDING_MARKER,
    ObjectStore,
)


@pytest.fixture
def store(blob_conn: str, container: str) -> ObjectStore:
    return ObjectStore(blob_conn, container)


def _tree(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


def test_put_get_list_version_delete(store: ObjectStore, tmp_path: Path) -> None:
    src = _tree(tmp_path / "src", {"a.txt": b"alpha", "sub/b.bin": b"\x00" * 5000})
    assert store.put(src, "data/in") == ["data/in/a.txt", "data/in/sub/b.bin"]
    assert store.exists("data/in") and store.is_dir("data/in") and not store.is_dir("data/in/a.txt")
    assert store.list_files("data") == ["data/in/a.txt", "data/in/sub/b.bin"]
    assert store.read_bytes("data/in/a.txt") == b"alpha"
    v1 = store.version("data/in")
    store.write_bytes("data/in/a.txt", b"changed")
    assert store.version("data/in") != v1
    out = store.get("data/in", tmp_path / "out")
    assert (out / "a.txt").read_bytes() == b"changed" and (out / "sub/b.bin").stat().st_size == 5000
    assert store.put(src, "data/in", overwrite=False) == []
    store.delete("data/in")
    assert not store.exists("data/in") and store.list_files("data") == []
    assert store.uri("x/y") == f"abfs://{store.conn_id}@{store.container}/x/y"


@pytest.mark.parametrize("bad", ["../other", "/etc/passwd", "abfs://x@y/z", "a/../../b", "C:/x"])
def test_escaping_paths_are_refused_and_nothing_is_written(
    store: ObjectStore, tmp_path: Path, bad: str
) -> None:
    src = _tree(tmp_path / "src", {"a.txt": b"x"})
    for call in (
        lambda: store.put(src, bad),
        lambda: store.write_bytes(bad, b"x"),
        lambda: store.commit(src, bad),
        lambda: store.read_bytes(bad),
        lambda: store.get(bad, tmp_path / "o"),
    ):
        with pytest.raises(PathEscapeError, match="Nothing was read or written"):
            call()
    assert store.list_files("") == []


def test_commit_publishes_folder_with_manifest_and_no_leftovers(store: ObjectStore, tmp_path: Path) -> None:
    old = _tree(tmp_path / "old", {"stale.txt": b"old", "keep.txt": b"old"})
    store.commit(old, "azureml/run/step/out")
    new = _tree(tmp_path / "new", {"keep.txt": b"new", "part/1.csv": b"a,b\n"})
    store.commit(new, "azureml/run/step/out")
    assert store.list_files("azureml/run/step/out") == [
        "azureml/run/step/out/keep.txt",
        "azureml/run/step/out/part/1.csv",
    ]
    assert store.read_bytes("azureml/run/step/out/keep.txt") == b"new"
    manifest = json.loads(store.read_bytes(f"azureml/run/step/out/{COMMITTED_MARKER}"))
    assert manifest["files"] == ["keep.txt", "part/1.csv"]
    assert store.list_files(INCOMING_PREFIX) == []


def test_commit_single_file(store: ObjectStore, tmp_path: Path) -> None:
    f = tmp_path / "model.pkl"
    f.write_bytes(b"model")
    store.commit(f, "azureml/r/s/model")
    assert store.read_bytes("azureml/r/s/model") == b"model" and not store.is_dir("azureml/r/s/model")


def test_pending_folder_is_invisible_to_readers(store: ObjectStore) -> None:
    """A publication that crashed half way (pending marker, some files) is not an output."""
    store.write_bytes("azureml/r/s/out/part-0", b"half")
    store.write_bytes(f"azureml/r/s/out/{PENDING_MARKER}", b"{}")
    assert not store.exists("azureml/r/s/out")
    assert store.list_files("azureml/r/s/out") == []
    with pytest.raises(DatastoreError, match="being published"):
        store.version("azureml/r/s/out")


def test_stray_objects_outside_the_manifest_are_not_listed(store: ObjectStore, tmp_path: Path) -> None:
    store.commit(_tree(tmp_path / "o", {"a": b"1"}), "out")
    store.write_bytes("out/extra", b"written later by someone else")
    assert store.list_files("out") == ["out/a"]


def test_readers_never_see_partial_output_during_commit(store: ObjectStore, tmp_path: Path) -> None:
    files = {f"f{i:03d}.txt": f"v2-{i}".encode() for i in range(40)}
    store.commit(_tree(tmp_path / "v1", {k: b"v1" for k in files}), "out")
    seen: list[int] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            seen.append(len(store.list_files("out")))

    watcher = threading.Thread(target=watch)
    watcher.start()
    store.commit(_tree(tmp_path / "v2", files), "out")
    done.set()
    watcher.join()
    assert set(seen) <= {0, 40}, f"a reader saw a partial folder: {sorted(set(seen))}"
    assert store.read_bytes("out/f007.txt") == b"v2-7"


def test_missing_connection_settings_are_a_clear_error() -> None:
    with pytest.raises(DatastoreError, match="conn_id and container_name"):
        ObjectStore("", "c")


def test_same_account_copy_is_server_side(store: ObjectStore, azurite, tmp_path: Path) -> None:
    """Two containers on one connection: commit_copy publishes without bytes through the worker."""
    other = f"c{store.container[1:]}x"[:63]
    azurite.create_container(other)
    dest = ObjectStore(store.conn_id, other)
    store.commit(_tree(tmp_path / "s", {"a.csv": b"1" * 3000, "sub/b.csv": b"2"}), "out")
    assert dest.same_account(store) and not dest.same_account(ObjectStore("another_conn", other))
    assert dest.commit_copy(store, "out", "copied") == 3001
    assert dest.list_files("copied") == ["copied/a.csv", "copied/sub/b.csv"]
    assert dest.exists(f"copied/{COMMITTED_MARKER}") and dest.list_files(INCOMING_PREFIX) == []
    assert (
        dest.commit_copy(store, "out/sub/b.csv", "single.csv") == 1 and dest.read_bytes("single.csv") == b"2"
    )
