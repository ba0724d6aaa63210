"""DatastoreXComBackend: small values in Airflow's DB, large ones on the default datastore.

Set ``[core] xcom_backend = airflow_azml.provider.xcom.DatastoreXComBackend``. PipelineData and dataset
references (a few hundred bytes of JSON) stay in the DB as usual. A value whose serialized size
is above ``[azml] xcom_threshold`` bytes (default 64 KiB) goes to the workspace's default
datastore under ``.azml/xcom/<dag>/<run>/<task>/<key>[_<map index>].{parquet,json}`` — a pandas
DataFrame as Parquet, anything else as JSON — and only a small reference (datastore, path, URI)
is stored in the DB, so TaskFlow tasks mixed into a pipeline DAG can pass DataFrames between
workers. The workspace is ``$AZML_WORKSPACE_CONFIG`` (or ``[azml] workspace_config``) when set,
else the default local workspace.

Airflow calls ``purge`` only when a task is cleared or retried; deleted runs leave their values
behind, which ``azml gc`` removes.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from airflow.sdk.bases.xcom import BaseXCom

from airflow_azml.execution.records import run_slug

__all__ = ["DatastoreXComBackend", "XCOM_PREFIX", "REF_KEY", "DEFAULT_THRESHOLD"]

XCOM_PREFIX = ".azml/xcom"
REF_KEY = "__azml_xcom__"
DEFAULT_THRESHOLD = 64 * 1024


def _conf(option: str, fallback: str | None) -> str | None:
    from airflow.configuration import conf

    return conf.get("azml", option, fallback=fallback)


def _threshold() -> int:
    return int(_conf("xcom_threshold", str(DEFAULT_THRESHOLD)) or DEFAULT_THRESHOLD)


def _workspace() -> Any:
    from airflow_azml.core.workspace import Workspace
    from airflow_azml.provider.deployment import configured_workspace_path

    path = configured_workspace_path()
    return Workspace.from_config(path) if path else Workspace()


def _datastore(name: str | None = None) -> Any:
    ws = _workspace()
    return ws._require_datastore(name) if name else ws.get_default_datastore()


def _object_path(
    dag_id: str | None,
    run_id: str | None,
    task_id: str | None,
    key: str | None,
    map_index: int | None,
    suffix: str,
) -> str:
    from airflow_azml.data.stores import check_relative

    parts = [run_slug(str(p)) for p in (dag_id, run_id, task_id, key)]
    name = parts[-1] + (f"_{map_index}" if map_index is not None and map_index >= 0 else "")
    return check_relative(f"{XCOM_PREFIX}/{parts[0]}/{parts[1]}/{parts[2]}/{name}.{suffix}")


def _is_dataframe(value: Any) -> bool:
    return type(value).__name__ == "DataFrame" and type(value).__module__.startswith("pandas")


class DatastoreXComBackend(BaseXCom):
    """XCom values above a size threshold live on the default datastore; the DB keeps a reference."""

    @staticmethod
    def serialize_value(
        value: Any,
        *,
        key: str | None = None,
        task_id: str | None = None,
        dag_id: str | None = None,
        run_id: str | None = None,
        map_index: int | None = None,
    ) -> Any:
        threshold = _threshold()
        if _is_dataframe(value):
            if int(value.memory_usage(deep=True).sum()) <= threshold:
                return BaseXCom.serialize_value(value)
            rel = _object_path(dag_id, run_id, task_id, key, map_index, "parquet")
            return _store_dataframe(value, rel)
        from airflow.sdk.serde import serialize

        encoded = json.dumps(serialize(value)).encode()
        if len(encoded) <= threshold:
            return BaseXCom.serialize_value(value)
        rel = _object_path(dag_id, run_id, task_id, key, map_index, "json")
        ds = _datastore()
        ds.store.write_bytes(rel, encoded)
        return {REF_KEY: ds.store.uri(rel), "datastore": ds.name, "path": rel, "format": "json"}

    @staticmethod
    def deserialize_value(result: Any) -> Any:
        data = BaseXCom.deserialize_value(result)
        if not (isinstance(data, dict) and REF_KEY in data):
            return data
        store = _datastore(data["datastore"]).store
        if data["format"] == "parquet":
            import pandas as pd

            from airflow_azml.data.cache import cached_copy

            return pd.read_parquet(cached_copy(store, data["path"]))
        from airflow.sdk.serde import deserialize

        return deserialize(json.loads(store.read_bytes(data["path"])))

    @classmethod
    def purge(cls, xcom: Any, *args: Any) -> None:
        """Delete the stored object of a cleared/retried task's XCom (Airflow calls this)."""
        value = getattr(xcom, "value", None)
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                return
        if isinstance(value, dict) and REF_KEY in value:
            _datastore(value["datastore"]).store.delete(value["path"])


def _store_dataframe(frame: Any, rel: str) -> dict[str, Any]:
    """Write Parquet to a local temp file, then stream it to the datastore (no second copy in memory)."""
    ds = _datastore()
    with tempfile.TemporaryDirectory(prefix="azml-xcom-") as tmp:
        local = Path(tmp) / "value.parquet"
        frame.to_parquet(local)
        ds.store.put(local, rel, overwrite=True)
    return {REF_KEY: ds.store.uri(rel), "datastore": ds.name, "path": rel, "format": "parquet"}
