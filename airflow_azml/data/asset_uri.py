"""Stable names for data: a datastore + logical path (or a SQL table) as an Asset / OpenLineage dataset.

Pure (standard library only, no I/O): everything comes from a datastore's spec, the dict a
workspace keeps per datastore and a plan carries in ``plan["workspace"]["config"]["datastores"]``
(``{"type": "azure_blob", "account_name": ..., "container_name": ..., "endpoint": ...}``).

One location gives one :class:`AssetRef`: ``uri`` (also the Asset's ``name``, so everything that
declares the same location declares the same Asset) and the OpenLineage dataset it is
(``namespace`` = the URI without its path; ``path`` = the path below it, or ``db.schema.table``):
``abfs://<container>@<account>.dfs.core.windows.net/<path>`` for Blob and ADLS Gen2 (the
endpoint's host for a sovereign cloud or an emulator), ``file:///<abs path>`` for a local folder,
``postgres://host:5432/db/schema/table`` (``mssql://``, ``mysql://host:3306/db/table``) for a table,
``adl://<store>.azuredatalakestore.net/<path>`` for ADLS Gen1, ``dbfs:/<path>`` for DBFS.
Airflow 3.3 keeps ``<container>@`` in an Asset URI (it drops user info only with a password).

Non-ASCII characters and spaces are percent-encoded (Airflow refuses non-ASCII names and URIs).
A datastore whose spec is unknown at parse time gets Azure ML's own form,
``azureml://datastores/<name>/paths/<path>`` (with the workspace's subscription and resource
group, and its name, in front when they are known), as ``data/watch.py`` names registered
datasets and models.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import quote, urlsplit

__all__ = [
    "AssetRef",
    "DatastoreBase",
    "datastore_base",
    "datastore_asset",
    "table_asset",
    "logical_output_path",
    "run_output_path",
    "AZURE_STORAGE_KINDS",
    "SQL_KINDS",
]

AZURE_STORAGE_KINDS = ("azure_blob", "adls_gen2")
# datastore kind -> (URI scheme, default port, default schema or None when the database has none)
SQL_KINDS: dict[str, tuple[str, int, str | None]] = {
    "postgres": ("postgres", 5432, "public"),
    "azure_sql": ("mssql", 1433, "dbo"),
    "mysql": ("mysql", 3306, None),
}
_SQL_SUFFIX = {
    "postgres": "postgres.database.azure.com",
    "azure_sql": "database.windows.net",
    "mysql": "mysql.database.azure.com",
}
_SAFE = "/:-._~!$&'()*+,;=@"  # kept as they are; everything else (spaces, non-ASCII, %, ?, #) is encoded


class AssetRef(NamedTuple):
    """One piece of data, named for Airflow (``name`` = ``uri``) and OpenLineage (``namespace``, ``path``).

    A named tuple: a DAG file builds a few per step at every parse, and a tuple is the cheapest
    immutable record to build.
    """

    name: str
    uri: str
    namespace: str
    path: str

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "uri": self.uri, "namespace": self.namespace, "path": self.path}


_PLAIN = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~/")


def _clean(path: str) -> str:
    """A datastore-relative path: no leading/trailing '/', no empty or '.' segments, percent-encoded."""
    text = str(path or "")
    wrapped = f"/{text}/"
    if _PLAIN.issuperset(text) and "//" not in wrapped and "/./" not in wrapped:
        return text  # already clean: most paths, so most parses skip quote()
    parts = [p for p in text.replace("\\", "/").split("/") if p not in ("", ".")]
    return quote("/".join(parts), safe=_SAFE)


@dataclass(frozen=True)
class DatastoreBase:
    """Where a datastore's paths start: ``root`` + ``/`` + path is the URI, ``ol_root`` + path the
    OpenLineage name. Build it once per datastore with :func:`datastore_base`, then :meth:`at`."""

    root: str
    namespace: str
    ol_root: str = ""
    #: the URI of the datastore's root ends with '/' (Airflow's form for a URI with a host and no path)
    slash_root: bool = True

    def at(self, path: str = "") -> AssetRef:
        rel = _clean(path)
        if rel:
            full = f"{self.root}/{rel}"
        else:
            full = f"{self.root}/" if self.slash_root else self.root
        return AssetRef(full, full, self.namespace, f"{self.ol_root}{rel}")  # name, uri, namespace, path


def datastore_base(
    spec: Mapping[str, Any] | None,
    *,
    datastore: str = "",
    workspace: Mapping[str, Any] | None = None,
) -> DatastoreBase:
    """The base of every asset on the datastore ``spec`` describes (its ``type`` says the kind).

    ``datastore`` (its name) and ``workspace`` (a workspace config: ``subscription_id``,
    ``resource_group``, ``workspace_name``) name a datastore whose spec is not known.
    """
    spec = spec or {}
    kind = str(spec.get("type") or "")
    if kind in AZURE_STORAGE_KINDS:
        return _azure_storage(spec, datastore)
    if kind == "local" and spec.get("path"):
        root = _clean(str(spec["path"]))
        if not root:  # the file system's root
            return DatastoreBase("file://", "file", "/")
        return DatastoreBase(f"file:///{root}", "file", f"/{root}/", slash_root=False)
    if kind == "adls_gen1" and spec.get("store_name"):
        namespace = f"adl://{spec['store_name']}.azuredatalakestore.net"
        return DatastoreBase(namespace, namespace)
    if kind == "dbfs":
        return DatastoreBase("dbfs:", "dbfs", "/")
    if kind in SQL_KINDS:
        raise ValueError(
            f"Datastore {datastore or '?'!r} ({kind}) holds tables, not files: name a table with table_asset()."
        )
    namespace = _azureml_base(datastore or "unknown", workspace)
    return DatastoreBase(namespace, namespace)


def datastore_asset(
    spec: Mapping[str, Any] | None,
    path: str = "",
    *,
    datastore: str = "",
    workspace: Mapping[str, Any] | None = None,
) -> AssetRef:
    """The asset for ``path`` on the datastore described by ``spec`` (see :func:`datastore_base`)."""
    return datastore_base(spec, datastore=datastore, workspace=workspace).at(path)


def _azure_storage(spec: Mapping[str, Any], datastore: str) -> DatastoreBase:
    account = str(spec.get("account_name") or "")
    container = str(spec.get("container_name") or "")
    if not (account and container):
        raise ValueError(
            f"Datastore {datastore or '?'!r} ({spec.get('type')}) has no account_name/container_name in its spec; "
            "register it with Datastore.register_azure_blob_container(...) or declare both in the workspace file."
        )
    endpoint = str(spec.get("endpoint") or "")
    if endpoint.startswith(
        ("http://", "https://")
    ):  # an emulator or private endpoint: the URL is the account
        url = urlsplit(endpoint)
        host = f"{url.netloc}{url.path.rstrip('/')}"
    else:
        host = f"{account}.dfs.{endpoint or 'core.windows.net'}"
    namespace = f"abfs://{container}@{host}"
    return DatastoreBase(namespace, namespace)


def _azureml_base(datastore: str, workspace: Mapping[str, Any] | None) -> str:
    """``azureml://[subscriptions/<s>/resourcegroups/<rg>/][workspaces/<ws>/]datastores/<name>/paths``:
    the scope as far as it is known ("local", a workspace file's placeholder, is not)."""
    ws = workspace or {}

    def known(key: str) -> str:
        value = str(ws.get(key) or "")
        return "" if value == "local" else value

    scope = ""
    if known("subscription_id") and known("resource_group"):
        scope = f"subscriptions/{known('subscription_id')}/resourcegroups/{known('resource_group')}/"
    if known("workspace_name"):
        scope += f"workspaces/{known('workspace_name')}/"
    return f"azureml://{quote(scope, safe='/')}datastores/{quote(datastore, safe='')}/paths"


def table_asset(spec: Mapping[str, Any] | None, table: str, *, datastore: str = "") -> AssetRef:
    """The asset for ``table`` (``table`` or ``schema.table``) in the SQL datastore ``spec``.

    The host is ``server_name`` when it has a dot, else Azure's host for it
    (``<server>.postgres.database.azure.com``, ``<server>.database.windows.net``); the port is
    always written (``port`` or the kind's default), as Airflow's postgres normalizer would.
    """
    spec = spec or {}
    kind = str(spec.get("type") or "")
    if kind not in SQL_KINDS:
        raise ValueError(
            f"Datastore {datastore or '?'!r} ({kind or 'unknown kind'}) is not a SQL datastore; "
            f"table {table!r} needs one of: {', '.join(sorted(SQL_KINDS))}."
        )
    scheme, default_port, default_schema = SQL_KINDS[kind]
    server = str(spec.get("server_name") or "")
    database = str(spec.get("database_name") or "")
    if not (server and database and table):
        raise ValueError(
            f"Datastore {datastore or '?'!r} ({kind}) needs server_name and database_name, and a table name, "
            f"to name table {table!r}."
        )
    host = server if "." in server else f"{server}.{spec.get('endpoint') or _SQL_SUFFIX[kind]}"
    port = int(spec.get("port") or default_port)
    parts = [p.strip('"[]`') for p in str(table).split(".")]
    if default_schema is None:
        names = [database, parts[-1]]
    else:
        names = [database, parts[-2] if len(parts) > 1 else default_schema, parts[-1]]
    names = [quote(n, safe="") for n in names]
    namespace = f"{scheme}://{host.lower()}:{port}"
    full = f"{namespace}/{'/'.join(names)}"
    return AssetRef(name=full, uri=full, namespace=namespace, path=".".join(names))


def run_output_path(output: Mapping[str, Any], run_slug: str, task_id: str) -> str:
    """Where one run publishes a step output (plan output spec): the run-scoped datastore path.

    ``azureml/<run>/<task>/<name>`` for PipelineData; an OutputFileDatasetConfig's destination with
    ``{run-id}`` = ``<run>_<task>`` and ``{output-name}`` filled in.
    """
    if output.get("kind") == "output_dataset":
        dest = str(output.get("destination") or "dataset/{run-id}/{output-name}")
        return (
            dest.replace("{run-id}", f"{run_slug}_{task_id}")
            .replace("{output-name}", output["name"])
            .strip("/")
        )
    return f"azureml/{run_slug}/{task_id}/{output['name']}"


def logical_output_path(output: Mapping[str, Any], dag_id: str, task_id: str) -> str:
    """The stable location of a step output: :func:`run_output_path` with the run replaced by the pipeline.

    Every run of DAG ``dag_id`` publishes the output under the same logical path
    (``azureml/<dag_id>/<task>/<name>``, ``dataset/<dag_id>_<task>/<name>``), which names the Asset;
    a destination without ``{run-id}`` is its own logical path (every run writes the same place).
    """
    return run_output_path(output, dag_id, task_id)
