"""DataTransferStepOperator and the copy engine behind DataTransferStep.

Files move through the stores' own transfer paths: adlfs streams each object in parallel
blocks to or from a local staging file (never a whole object in memory), a local datastore is
read in place and published by rename, and every destination is published with
``Store.commit`` so readers never see a partial copy. SQL sources are read with a server-side
cursor in batches and written as CSV or Parquet; files are appended to a SQL table in one
transaction (PostgreSQL: ``COPY ... FROM STDIN``, others: batched inserts) after their header
has been checked against the table's columns. SQL goes through the common-sql DbApiHook of the
datastore's Airflow connection.

A DataFactoryCompute target whose spec names ``factory_name``, ``resource_group_name`` and
``pipeline_name`` delegates to the microsoft-azure provider's
``AzureDataFactoryRunPipelineOperator`` (the ADF pipeline does the copy, with the source and
destination passed as its parameters). That path cannot be exercised here (no Data Factory to
talk to) and is untested; without those settings the copy runs on the worker.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

from airflow_azml.core._home import azml_home
from airflow_azml.exceptions import DatastoreError, UserErrorException
from airflow_azml.execution.inputs import InputResolver
from airflow_azml.execution.lifecycle import StepAttempt
from airflow_azml.execution.outputs import output_location
from airflow_azml.execution.params import coerce_params
from airflow_azml.execution.records import run_slug
from airflow_azml.provider.operators._sql_transfer import files_to_sql, sql_to_file
from airflow_azml.provider.operators.step import AzmlStepOperator

__all__ = ["DataTransferStepOperator", "TransferEngine", "copy_files", "sql_to_file", "files_to_sql"]

_ADF_KEYS = ("factory_name", "resource_group_name", "pipeline_name")


class DataTransferStepOperator(AzmlStepOperator):
    """Runs one DataTransferStep: the step lifecycle (AzmlStepOperator.execute) around the copy."""

    ui_color = "#fef3c7"

    def run_step(self, attempt: StepAttempt, context: Any) -> dict[str, Any]:
        """The copy (or an Azure Data Factory pipeline); an earlier copy of the same source version to
        the same destination stands in when it can."""
        adf = _adf_settings(attempt.ws, self.step)
        if adf:
            attempt.record["transfer"] = self._run_adf(context, adf)
            return {}
        inv = attempt.inv
        engine = TransferEngine(attempt.ws, self.step, run_slug(inv.run_id), inv.try_number, log=attempt.log)
        params = coerce_params(inv.parameters, inv.params, self.step["name"])
        resolver = InputResolver(attempt.ws, engine.workdir, params, inv.upstream, self.step["name"])
        inputs = attempt.record["inputs"]
        for spec in self.step["inputs"]:
            inputs[spec["name"]] = dict(zip(("datastore", "path"), resolver._location(spec), strict=True))
        if attempt.decide(params, inputs, refuse=_never_reused(self.step)) is not None:
            return {}
        result = engine.run(resolver)
        attempt.record["transfer"] = result["stats"]
        return dict(result["outputs"])

    def _run_adf(self, context: Any, adf: dict[str, Any]) -> dict[str, Any]:
        """Delegate to an Azure Data Factory pipeline (untested here: no Data Factory on this machine);
        returns the record's ``transfer`` entry."""
        from airflow.providers.microsoft.azure.operators.data_factory import (
            AzureDataFactoryRunPipelineOperator,
        )

        op = AzureDataFactoryRunPipelineOperator(
            task_id=f"{self.task_id}__adf",
            azure_data_factory_conn_id=adf["conn_id"],
            pipeline_name=adf["pipeline_name"],
            resource_group_name=adf["resource_group_name"],
            factory_name=adf["factory_name"],
            wait_for_termination=True,
            parameters={"source": self.step["source"], "destination": self.step["destination"]},
        )
        op.execute(context)
        return {"engine": "azure_data_factory"}


def _never_reused(step: dict[str, Any]) -> str | None:
    """Why a transfer must always run: SQL data has no cheap content version to fingerprint."""
    if step["source"]["kind"] == "sql":
        return (
            "SQL source: a query's rows can change without its text changing and there is no cheap content "
            "version to fingerprint, so a SQL source is never reused"
        )
    if step["destination"]["kind"] == "sql":
        return "SQL destination: an append to a table is never reused (the table may have changed since)"
    return None


def _adf_settings(ws: Any, step: dict[str, Any]) -> dict[str, Any] | None:
    target = step.get("compute_target")
    spec = ws._compute_specs.get(target, {}) if target else {}
    if spec.get("type") != "DataFactory" or not all(spec.get(k) for k in _ADF_KEYS):
        return None
    return {**spec, "conn_id": spec.get("conn_id") or "azure_data_factory_default"}


class TransferEngine:
    """The worker-side copy of one DataTransferStep run."""

    def __init__(self, ws: Any, step: dict[str, Any], slug: str, try_number: int, log: Any):
        self.ws = ws
        self.step = step
        self.slug = slug
        self.log = log
        self.workdir = azml_home() / "work" / "transfer" / slug / step["task_id"] / f"try_{try_number}"

    def run(self, resolver: InputResolver) -> dict[str, Any]:
        src, dest = self.step["source"], self.step["destination"]
        began = time.monotonic()
        if dest["kind"] == "sql":
            store, rel = self._source(resolver)
            rows = files_to_sql(self._store_files(store, rel), self._sql_hook(dest), dest["sql_table"])
            return {"outputs": {}, "stats": {"rows": rows, "seconds": time.monotonic() - began}}
        ds_name, dest_store, dest_rel = self._destination()
        if src["kind"] == "sql":
            kind = self.step.get("destination_reference_type") or _sql_dest_type(dest_store, dest_rel)
            target = dest_rel if kind == "file" else f"{dest_rel}/data.csv".strip("/")
            staged = self._staging(dest_store, "sql") / Path(target).name
            rows = sql_to_file(self._sql_hook(src), src, staged)
            dest_store.commit(staged, target)
            stats = {"rows": rows}
            dest_rel = target if kind == "file" else dest_rel
        else:
            store, rel = self._source(resolver)
            stats = copy_files(
                store,
                rel,
                dest_store,
                dest_rel,
                self.step.get("source_reference_type"),
                self.step.get("destination_reference_type"),
                self._staging(dest_store, "copy"),
            )
        stats["seconds"] = round(time.monotonic() - began, 3)
        self.log.info("DataTransferStep %r: %s", self.step["name"], stats)
        name = self.step["output_name"]
        return {"outputs": {name: {"datastore": ds_name, "path": dest_rel}} if name else {}, "stats": stats}

    def _source(self, resolver: InputResolver) -> tuple[Any, str]:
        spec = next(i for i in self.step["inputs"] if i["name"] == self.step["source"]["name"])
        ds_name, rel = resolver._location(spec)
        store = self.ws._require_datastore(ds_name).store
        if not store.exists(rel):
            raise DatastoreError(
                f"DataTransferStep {self.step['name']!r}: source {ds_name}/{rel} does not exist (or is still being "
                "published)."
            )
        return store, rel

    def _destination(self) -> tuple[str, Any, str]:
        dest = self.step["destination"]
        if dest["kind"] == "datastore":
            ds = self.ws._require_datastore(dest["datastore"])
            return ds.name, ds.store, dest["path"]
        out = next(o for o in self.step["outputs"] if o["name"] == dest["name"])
        ds = (
            self.ws._require_datastore(out["datastore"])
            if out.get("datastore")
            else self.ws.get_default_datastore()
        )
        return ds.name, ds.store, output_location(out, self.slug, self.step["task_id"])

    def _staging(self, dest_store: Any, what: str) -> Path:
        """Next to a local destination (so publishing is a rename), else in the work folder."""
        root = dest_store.local_path(".azml") if dest_store.local_path("") is not None else None
        base = (root / "staging" / "transfer") if root is not None else self.workdir
        path = base / f"{self.slug}_{self.step['task_id']}_{uuid.uuid4().hex[:8]}" / what
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _store_files(self, store: Any, rel: str) -> list[Path]:
        from airflow_azml.data.cache import cached_copy

        return [cached_copy(store, f) for f in store.list_files(rel)]

    def _sql_hook(self, spec: dict[str, Any]) -> Any:
        from airflow.sdk import BaseHook

        conn_id = self.ws._require_datastore(spec["datastore"]).conn_id
        return BaseHook.get_connection(conn_id).get_hook()


def _sql_dest_type(store: Any, rel: str) -> str:
    if store.exists(rel):
        return "directory" if store.is_dir(rel) else "file"
    return "file" if rel.lower().endswith((".csv", ".parquet")) else "directory"


# -- files -> files ---------------------------------------------------------------------------
def copy_files(
    src: Any,
    src_rel: str,
    dest: Any,
    dest_rel: str,
    src_type: str | None,
    dest_type: str | None,
    staging: Path,
) -> dict[str, Any]:
    """Copy a file or folder between two stores with v1's reference-type rules; publish with commit."""
    actual = "directory" if src.is_dir(src_rel) else "file"
    if src_type and src_type != actual:
        raise UserErrorException(f"source_reference_type={src_type!r}, but {src.uri(src_rel)} is a {actual}.")
    if dest_type is None:
        dest_type = ("directory" if dest.is_dir(dest_rel) else "file") if dest.exists(dest_rel) else actual
    if actual == "directory" and dest_type == "file":
        raise UserErrorException(
            f"Cannot copy the directory {src.uri(src_rel)} into the file {dest.uri(dest_rel)}; "
            "use destination_reference_type='directory'."
        )
    target = dest_rel
    if actual == "file" and dest_type == "directory":
        target = f"{dest_rel}/{src_rel.rsplit('/', 1)[-1]}".strip("/")
    if hasattr(dest, "same_account") and dest.same_account(src):
        size = dest.commit_copy(src, src_rel, target)  # Blob "Copy Blob": no byte passes through the worker
        return {
            "files": len(src.list_files(src_rel)),
            "bytes": size,
            "destination": target,
            "server_side": True,
        }
    local = src.local_path(src_rel)
    if local is None or dest.local_path("") is not None:
        staged = staging / (src_rel.rsplit("/", 1)[-1] or "data")
        local = src.get(src_rel, staged, overwrite=True) if local is None else _local_copy(local, staged)
    count = len(src.list_files(src_rel))
    size = sum(p.stat().st_size for p in ([local] if local.is_file() else local.rglob("*")) if p.is_file())
    dest.commit(local, target)
    return {"files": count, "bytes": size, "destination": target}


def _local_copy(source: Path, staged: Path) -> Path:
    """Local to local: copy next to the destination (then publish by rename); reflinks where the FS can."""
    import shutil

    if source.is_dir():
        shutil.copytree(source, staged)
    else:
        shutil.copy2(source, staged)
    return staged
