"""``Dataset``: factories (Tabular / File) and lookups of registered datasets."""

from __future__ import annotations

from typing import Any

from airflow_azml.data.dataset import AbstractDataset, FileDataset, TabularDataset
from airflow_azml.data.stores import check_relative
from airflow_azml.exceptions import UserErrorException

__all__ = ["Dataset"]


def _paths(path: Any) -> list[dict[str, str]]:
    """v1 accepts a (datastore, path) tuple, a DataPath, a DataReference, or a list of them."""
    items = path if isinstance(path, list) else [path]
    out = []
    for item in items:
        if isinstance(item, tuple) and len(item) == 2:
            ds, rel = item
        elif hasattr(item, "path_on_datastore") and hasattr(item, "datastore"):
            ds, rel = item.datastore, item.path_on_datastore
        else:
            raise UserErrorException(
                f"Dataset path {item!r} is not supported: pass (datastore, 'path/*.csv'), a DataPath or a "
                "DataReference (datastore.path('...'))."
            )
        out.append({"datastore": getattr(ds, "name", ds), "path": check_relative(rel)})
    return out


def _workspace_of(path: Any) -> Any:
    first = path[0] if isinstance(path, list) and path else path
    ds = first[0] if isinstance(first, tuple) else getattr(first, "datastore", None)
    return getattr(ds, "workspace", None)


class _TabularFactory:
    @staticmethod
    def from_delimited_files(
        path: Any,
        validate: bool = True,
        include_path: bool = False,
        infer_column_types: bool = True,
        set_column_types: Any = None,
        separator: str = ",",
        header: bool | str = True,
        **_: Any,
    ) -> TabularDataset:
        has_header = header not in (False, "NO_HEADERS", "no_headers")
        definition = {
            "kind": "tabular",
            "format": "delimited",
            "paths": _paths(path),
            "options": {"separator": separator, "header": has_header},
        }
        return TabularDataset(definition, _workspace_of(path))

    @staticmethod
    def from_parquet_files(
        path: Any, validate: bool = True, include_path: bool = False, **_: Any
    ) -> TabularDataset:
        definition = {"kind": "tabular", "format": "parquet", "paths": _paths(path), "options": {}}
        return TabularDataset(definition, _workspace_of(path))


class _FileFactory:
    @staticmethod
    def from_files(path: Any, validate: bool = True, **_: Any) -> FileDataset:
        return FileDataset({"kind": "file", "paths": _paths(path), "options": {}}, _workspace_of(path))


class Dataset:
    """Entry point for datasets, as ``azureml.core.Dataset``."""

    Tabular = _TabularFactory
    File = _FileFactory

    @staticmethod
    def get_by_name(workspace: Any, name: str, version: str | int = "latest") -> AbstractDataset:
        """The registered dataset; read from the registry on first use, not at DAG parse time."""
        from airflow_azml.data.lazy import LazyDataset

        return LazyDataset(workspace, name, version)

    @staticmethod
    def get_by_id(workspace: Any, id: str) -> AbstractDataset:
        name, _, version = id.partition(":")
        return Dataset.get_by_name(workspace, name, version or "latest")

    @staticmethod
    def get_all(workspace: Any) -> dict[str, AbstractDataset]:
        from airflow_azml.data.registry import list_datasets

        return {n: Dataset.get_by_name(workspace, n) for n in list_datasets(workspace)}
