"""Datastores: named places where data lives, with v1's names and methods."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_azml.core._orchestrator import airflow_side
from airflow_azml.exceptions import DatastoreError

if TYPE_CHECKING:  # the storage layer is imported when data moves, never to parse a DAG file
    from airflow_azml.data.stores.base import Store

__all__ = [
    "Datastore",
    "LocalDatastore",
    "AzureBlobDatastore",
    "AzureDataLakeDatastore",
    "AzureDataLakeGen2Datastore",
    "AzureSqlDatabaseDatastore",
    "AzurePostgreSqlDatastore",
    "DbfsDatastore",
    "datastore_from_spec",
]


class _DatastoreMeta(type):
    """``Datastore(ws, name)`` looks a datastore up, as in v1; subclasses construct normally."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        if cls is Datastore:
            return _lookup(*args, **kwargs)
        return super().__call__(*args, **kwargs)


def _lookup(workspace: Any, name: str | None = None) -> Any:
    """v1's ``Datastore(workspace, name=None)``: the named datastore, or the default one."""
    if name is None:
        return workspace.get_default_datastore()
    return workspace._require_datastore(name)


class Datastore(metaclass=_DatastoreMeta):
    """Base of every datastore kind. ``Datastore(ws, name)`` returns the registered one."""

    datastore_type = "Base"
    kind = "base"

    def __init__(self, workspace: Any, name: str, spec: dict[str, Any] | None = None):
        self.workspace = workspace
        self.name = name
        self._spec = dict(spec or {})
        self._store_cache: Store | None = None

    # -- lookup ---------------------------------------------------------------------
    @staticmethod
    def get(workspace: Any, datastore_name: str) -> Datastore:
        return workspace._require_datastore(datastore_name)

    @staticmethod
    def get_default(workspace: Any) -> Datastore:
        return workspace.get_default_datastore()

    def set_as_default(self) -> None:
        self.workspace.set_default_datastore(self.name)

    # -- storage --------------------------------------------------------------------
    def _make_store(self) -> Store:
        raise DatastoreError(f"Datastore {self.name!r} ({self.datastore_type}) holds tables, not files.")

    @property
    def store(self) -> Store:
        if self._store_cache is None:
            self._store_cache = self._make_store()
        return self._store_cache

    def to_spec(self) -> dict[str, Any]:
        return {"type": self.kind, **self._spec}

    def path(self, path: str | None = None, data_reference_name: str | None = None) -> Any:
        """A DataReference to ``path`` on this datastore."""
        from airflow_azml.data.data_reference import DataReference

        return DataReference(self, data_reference_name=data_reference_name, path_on_datastore=path)

    def as_mount(self) -> Any:
        return self.path().as_mount()

    def as_download(self, path_on_compute: str | None = None) -> Any:
        return self.path().as_download(path_on_compute=path_on_compute)

    def upload(
        self,
        src_dir: str,
        target_path: str | None = None,
        overwrite: bool = False,
        show_progress: bool = True,
    ) -> Any:
        """Copy a local folder's files under ``target_path``; returns a DataReference to it."""
        src = Path(src_dir)
        if not src.is_dir():
            raise DatastoreError(f"upload(src_dir={src_dir!r}): not a folder. Use upload_files() for files.")
        from airflow_azml.data.stores.base import check_relative

        written = self.store.put(src, check_relative(target_path, what="target_path"), overwrite=overwrite)
        if show_progress:
            print(f"Uploaded {len(written)} file(s) to {self.name}/{target_path or ''}")
        return self.path(target_path)

    def upload_files(
        self,
        files: list[str],
        relative_root: str | None = None,
        target_path: str | None = None,
        overwrite: bool = False,
        show_progress: bool = True,
    ) -> Any:
        """Copy local files; their paths below ``relative_root`` are kept under ``target_path``.

        As in v1, ``relative_root`` defaults to the files' common folder and must contain
        every file; a file that already exists is skipped unless ``overwrite``.
        """
        from airflow_azml.data.stores.base import check_relative

        target = check_relative(target_path, what="target_path")
        sources = [Path(f).resolve() for f in files]
        missing = [str(f) for f, src in zip(files, sources, strict=True) if not src.is_file()]
        if missing:
            raise DatastoreError(f"upload_files: not a file: {', '.join(missing)}.")
        if not sources:
            return self.path(target_path)
        root = (
            Path(relative_root).resolve()
            if relative_root
            else Path(os.path.commonpath([s.parent for s in sources]))
        )
        outside = [str(s) for s in sources if not s.is_relative_to(root)]
        if outside:
            raise DatastoreError(
                f"upload_files: relative_root={str(relative_root)!r} is not a folder of every file; not below it: "
                f"{', '.join(outside)}. Give a common folder of all the files, or leave relative_root out."
            )
        written: list[str] = []
        for src in sources:
            rel = f"{target}/{src.relative_to(root).as_posix()}".strip("/")
            written += self.store.put(src, rel, overwrite=overwrite)
        if show_progress:
            print(f"Uploaded {len(written)} file(s) to {self.name}/{target}")
        return self.path(target_path)

    def download(
        self, target_path: str, prefix: str | None = None, overwrite: bool = False, show_progress: bool = True
    ) -> int:
        """Copy the files under ``prefix`` into the local folder ``target_path``; returns the count."""
        from airflow_azml.data.stores.base import check_relative

        rel = check_relative(prefix, what="prefix")
        count = 0
        for item in self.store.list_files(rel):
            dest = Path(target_path) / item
            if dest.exists() and not overwrite:
                continue
            self.store.get(item, dest, overwrite=overwrite)
            count += 1
        if show_progress:
            print(f"Downloaded {count} file(s) from {self.name}/{rel}")
        return count

    # -- v1 registration ------------------------------------------------------------
    @staticmethod
    def register_local(workspace: Any, datastore_name: str, path: str) -> LocalDatastore:
        """Ours: a folder on this machine (or a shared mount every worker sees)."""
        ds = LocalDatastore(workspace, datastore_name, {"path": str(Path(path).resolve())})
        workspace._add_datastore(ds)
        return ds

    @staticmethod
    def register_azure_blob_container(
        workspace: Any, datastore_name: str, container_name: str, account_name: str, **kwargs: Any
    ) -> Datastore:
        return register_remote(
            workspace,
            "azure_blob",
            datastore_name,
            container_name=container_name,
            account_name=account_name,
            **kwargs,
        )

    @staticmethod
    def register_dbfs(workspace: Any, datastore_name: str) -> DbfsDatastore:
        """v1's DBFS datastore: the Databricks file system, which only DatabricksStep jobs address."""
        ds = DbfsDatastore(workspace, datastore_name, {})
        workspace._add_datastore(ds)
        return ds

    @staticmethod
    def register_azure_data_lake(
        workspace: Any, datastore_name: str, store_name: str, **kwargs: Any
    ) -> Datastore:
        """v1's ADLS Gen1 registration: the service principal goes into an Airflow connection."""
        return register_remote(workspace, "adls_gen1", datastore_name, store_name=store_name, **kwargs)

    @staticmethod
    def register_azure_data_lake_gen2(
        workspace: Any, datastore_name: str, filesystem: str, account_name: str, **kwargs: Any
    ) -> Datastore:
        return register_remote(
            workspace,
            "adls_gen2",
            datastore_name,
            container_name=filesystem,
            account_name=account_name,
            **kwargs,
        )

    @staticmethod
    def register_azure_sql_database(
        workspace: Any, datastore_name: str, server_name: str, database_name: str, **kwargs: Any
    ) -> Datastore:
        return register_remote(
            workspace,
            "azure_sql",
            datastore_name,
            server_name=server_name,
            database_name=database_name,
            **kwargs,
        )

    @staticmethod
    def register_azure_postgre_sql(
        workspace: Any, datastore_name: str, server_name: str, database_name: str, **kwargs: Any
    ) -> Datastore:
        return register_remote(
            workspace,
            "postgres",
            datastore_name,
            server_name=server_name,
            database_name=database_name,
            **kwargs,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class LocalDatastore(Datastore):
    """A folder; the default datastore of the embedded setup. Inputs are read in place."""

    datastore_type = "Local"
    kind = "local"

    @property
    def root(self) -> Path:
        raw = self._spec.get("path")
        if not raw:
            return self.workspace.local_datastore_root() / self.name
        path = Path(str(raw)).expanduser()
        return path if path.is_absolute() else (self.workspace.config_dir / path).resolve()

    def _make_store(self) -> Store:
        from airflow_azml.data.stores.local import LocalStore

        return LocalStore(self.root)

    def to_spec(self) -> dict[str, Any]:
        return {"type": "local", "path": str(self.root)}


class _ConnectionDatastore(Datastore):
    """A datastore reached through an Airflow connection: ``conn_id``, default ``azml_<name>``."""

    @property
    def conn_id(self) -> str:
        return str(self._spec.get("conn_id") or f"azml_{self.name}")


class AzureBlobDatastore(_ConnectionDatastore):
    """An Azure Blob container reached through an Airflow connection (``conn_id``)."""

    datastore_type = "AzureBlob"
    kind = "azure_blob"

    @property
    def container_name(self) -> str:
        return str(self._spec.get("container_name", ""))

    @property
    def account_name(self) -> str:
        return str(self._spec.get("account_name", ""))

    @property
    def anonymous(self) -> bool:
        """Registered without a credential: a public container, read without a connection."""
        return bool(self._spec.get("anonymous"))

    def _make_store(self) -> Store:
        if self.anonymous:
            return airflow_side("PublicObjectStore").for_datastore(self)
        return airflow_side("ObjectStore").for_datastore(self)


class AzureDataLakeDatastore(_ConnectionDatastore):
    """ADLS Gen1 (v1's ``register_azure_data_lake``): registered with its connection, holds no files here.

    Azure retired Data Lake Storage Gen1 on 2024-02-29, so there is nothing left to read or
    write; the registration is kept so that v1 code runs up to the point where data moves.
    """

    datastore_type = "AzureDataLake"
    kind = "adls_gen1"

    @property
    def store_name(self) -> str:
        return str(self._spec.get("store_name", ""))

    def _make_store(self) -> Store:
        raise DatastoreError(
            f"Datastore {self.name!r} is on Azure Data Lake Storage Gen1 ({self.store_name!r}), which Azure retired "
            "on 2024-02-29: it holds no data any more. Move the data to ADLS Gen2 or Blob and register that with "
            "Datastore.register_azure_data_lake_gen2() or register_azure_blob_container(), or keep the v1 code "
            "as it is and declare where the data lives now under the same name in the workspace file: "
            f'"datastores": {{"{self.name}": {{"type": "adls_gen2", ...}}}} (or "azure_blob", or "local" with a '
            f'"path"); Datastore.get(ws, "{self.name}") then returns that datastore.'
        )


class DbfsDatastore(Datastore):
    """DBFS (v1's ``register_dbfs``): the Databricks workspace's file system, seen only by its jobs.

    A DatabricksStep hands data on it to the job as ``dbfs:/<path>`` URIs; nothing outside
    Databricks reads or writes it, so such a step runs without reuse (its data cannot be checked).
    """

    datastore_type = "DBFS"
    kind = "dbfs"

    def _make_store(self) -> Store:
        raise DatastoreError(
            f"Datastore {self.name!r} is DBFS, the Databricks workspace's file system: only DatabricksStep jobs "
            "read and write it (as dbfs:/ URIs). Put data that other steps or downloads need on a Blob or ADLS "
            "Gen2 datastore."
        )


class AzureDataLakeGen2Datastore(AzureBlobDatastore):
    """An ADLS Gen2 file system reached through an Airflow connection."""

    datastore_type = "AzureDataLakeGen2"
    kind = "adls_gen2"


class AzureSqlDatabaseDatastore(_ConnectionDatastore):
    """An Azure SQL database (tables, for DataTransferStep) through an Airflow connection."""

    datastore_type = "AzureSqlDatabase"
    kind = "azure_sql"


class AzurePostgreSqlDatastore(AzureSqlDatabaseDatastore):
    datastore_type = "AzurePostgreSql"
    kind = "postgres"


_KINDS: dict[str, type[Datastore]] = {
    cls.kind: cls
    for cls in (
        LocalDatastore,
        AzureBlobDatastore,
        AzureDataLakeDatastore,
        AzureDataLakeGen2Datastore,
        AzureSqlDatabaseDatastore,
        AzurePostgreSqlDatastore,
        DbfsDatastore,
    )
}


def datastore_from_spec(workspace: Any, name: str, spec: dict[str, Any]) -> Datastore:
    kind = str(spec.get("type", "local"))
    cls = _KINDS.get(kind)
    if cls is None:
        raise DatastoreError(
            f"Datastore {name!r} in the workspace file has type {kind!r}; known types: {', '.join(sorted(_KINDS))}."
        )
    return cls(workspace, name, {k: v for k, v in spec.items() if k != "type"})


def register_remote(workspace: Any, kind: str, name: str, **kwargs: Any) -> Datastore:
    """v1's ``register_*`` of a remote datastore: its connection written (``datastore_remote.py``), then the
    datastore kept in the workspace."""
    from airflow_azml.core.datastore_remote import remote_spec

    ds = datastore_from_spec(workspace, name, remote_spec(workspace, kind, name, **kwargs))
    workspace._add_datastore(ds)
    return ds
