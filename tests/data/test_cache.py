"""cached_copy: the read-only, version-keyed local cache of remote objects (Azurite Blob)."""

from __future__ import annotations

import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import pytest

from airflow_azml.data.cache import cache_root, cached_copy
from airflow_azml.data.stores import LocalStore


@pytest.fixture
def store(azurite, azml_home, monkeypatch):
    from airflow_azml.provider.hooks.object_store import ObjectStore

    container = f"cache{uuid.uuid4().hex[:8]}"
    azurite.create_container(container)
    for key, value in azurite.airflow_conn_env("cache_blob", "wasb").items():
        monkeypatch.setenv(key, value)
    return ObjectStore("cache_blob", container)


def test_local_store_is_read_in_place(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    (tmp_path / "a.txt").write_text("x")
    assert cached_copy(store, "a.txt") == tmp_path / "a.txt"


def test_cache_is_keyed_by_version_and_read_only(store, azml_home) -> None:
    store.write_bytes("data/a.csv", b"v1")
    first = cached_copy(store, "data/a.csv")
    assert first.read_bytes() == b"v1" and first.is_relative_to(cache_root())
    assert not os.access(first, os.W_OK) or os.geteuid() == 0
    assert not (first.stat().st_mode & 0o222)
    assert cached_copy(store, "data/a.csv") == first  # same version: same entry, no download
    store.write_bytes("data/a.csv", b"v2")
    second = cached_copy(store, "data/a.csv")
    assert second != first and second.read_bytes() == b"v2" and first.read_bytes() == b"v1"


def test_folders_are_cached_whole(store) -> None:
    for i in range(5):
        store.write_bytes(f"folder/part-{i}.csv", f"{i}".encode())
    local = cached_copy(store, "folder")
    assert sorted(p.name for p in local.iterdir()) == [f"part-{i}.csv" for i in range(5)]


def test_concurrent_threads_share_one_entry(store) -> None:
    store.write_bytes("big.bin", os.urandom(3 << 20))
    with ThreadPoolExecutor(max_workers=6) as pool:
        paths = set(pool.map(lambda _: cached_copy(store, "big.bin"), range(6)))
    assert len(paths) == 1
    entries = [p for p in cache_root().iterdir() if not p.name.endswith(".lock")]
    assert len(entries) == 1 and not [p for p in cache_root().iterdir() if p.name.endswith(".tmp")]


def _fetch(args: tuple[str, str, str]) -> str:
    conn_env, container, home = args
    os.environ.update({"AZML_HOME": home, **dict([conn_env.split("=", 1)])})
    from airflow_azml.provider.hooks.object_store import ObjectStore

    return str(cached_copy(ObjectStore("cache_blob", container), "shared.bin"))


def test_concurrent_processes_share_one_entry(store, azml_home) -> None:
    """Two step processes on one worker resolving the same input download it once."""
    data = os.urandom(2 << 20)
    store.write_bytes("shared.bin", data)
    env = next(f"{k}={v}" for k, v in os.environ.items() if k == "AIRFLOW_CONN_CACHE_BLOB")
    with get_context("spawn").Pool(3) as pool:
        paths = set(pool.map(_fetch, [(env, store.container, str(azml_home))] * 3))
    assert len(paths) == 1 and Path(paths.pop()).read_bytes() == data
