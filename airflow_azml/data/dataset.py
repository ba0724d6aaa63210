"""Datasets: named, versioned views of files on datastores or the web (tabular or file)."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from typing import Any

from airflow_azml.data.dataset_consumption_config import DatasetConsumptionConfig
from airflow_azml.data.expressions import Expression, column
from airflow_azml.data.registry import dataset_record, register_dataset
from airflow_azml.data.sources import (
    FILE_METADATA,
    common_labels,
    match_paths,
    materialize,
    select_sources,
)
from airflow_azml.exceptions import UserErrorException

__all__ = [
    "AbstractDataset",
    "TabularDataset",
    "FileDataset",
    "dataset_from_definition",
    "dataset_from_record",
    "load_dataset",
    "match_paths",
]


class AbstractDataset:
    """A dataset definition: ``kind``, ``paths`` [(datastore, path-or-glob) or url], ``format``,
    ``options``, and optionally ``partition_format`` and ``transforms`` (filters, takes)."""

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
        record = register_dataset(workspace, self.definition, name, description, tags, create_new_version)
        return dataset_from_record(record, workspace)

    def _derive(self, **changes: Any) -> AbstractDataset:
        """A new, unregistered dataset of the same kind with ``changes`` to the definition."""
        return dataset_from_definition({**self.definition, **changes}, self._workspace)

    def _with_transform(self, step: dict[str, Any]) -> AbstractDataset:
        return self._derive(transforms=[*self.definition.get("transforms", []), step])

    def _selected(self) -> list[tuple[Any, dict[str, Any]]]:
        return select_sources(self.definition, self._workspace)

    def _labelled_files(self) -> list[tuple[str, Path]]:
        """(path as to_path shows it, local file) for every selected file: fetched here if remote."""
        selected = [source for source, _ in self._selected()]
        labels = common_labels([s.label for s in selected])
        return [(label, materialize(s)) for label, s in zip(labels, selected, strict=True)]

    def to_path(self) -> list[str]:
        """Paths of the dataset's files relative to their common folder, as v1 gives them."""
        return sorted(common_labels([source.label for source, _ in self._selected()]))

    def take(self, count: int) -> AbstractDataset:
        """The first ``count`` rows (tabular) or files (file), as a dataset read when asked for."""
        return self._with_transform({"take": int(count)})

    def skip(self, count: int) -> AbstractDataset:
        """All but the first ``count`` rows (tabular) or files (file)."""
        return self._with_transform({"skip": int(count)})

    def random_split(
        self, percentage: float, seed: int | None = None
    ) -> tuple[AbstractDataset, AbstractDataset]:
        """Two datasets: about ``percentage`` of the rows (files) at random, and the rest; the same
        ``seed`` always splits the same way."""
        if not 0 < percentage < 1:
            raise UserErrorException(f"random_split: percentage must be between 0 and 1, not {percentage!r}.")
        seed = random.randrange(2**31) if seed is None else int(seed)
        split = {"percentage": float(percentage), "seed": seed}
        return (
            self._with_transform({"split": {**split, "part": 0}}),
            self._with_transform({"split": {**split, "part": 1}}),
        )

    def __getitem__(self, name: str) -> Expression:
        """``ds['column']``: the start of a filter expression (a column, or a partition key)."""
        return column(name)

    @property
    def partition_keys(self) -> list[str]:
        """The keys ``partition_format`` names, in order ([] without one)."""
        from airflow_azml.data.partitions import parse_partition_format

        fmt = self.definition.get("partition_format")
        return list(parse_partition_format(fmt).keys) if fmt else []

    def get_partition_key_values(self, partition_keys: list[str] | None = None) -> list[dict[str, Any]]:
        """Each distinct combination of the values of ``partition_keys`` (default: all keys)."""
        known = self.partition_keys
        if not known:
            raise UserErrorException(
                f"{self!r} has no partition keys: create it with partition_format='/{{key}}/...' "
                "to read partition values from the file paths."
            )
        keys = list(partition_keys or known)
        invalid = [k for k in keys if k not in known]
        if invalid:
            raise UserErrorException(f"{invalid} are not partition keys of this dataset; its keys: {known}.")
        out: list[dict[str, Any]] = []
        for _source, values in self._selected():
            combo = {k: values.get(k) for k in keys}
            if combo not in out:
                out.append(combo)
        return out

    def __repr__(self) -> str:
        label = f"name={self.name!r}, version={self.version}" if self.name else f"id={self.id!r}"
        return f"{type(self).__name__}({label}, paths={self.definition.get('paths')})"


class TabularDataset(AbstractDataset):
    """Rows and columns read from delimited or Parquet files."""

    kind = "tabular"

    def to_pandas_dataframe(self) -> Any:
        from airflow_azml.data.tabular import read_frame

        return read_frame(self.definition, self._workspace, repr(self))

    def filter(self, expression: Expression) -> TabularDataset:
        """Only the rows where ``expression`` holds, e.g. ``ds.filter(ds['age'] > 15)``."""
        return self._with_transform({"filter": _tree(expression)})  # type: ignore[return-value]

    def drop_columns(self, columns: str | list[str]) -> TabularDataset:
        """Without ``columns`` (names that are not columns are ignored)."""
        return self._with_transform({"drop_columns": _names(columns)})  # type: ignore[return-value]

    def keep_columns(self, columns: str | list[str], validate: bool = False) -> TabularDataset:
        """Only ``columns``, in that order."""
        return self._with_transform({"keep_columns": _names(columns)})  # type: ignore[return-value]

    def partition_by(
        self,
        partition_keys: list[str],
        target: Any,
        name: str | None = None,
        show_progress: bool = True,
        partition_as_file_dataset: bool = False,
    ) -> AbstractDataset:
        """Write the rows as Parquet files, one folder level per key, under a new folder of
        ``target``; return (and register, with ``name``) the dataset of those files."""
        from airflow_azml.data.tabular import partition_by

        datastore, definition = partition_by(
            self, partition_keys, target, show_progress, partition_as_file_dataset
        )
        made = dataset_from_definition(definition, datastore.workspace)
        if name is None:
            return made
        if show_progress:
            print(f"Registering the dataset as {name!r}.")
        return made.register(datastore.workspace, name, create_new_version=True)

    def to_csv_files(self) -> FileDataset:
        return FileDataset({**self.definition, "kind": "file"}, self._workspace)


class FileDataset(AbstractDataset):
    """A set of files; steps get them mounted or downloaded as a folder."""

    kind = "file"

    def as_mount(self, path_on_compute: str | None = None) -> DatasetConsumptionConfig:
        return self.as_named_input(self.name or "input").as_mount(path_on_compute)

    def as_download(self, path_on_compute: str | None = None) -> DatasetConsumptionConfig:
        return self.as_named_input(self.name or "input").as_download(path_on_compute)

    def file_metadata(self, name: str) -> Expression:
        """A file property for ``filter``: Size, LastModifiedTime, CreationTime, Extension, CanSeek."""
        return column(FILE_METADATA + name)

    def filter(self, expression: Expression) -> FileDataset:
        """Only the files where ``expression`` (on partition keys or file metadata) holds."""
        return self._with_transform({"filter": _tree(expression)})  # type: ignore[return-value]

    def download(self, target_path: str | None = None, overwrite: bool = False, **_: Any) -> list[str]:
        import shutil
        import tempfile

        target = Path(target_path or tempfile.mkdtemp(prefix="azml-ds-"))
        out = []
        for rel, src in self._labelled_files():
            dest = target / rel.lstrip("/")
            if dest.exists() and not overwrite:
                raise UserErrorException(f"{dest} exists; pass overwrite=True to replace it.")
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest)
            out.append(str(dest))
        return out


def _names(columns: str | list[str]) -> list[str]:
    return [columns] if isinstance(columns, str) else list(columns)


def _tree(expression: Any) -> dict[str, Any]:
    if not isinstance(expression, Expression):
        raise UserErrorException(
            f"filter() takes an expression built from the dataset, e.g. ds.filter(ds['age'] > 15), "
            f"not {expression!r}."
        )
    return expression.tree


def dataset_from_definition(
    definition: dict[str, Any], workspace: Any = None, **meta: Any
) -> AbstractDataset:
    cls = TabularDataset if definition.get("kind") == "tabular" else FileDataset
    return cls(definition, workspace, **meta)


def dataset_from_record(record: dict[str, Any], workspace: Any) -> AbstractDataset:
    """The dataset a registry record describes, with its name, version, description and tags."""
    return dataset_from_definition(
        record["definition"],
        workspace,
        name=record["name"],
        version=record["version"],
        description=record.get("description"),
        tags=record.get("tags"),
    )


def load_dataset(workspace: Any, name: str, version: str | int = "latest") -> AbstractDataset:
    """The dataset ``name`` at ``version`` ('latest' or a number), declared or registered."""
    return dataset_from_record(dataset_record(workspace, name, version), workspace)
