"""Registering remote datastores with v1's signatures; credentials go into an Airflow connection.

``Datastore.register_azure_blob_container(ws, name, container_name, account_name, account_key=...)``
behaves as in v1, except that what v1 stored in the workspace (account_key, sas_token, a
service principal, a SQL user/password) becomes an Airflow connection the call creates
(``conn_id``, default ``azml_<datastore name>``). The workspace, the compiled plan, logs and
XCom only ever hold the connection id. Pass ``conn_id=`` alone to use a connection that already
exists (the recommended way on a deployment: secrets backends, env vars, the UI).

The connection is written through the orchestrator port: by the local adapter (a short ``python``
subprocess that imports Airflow against the deployment's ``AIRFLOW_HOME`` when one is set, else the
embedded home; the secrets travel on its stdin, never in argv or the environment). When the workspace runs its
pipelines on a running Airflow (``AZML_AIRFLOW_URL`` or the workspace file's ``airflow`` section),
the connection is also created (or updated) there through its REST API, where the tasks read it.
"""

from __future__ import annotations

import re
from typing import Any

from airflow_azml.core._home import airflow_settings, uses_remote_airflow
from airflow_azml.core._orchestrator import orchestrator
from airflow_azml.exceptions import AirflowApiError, DatastoreError, WorkspaceConfigError

__all__ = ["remote_spec", "connection_for", "CONN_TYPES"]

#: datastore kind -> Airflow connection type
CONN_TYPES = {
    "azure_blob": "wasb",
    "adls_gen2": "adls",
    "adls_gen1": "azure_data_lake",
    "azure_sql": "mssql",
    "postgres": "postgres",
}
_SECRET_ARGS = ("account_key", "sas_token", "client_secret", "password", "connection_string")
_PLACEHOLDER = re.compile(r"<[^<>]*>")
#: what Airflow accepts as a connection id (its REST API refuses anything else)
_CONN_ID = re.compile(r"[\w.-]{1,200}")
#: v1 arguments kept for the signature's sake: nothing here reads them, so a placeholder there is harmless
_UNUSED = {
    "subscription_id",
    "resource_group",
    "resource_url",
    "authority_url",
    "service_data_access_auth_identity",
}
_BLOB_ARGS = {
    "container_name",
    "account_name",
    "protocol",
    "endpoint",
    "account_key",
    "sas_token",
    "client_id",
    "client_secret",
    "tenant_id",
    "resource_url",
    "authority_url",
    "create_if_not_exists",
    "overwrite",
    "skip_validation",
    "blob_cache_timeout",
    "grant_workspace_access",
    "subscription_id",
    "resource_group",
    "service_data_access_auth_identity",
    "conn_id",
    "connection_string",
}
_GEN1_ARGS = {
    "store_name",
    "tenant_id",
    "client_id",
    "client_secret",
    "resource_url",
    "authority_url",
    "subscription_id",
    "resource_group",
    "overwrite",
    "grant_workspace_access",
    "service_data_access_auth_identity",
    "conn_id",
}
_SQL_ARGS = {
    "server_name",
    "database_name",
    "username",
    "password",
    "user_id",
    "user_password",
    "port",
    "endpoint",
    "client_id",
    "client_secret",
    "tenant_id",
    "resource_url",
    "authority_url",
    "enforce_ssl",
    "overwrite",
    "skip_validation",
    "grant_workspace_access",
    "subscription_id",
    "resource_group",
    "service_data_access_auth_identity",
    "conn_id",
}


def remote_spec(workspace: Any, kind: str, name: str, **kwargs: Any) -> dict[str, Any]:
    """The spec of datastore ``name`` of ``kind`` (``{"type": kind, ...}``, no secret); its connection is
    created first when credentials are given (``datastore.register_remote`` keeps it in the workspace).

    A Blob container given without any credential or ``conn_id`` is a public container, read
    anonymously (no connection is needed). Placeholder values left in v1 sample code
    (``"<my-account-name>"``) are refused at once, naming the argument to fill in.
    """
    _check_arguments(kind, name, kwargs)
    conn_id = kwargs.get("conn_id") or f"azml_{name}"
    spec = _spec(kind, conn_id, kwargs)
    connection = connection_for(kind, kwargs)
    create = bool(kwargs.get("create_if_not_exists")) and kind in ("azure_blob", "adls_gen2")
    if connection is not None or create:
        container = spec.get("container_name") if create else None
        _write_connection(conn_id, connection, container=container, workspace=workspace)
    elif kind == "azure_blob" and not kwargs.get("conn_id"):
        spec = {k: v for k, v in spec.items() if k != "conn_id"} | {"anonymous": True}
    elif not kwargs.get("conn_id"):
        raise DatastoreError(
            f"Datastore {name!r}: give conn_id= (an Airflow connection that exists) or credentials "
            "(account_key, sas_token, client_id/client_secret/tenant_id, or username/password) to create one."
        )
    return {"type": kind, **spec}


def _check_arguments(kind: str, name: str, kwargs: dict[str, Any]) -> None:
    allowed = {"azure_sql": _SQL_ARGS, "postgres": _SQL_ARGS, "adls_gen1": _GEN1_ARGS}.get(kind, _BLOB_ARGS)
    unknown = sorted(set(kwargs) - allowed)
    if unknown:
        raise DatastoreError(
            f"Datastore {name!r}: unknown argument(s) {', '.join(unknown)} for a {kind} datastore; "
            f"known: {', '.join(sorted(allowed))}."
        )
    placeholders = sorted(
        k
        for k, v in kwargs.items()
        if k not in _UNUSED and isinstance(v, str) and _PLACEHOLDER.fullmatch(v.strip())
    )
    if placeholders:
        shown = ", ".join(k if k in _SECRET_ARGS else f"{k}={kwargs[k]!r}" for k in placeholders)
        raise DatastoreError(
            f"Datastore {name!r}: {shown} {'is a placeholder' if len(placeholders) == 1 else 'are placeholders'} "
            f"left from sample code. Give the real value of {', '.join(placeholders)} (the v1 samples read them "
            "from environment variables), or pass conn_id= with an Airflow connection that holds the credentials."
        )


def _spec(kind: str, conn_id: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """What the workspace (and so the plan) keeps: names and the connection id, no secret."""
    keep = (
        "container_name",
        "account_name",
        "store_name",
        "server_name",
        "database_name",
        "protocol",
        "endpoint",
        "port",
    )
    spec = {k: kwargs[k] for k in keep if kwargs.get(k) is not None}
    spec["conn_id"] = conn_id
    return spec


def connection_for(kind: str, kw: dict[str, Any]) -> dict[str, Any] | None:
    """The Airflow connection (as a dict) v1's credential arguments describe, or None when none are given."""
    if kind in ("azure_sql", "postgres"):
        user = kw.get("username") or kw.get("user_id")
        password = kw.get("password") or kw.get("user_password")
        if not (user or kw.get("client_id")):
            return None
        host = kw["server_name"] if "." in kw["server_name"] else _sql_host(kind, kw)
        return {
            "conn_type": CONN_TYPES[kind],
            "host": host,
            "schema": kw["database_name"],
            "login": user or kw.get("client_id"),
            "password": password or kw.get("client_secret"),
            "port": kw.get("port") or (5432 if kind == "postgres" else 1433),
            "extra": {"tenant_id": kw["tenant_id"]} if kw.get("tenant_id") else {},
        }
    if kind == "adls_gen1":
        if not kw.get("client_id"):
            return None
        extra = {"tenant": kw.get("tenant_id"), "account_name": kw["store_name"]}
        return {
            "conn_type": CONN_TYPES[kind],
            "login": kw["client_id"],
            "password": kw.get("client_secret"),
            "extra": extra,
        }
    extra: dict[str, Any] = {"account_name": kw["account_name"]}
    endpoint = str(kw.get("endpoint") or "")
    if endpoint and not endpoint.startswith(("http://", "https://")) and endpoint != "core.windows.net":
        extra["account_host"] = f"{kw['account_name']}.blob.{endpoint}"  # sovereign clouds
    if (
        endpoint.startswith(("http://", "https://"))
        and kw.get("account_key")
        and not kw.get("connection_string")
    ):
        # ours: a full URL endpoint (an emulator, a private endpoint); adlfs only honours it in a connection string
        scheme = endpoint.split(":", 1)[0]
        kw = {
            **kw,
            "connection_string": f"DefaultEndpointsProtocol={scheme};AccountName={kw['account_name']};"
            f"AccountKey={kw['account_key']};BlobEndpoint={endpoint};",
        }
    if kw.get("connection_string"):
        extra["connection_string"] = kw["connection_string"]
    elif kw.get("sas_token"):
        extra["sas_token"] = kw["sas_token"]
    elif kw.get("client_id"):
        extra["tenant_id"] = kw.get("tenant_id")
        return {
            "conn_type": CONN_TYPES[kind],
            "login": kw["client_id"],
            "password": kw.get("client_secret"),
            "host": _account_url(kw),
            "extra": extra,
        }
    elif not kw.get("account_key"):
        return None
    return {
        "conn_type": CONN_TYPES[kind],
        "login": kw["account_name"],
        "password": kw.get("account_key"),
        "host": _account_url(kw),
        "extra": extra,
    }


def _account_url(kw: dict[str, Any]) -> str:
    """v1's protocol + endpoint suffix; ours: a full URL as ``endpoint`` (an emulator, a private endpoint)."""
    if str(kw.get("endpoint") or "").startswith(("http://", "https://")):
        return str(kw["endpoint"])
    return f"{kw.get('protocol') or 'https'}://{kw['account_name']}.blob.{kw.get('endpoint') or 'core.windows.net'}"


def _sql_host(kind: str, kw: dict[str, Any]) -> str:
    suffix = "postgres.database.azure.com" if kind == "postgres" else "database.windows.net"
    return f"{kw['server_name']}.{kw.get('endpoint') or suffix}"


def _write_connection(
    conn_id: str, connection: dict[str, Any] | None, container: str | None, workspace: Any = None
) -> None:
    """Create/replace the connection in Airflow's DB (and the container when asked), in a subprocess;
    and when ``workspace`` runs its pipelines on a running Airflow, there too, over its REST API."""
    if not _CONN_ID.fullmatch(conn_id):
        raise DatastoreError(
            f"conn_id={conn_id!r} is not a valid Airflow connection id: use up to 200 letters, digits, "
            "'_', '.' or '-' (no spaces)."
        )
    orchestrator(workspace, "local").put_connection(conn_id, connection, container)
    if connection is not None and workspace is not None:
        if uses_remote_airflow(workspace):
            _write_remote_connection(workspace, conn_id, connection)


def _write_remote_connection(workspace: Any, conn_id: str, connection: dict[str, Any]) -> None:
    """Create or update ``conn_id`` on the workspace's running Airflow (where ``Experiment.submit`` runs).

    The local copy stays too: this process reads the datastore through it (``upload``, ``download``).
    """
    where = airflow_settings(workspace).get("base_url")
    try:
        orchestrator(workspace, "rest").put_connection(conn_id, connection)
    except (AirflowApiError, WorkspaceConfigError) as exc:
        # `from None`: the server's validation errors may quote the request body, secret included
        raise DatastoreError(
            f"Could not create the Airflow connection {conn_id!r} on the Airflow at {where}: "
            f"{_redact(str(exc), connection)}\nCreate it there yourself (airflow connections add, the UI, a "
            "secrets backend) with the user's rights to write connections, and pass conn_id=."
        ) from None


def _redact(text: str, connection: dict[str, Any] | None) -> str:
    """Never echo a secret back, even inside an error message."""
    for key in _SECRET_ARGS:
        value = (connection or {}).get(key) or (connection or {}).get("extra", {}).get(key)
        if value:
            text = text.replace(str(value), "***")
    if connection and connection.get("password"):
        text = text.replace(str(connection["password"]), "***")
    return text
