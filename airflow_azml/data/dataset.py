"""Datasets: named, versioned views of files on datastores (tabular or file)."""

from __future__ import annotations

import fnmatch
import hashlib
import json
from pathlib import Path
from typing import Any

from airflow_azml.data.dataset_consumption_config import DatasetConsumptionConfig
from airflow_azml.data.stores import check_relative
from airflow_azml.exceptions import UserErrorException

__all__ = ["AbstractDataset", "TabularDataset", "FileDataset", "dataset_from_definition", "resolve_files"]


class AbstractDataset:
    """A dataset definition: ``kind``, ``paths`` [(datastore, path-or-glob)], ``format``, ``options``."""

    kind = "abstract"

    def __init__(
        self,
        definition: dict[str, Any],
        workspace: Any = None,
        name: str | None = None,
        version: int | None = None,
        description: str | None = None,
        tags: dict | None = None,
    ):
        self._definition = definition
        self._workspace = workspace
        self.name = name
        self.version = version
        self.description = description
        self.tags = dict(tags or {})

    @property
    def definition(self) -> dict[str, Any]:
        return self._definition

    @property
    def id(self) -> str:
        if self.name and self.version:
            return f"{self.name}:{self.version}"
        blob = json.dumps(self.definition, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def as_named_input(self, name: str) -> DatasetConsumptionConfig:
        return DatasetConsumptionConfig(name, self)

    def register(
        self,
        workspace: Any,
        name: str,
        description: str | None = None,
        tags: dict | None = None,
        create_new_version: bool = False,
    ) -> AbstractDataset:
        from airflow_azml.data.registry import register_dataset

        return register_dataset(workspace, self, name, description, tags, create_new_version)

    def _files(self) -> list[Path]:
        return resolve_files(self.definition, self._workspace)

    def to_path(self) -> list[str]:
        """Paths of the dataset's files relative to their common folder, as v1 gives them."""
        files = self._files()
        if not files:
            return []
        common = Path(*Path(files[0]).parts[:-1]) if len(files) == 1 else _common_parent(files)
        return sorted("/" + f.relative_to(common).as_posix() for f in files)

    def __repr__(self) -> str:
        label = f"name={self.name!r}, version={self.version}" if self.name else f"id={self.id!r}"
        return f"{type(self).__name__}({label}, paths={self.definition.get('paths')})"


class TabularDataset(AbstractDataset):
    """Rows and columns read from delimited or Parquet files."""

    kind = "tabular"

    def to_pandas_dataframe(self) -> Any:
        import pandas as pd

        files = self._files()
        if not files:
            raise UserErrorException(f"{self!r} matches no files.")
        fmt = self.definition.get("format", "delimited")
        opts = self.definition.get("options", {})
        if fmt == "parquet":
            frames = [pd.read_parquet(f) for f in files]
        else:
            sep = opts.get("separator", ",")
            header = 0 if opts.get("header", True) else None
            frames = [pd.read_csv(f, sep=sep, header=header) for f in files]
        frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        return frame.head(self.definition["take"]) if "take" in self.definition else frame

    def take(self, count: int) -> TabularDataset:
        """The first ``count`` rows, as a dataset."""
        return TabularDataset(
            {**self.definition, "take": int(count)}, self._workspace, self.name, self.version
        )

    def to_csv_files(self) -> FileDataset:
        return FileDataset({**self.definition, "kind": "file"}, self._workspace)


class FileDataset(AbstractDataset):
    """A set of files; steps get them mounted or downloaded as a folder."""

    kind = "file"

    def as_mount(self, path_on_compute: str | None = None) -> DatasetConsumptionConfig:
        return self.as_named_input(self.name or "input").as_mount(path_on_compute)

    def as_download(self, path_on_compute: str | None = None) -> DatasetConsumptionConfig:
        return self.as_named_input(self.name or "input").as_download(path_on_compute)

    def download(self, target_path: str | None = None, overwrite: bool = False) -> list[str]:
        import shutil
        import tempfile

        target = Path(target_path or tempfile.mkdtemp(prefix="azml-ds-"))
        out = []
        for rel in self.to_path():
            src = (
                _common_parent(self._files()) / rel.lstrip("/")
                if len(self._files()) > 1
                else self._files()[0]
            )
            dest = target / rel.lstrip("/")
            if dest.exists() and not overwrite:
                raise UserErrorException(f"{dest} exists; pass overwrite=True to replace it.")
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest)
            out.append(str(dest))
        return out


def _common_parent(files: list[Path]) -> Path:
    import os

    return Path(os.path.commonpath([str(f.parent) for f in files]))


def dataset_from_definition(
    definition: dict[str, Any], workspace: Any = None, **meta: Any
) -> AbstractDataset:
    cls = TabularDataset if definition.get("kind") == "tabular" else FileDataset
    return cls(definition, workspace, **meta)


def resolve_files(definition: dict[str, Any], workspace: Any) -> list[Path]:
    """Local paths of a definition's files (``local_files`` when the step runtime staged them)."""
    if "local_files" in definition:
        return [Path(p) for p in definition["local_files"]]
    if workspace is None:
        raise UserErrorException(
            "This dataset is not bound to a workspace; get it with Dataset.get_by_name(ws, ...)."
        )
    out: list[Path] = []
    for entry in definition.get("paths", []):
        store = workspace._require_datastore(entry["datastore"]).store
        out += [_local(store, rel) for rel in match_paths(store, entry["path"])]
    return out


def match_paths(store: Any, pattern: str) -> list[str]:
    """Datastore-relative files matching ``pattern`` (a file, a folder, or a glob)."""
    pattern = check_relative(pattern)
    if not any(ch in pattern for ch in "*?["):
        return store.list_files(pattern) if store.exists(pattern) else []
    base = pattern.split("*")[0].split("?")[0].split("[")[0].rsplit("/", 1)[0] if "/" in pattern else ""
    return [f for f in store.list_files(base) if fnmatch.fnmatchcase(f, pattern)]


def _local(store: Any, rel: str) -> Path:
    local = store.local_path(rel)
    if local is not None:
        return local
    from airflow_azml.data.cache import cached_copy

    return cached_copy(store, rel)
