"""``Dataset``: factories (Tabular / File) and lookups of registered datasets."""

from __future__ import annotations

from typing import Any

from airflow_azml.data.dataset import AbstractDataset, FileDataset, TabularDataset
from airflow_azml.data.stores import check_relative
from airflow_azml.exceptions import UserErrorException

__all__ = ["Dataset"]


def _paths(path: Any) -> list[dict[str, str]]:
    """v1 accepts a (datastore, path) tuple, a DataPath, a DataReference, an http(s) URL, or a list of them.

    Nothing is read here: a URL is fetched when the data is used (a step run, ``to_pandas_dataframe``).
    """
    from airflow_azml.data.web import is_url

    items = path if isinstance(path, list) else [path]
    if not items:
        raise UserErrorException(
            "Dataset path is an empty list: give at least one file, folder, glob or URL."
        )
    out: list[dict[str, str]] = []
    for item in items:
        if is_url(item):
            out.append({"url": _check_url(item)})
            continue
        if isinstance(item, tuple) and len(item) == 2:
            ds, rel = item
        elif hasattr(item, "path_on_datastore") and hasattr(item, "datastore"):
            ds, rel = item.datastore, item.path_on_datastore
        else:
            raise UserErrorException(
                f"Dataset path {item!r} is not supported: pass an http(s) URL, (datastore, 'path/*.csv'), "
                "a DataPath or a DataReference (datastore.path('...'))."
            )
        out.append({"datastore": getattr(ds, "name", ds), "path": check_relative(rel)})
    return out


def _check_url(url: str) -> str:
    if any(ch in url.split("?", 1)[0] for ch in "*?["):
        raise UserErrorException(
            f"Dataset URL {url!r} has a wildcard; a web server cannot be listed. Name each file's URL "
            "(path=[url1, url2]) or register the storage as a datastore and use (datastore, 'folder/*.csv')."
        )
    return url


def _workspace_of(path: Any) -> Any:
    items = path if isinstance(path, list) else [path]
    for item in items:
        ds = item[0] if isinstance(item, tuple) else getattr(item, "datastore", None)
        if getattr(ds, "workspace", None) is not None:
            return ds.workspace
    return None


def _definition(kind: str, path: Any, partition_format: str | None, **extra: Any) -> dict[str, Any]:
    definition: dict[str, Any] = {"kind": kind, "paths": _paths(path), **extra}
    if partition_format is not None:
        from airflow_azml.data.partitions import parse_partition_format

        definition["partition_format"] = parse_partition_format(partition_format).text
    return definition


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
        partition_format: str | None = None,
        **_: Any,
    ) -> TabularDataset:
        has_header = header not in (False, "NO_HEADERS", "no_headers")
        options = {
            "separator": separator,
            "header": has_header,
            **({"include_path": True} if include_path else {}),
        }
        definition = _definition("tabular", path, partition_format, format="delimited", options=options)
        return TabularDataset(definition, _workspace_of(path))

    @staticmethod
    def from_parquet_files(
        path: Any,
        validate: bool = True,
        include_path: bool = False,
        partition_format: str | None = None,
        **_: Any,
    ) -> TabularDataset:
        options = {"include_path": True} if include_path else {}
        definition = _definition("tabular", path, partition_format, format="parquet", options=options)
        return TabularDataset(definition, _workspace_of(path))


class _FileFactory:
    @staticmethod
    def from_files(
        path: Any, validate: bool = True, partition_format: str | None = None, **_: Any
    ) -> FileDataset:
        return FileDataset(_definition("file", path, partition_format, options={}), _workspace_of(path))


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
        """A registered version by ``name:version``, or a dataset a run was submitted with by its id."""
        name, colon, version = id.partition(":")
        if colon:
            return Dataset.get_by_name(workspace, name, version or "latest")
        from airflow_azml.data.saved import load_saved
        from airflow_azml.exceptions import DatasetNotFoundError

        try:
            return load_saved(workspace, id)
        except DatasetNotFoundError:
            return Dataset.get_by_name(workspace, id)  # a bare name: its latest version

    @staticmethod
    def get_all(workspace: Any) -> dict[str, AbstractDataset]:
        from airflow_azml.data.registry import list_datasets

        return {n: Dataset.get_by_name(workspace, n) for n in list_datasets(workspace)}
