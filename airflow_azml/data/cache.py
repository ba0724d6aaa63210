"""A read-only local cache of remote datastore objects, shared by the steps of one worker.

``cached_copy(store, rel)`` returns a local path holding the content of ``rel`` (a file or a
folder). Entries are keyed by the object's URI *and* its version (etag), so a changed blob gets
a new entry and a stale copy is never served. Safe under concurrency: one process downloads
an entry (others wait on a file lock), the download lands in a private temporary folder and is
renamed into place whole, and the files are made read-only so a step cannot corrupt what its
neighbours read. Never imports airflow (the store does, lazily, if it is remote).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import stat
import uuid
from pathlib import Path
from typing import Any

from airflow_azml.core._home import azml_home
from airflow_azml.data.stores.base import check_relative

__all__ = ["cached_copy", "cache_root", "CACHE_ENV"]

#: where the cache lives (default ``$AZML_HOME/cache/objects``); point it at a fast local disk
CACHE_ENV = "AZML_CACHE_DIR"


def cache_root() -> Path:
    override = os.environ.get(CACHE_ENV)
    return Path(override).expanduser().resolve() if override else azml_home() / "cache" / "objects"


def _entry_key(store: Any, rel: str, version: str) -> str:
    return hashlib.sha256(f"{store.uri(rel)}\0{version}".encode()).hexdigest()[:40]


def cached_copy(store: Any, rel: str) -> Path:
    """A local, read-only copy of ``rel`` on ``store`` at its current version."""
    rel = check_relative(rel)
    local = store.local_path(rel)
    if local is not None:
        return local
    version = store.version(rel)
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    entry = root / _entry_key(store, rel, version)
    name = rel.rsplit("/", 1)[-1] or "data"
    target = entry / name
    if (entry / ".complete").exists():
        return target
    with open(root / f"{entry.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (entry / ".complete").exists():
            _download(store, rel, entry, name)
    return target


def _download(store: Any, rel: str, entry: Path, name: str) -> None:
    """Download into a private folder, mark it complete and read-only, then rename it into place."""
    tmp = entry.with_name(f".{entry.name}.{uuid.uuid4().hex}.tmp")
    try:
        store.get(rel, tmp / name, overwrite=True)
        (tmp / ".complete").write_text(store.uri(rel))
        _make_read_only(tmp / name)
        if entry.exists():  # a crashed earlier attempt without .complete
            shutil.rmtree(entry, ignore_errors=True)
        os.replace(tmp, entry)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _make_read_only(path: Path) -> None:
    paths = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    for p in paths:
        mode = p.stat().st_mode
        p.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
