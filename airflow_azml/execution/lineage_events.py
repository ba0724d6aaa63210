"""What one successful step run tells about each of its outputs: the extra of its asset event.

Engine-neutral: the Airflow side (``AzmlStepOperator``) puts these into ``outlet_events`` so that
Airflow records one asset event per output of every successful step, whatever its kind:

``pipeline_run_id`` (the Airflow run id), ``step`` (name), ``task_id``, ``step_run_id``;
``datastore`` and ``path`` (this run's run-scoped location); ``size`` (bytes below it),
``files`` and ``version`` (the datastore's content version: the Blob ETag, or a hash of the
files' ETags/sizes/mtimes for a folder); ``fingerprint`` (the reuse fingerprint); ``reused``
and, for a reused step, ``reused_from`` (the earlier run and step run that made the data).
A SQL table written by a DataTransferStep gets ``table`` (and ``rows`` when known) instead of a
path. Reading the size and version costs one listing per output; a failure to read them is
logged and the event goes out without them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from airflow_azml.compiler.lineage import SQL_OUTLET_PREFIX
from airflow_azml.execution.records import step_run_id

__all__ = ["output_event_extras", "content_stat"]


def content_stat(store: Any, rel: str) -> dict[str, Any]:
    """``{"size", "files", "version"}`` of the file or folder ``rel`` on ``store``."""
    sizes = store.sizes(rel)
    known = [s for s in sizes.values() if s is not None]
    size = sum(known) if len(known) == len(sizes) else None
    return {"size": size, "files": len(sizes), "version": store.version(rel)}


def output_event_extras(
    ws: Any,
    *,
    run_id: str,
    step: Mapping[str, Any],
    result: Mapping[str, Any],
    outlets: Iterable[str],
    record: Mapping[str, Any] | None = None,
    log: Any = None,
) -> dict[str, dict[str, Any]]:
    """outlet key (output name, or ``sql:<table>``) -> the extra of its asset event for this run."""
    base: dict[str, Any] = {
        "pipeline_run_id": run_id,
        "step": step["name"],
        "task_id": step["task_id"],
        "step_run_id": step_run_id(run_id, step["task_id"]),
        "reused": bool(result.get("reused")),
    }
    earlier = result.get("reused_from")
    if earlier:
        base["reused_from"] = {
            "pipeline_run_id": earlier.get("run_id"),
            "step_run_id": earlier.get("step_run_id"),
            "step": earlier.get("step"),
        }
    outputs: Mapping[str, Any] = result.get("outputs") or {}
    extras = {}
    for key in outlets:
        extra = dict(base)
        if key.startswith(SQL_OUTLET_PREFIX):
            extra["table"] = key[len(SQL_OUTLET_PREFIX) :]
            rows = ((record or {}).get("transfer") or {}).get("rows")
            if rows is not None:
                extra["rows"] = rows
        elif key in outputs:
            extra.update(_published(ws, key, outputs[key], log))
        extras[key] = extra
    return extras


def _published(ws: Any, name: str, where: Mapping[str, Any], log: Any) -> dict[str, Any]:
    extra = {"datastore": where.get("datastore"), "path": where.get("path")}
    if where.get("fingerprint"):
        extra["fingerprint"] = where["fingerprint"]
    try:
        store = ws._require_datastore(where["datastore"]).store
        extra.update(content_stat(store, str(where["path"])))
    except Exception as exc:  # the data is published; an unreadable size must not fail the step
        if log is not None:
            log.warning("Output %r: could not read its size and version for the asset event (%s).", name, exc)
    return extra
