"""The interface every datastore backend implements, and the path rule they share."""

from __future__ import annotations

import posixpath
import re
from abc import ABC, abstractmethod
from pathlib import Path

from airflow_azml.exceptions import PathEscapeError

__all__ = ["Store", "check_relative"]

_SCHEME = r"^[A-Za-z][A-Za-z0-9+.-]*:"  # compiled only for paths with a ':' (re caches it)


def check_relative(path: str | None, *, what: str = "path") -> str:
    """Normalise a datastore-relative path, refusing anything that could leave the root.

    Refused: absolute paths, ``..`` segments, URL schemes and drive letters, NUL bytes.
    Returns the path with ``/`` separators and no leading/trailing slash ('' for the root).
    """
    if path is None:
        return ""
    text = str(path).replace("\\", "/")
    problem = None
    if "\x00" in text:
        problem = "contains a NUL byte"
    elif text.startswith("/"):
        problem = "is absolute"
    elif ":" in text and re.match(_SCHEME, text):
        problem = "has a URL scheme or drive letter"
    elif ".." in text.split("/"):
        problem = "contains a '..' segment"
    if problem:
        raise PathEscapeError(
            f"The {what} {path!r} {problem}; datastore paths must be relative to the datastore's "
            "root, e.g. 'raw/2024/data.csv'. Nothing was read or written."
        )
    norm = posixpath.normpath(text) if text else ""
    return "" if norm == "." else norm.strip("/")


class Store(ABC):
    """Byte-level operations on one datastore. Paths are datastore-relative ('' = root)."""

    #: URI scheme this store hands to engines outside the worker (file, abfs, dbfs, ...)
    scheme: str = "file"

    @abstractmethod
    def uri(self, rel: str) -> str:
        """The URI other engines use for ``rel``."""

    def local_path(self, rel: str) -> Path | None:
        """A local path that *is* the data (no copy), or None for remote stores."""
        return None

    @abstractmethod
    def exists(self, rel: str) -> bool: ...

    @abstractmethod
    def is_dir(self, rel: str) -> bool: ...

    @abstractmethod
    def list_files(self, rel: str) -> list[str]:
        """Every file below ``rel`` (recursive), as datastore-relative paths, sorted."""

    @abstractmethod
    def version(self, rel: str) -> str:
        """A token that changes whenever the content under ``rel`` changes (etag, mtime+size)."""

    def versions(self, rel: str) -> dict[str, str]:
        """{file: version} of every file below ``rel`` (a Blob store answers this with one listing)."""
        return {f: self.version(f) for f in self.list_files(rel)}

    def sizes(self, rel: str) -> dict[str, int | None]:
        """{file: bytes} of every file below ``rel``; None where the store cannot tell without reading it."""
        out: dict[str, int | None] = {}
        for f in self.list_files(rel):
            local = self.local_path(f)
            out[f] = local.stat().st_size if local is not None else None
        return out

    @abstractmethod
    def read_bytes(self, rel: str) -> bytes: ...

    @abstractmethod
    def write_bytes(self, rel: str, data: bytes) -> None:
        """Write one small object atomically (readers see the old or the new bytes)."""

    @abstractmethod
    def put(self, local: Path, rel: str, *, overwrite: bool = True) -> list[str]:
        """Copy a local file or folder to ``rel``; returns the relative paths written."""

    @abstractmethod
    def get(self, rel: str, local: Path, *, overwrite: bool = True) -> Path:
        """Copy ``rel`` (file or folder) to ``local``; returns the local path."""

    @abstractmethod
    def delete(self, rel: str) -> None:
        """Remove a file or a folder tree; missing is fine."""

    def commit(self, staged: Path, rel: str) -> None:
        """Publish a staged local file/folder at ``rel`` so readers see it whole or not at all."""
        self.put(staged, rel, overwrite=True)
