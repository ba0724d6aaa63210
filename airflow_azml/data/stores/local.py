"""A datastore that is a folder on this machine (the embedded default)."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import uuid
from pathlib import Path

from airflow_azml.data.stores.base import Store, check_relative
from airflow_azml.exceptions import DatastoreError

__all__ = ["LocalStore"]


class LocalStore(Store):
    """Files under ``root``. Inputs are read in place; outputs are published by rename."""

    scheme = "file"

    def __init__(self, root: str | Path):
        self.root = Path(root).expanduser().resolve()

    def _abs(self, rel: str) -> Path:
        return self.root / check_relative(rel) if rel else self.root

    def uri(self, rel: str) -> str:
        return self._abs(rel).as_uri()

    def local_path(self, rel: str) -> Path:
        return self._abs(rel)

    def exists(self, rel: str) -> bool:
        return self._abs(rel).exists()

    def is_dir(self, rel: str) -> bool:
        return self._abs(rel).is_dir()

    def list_files(self, rel: str) -> list[str]:
        base = self._abs(rel)
        if base.is_file():
            return [check_relative(rel)]
        out = []
        for dirpath, _dirs, files in os.walk(base):
            for f in files:
                out.append(Path(dirpath, f).relative_to(self.root).as_posix())
        return sorted(out)

    def version(self, rel: str) -> str:
        """Hash of (path, size, mtime_ns) of every file below ``rel``: cheap, changes on any write."""
        base = self._abs(rel)
        if not base.exists():
            raise DatastoreError(f"{base} does not exist, so it has no version.")
        digest = hashlib.sha256()
        for item in self.list_files(rel):
            st = (self.root / item).stat()
            digest.update(f"{item}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        return digest.hexdigest()[:32]

    def read_bytes(self, rel: str) -> bytes:
        return self._abs(rel).read_bytes()

    def write_bytes(self, rel: str, data: bytes) -> None:
        target = self._abs(rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)

    def put(self, local: Path, rel: str, *, overwrite: bool = True) -> list[str]:
        target = self._abs(rel)
        local = Path(local)
        if local.is_dir():
            written = []
            for src in sorted(p for p in local.rglob("*") if p.is_file()):
                sub = f"{check_relative(rel)}/{src.relative_to(local).as_posix()}".strip("/")
                written += self.put(src, sub, overwrite=overwrite)
            return written
        if target.exists() and not overwrite:
            return []
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        shutil.copy2(local, tmp)
        os.replace(tmp, target)
        return [check_relative(rel)]

    def get(self, rel: str, local: Path, *, overwrite: bool = True) -> Path:
        src = self._abs(rel)
        local = Path(local)
        if src.is_dir():
            shutil.copytree(src, local, dirs_exist_ok=overwrite)
        else:
            if local.exists() and not overwrite:
                return local
            local.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, local)
        return local

    def delete(self, rel: str) -> None:
        target = self._abs(rel)
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target, ignore_errors=True)
        elif target.exists() or target.is_symlink():
            target.unlink()

    def commit(self, staged: Path, rel: str) -> None:
        """Rename the staged file/folder into place; an older copy is moved aside first."""
        target = self._abs(rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        staged = Path(staged)
        if staged.resolve().parent.stat().st_dev != target.parent.stat().st_dev:
            tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.incoming")
            (shutil.copytree if staged.is_dir() else shutil.copy2)(staged, tmp)
            staged = tmp
        old = None
        if target.exists():
            old = target.with_name(f".{target.name}.{uuid.uuid4().hex}.old")
            os.replace(target, old)
        os.replace(staged, target)
        if old is not None:
            self._discard(old)

    @staticmethod
    def _discard(path: Path) -> None:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
