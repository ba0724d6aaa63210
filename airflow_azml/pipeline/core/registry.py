"""The registry of published pipelines, submitted plans, endpoints, schedules, drafts and modules.

Each is a JSON record on the workspace's default datastore, ``<prefix of its kind>/<id>.json``;
this module is the one place that turns an id into a record's path and reads, lists, writes or
deletes records (v1 kept them in the Azure ML service; here every process that has the
workspace file sees the same registry, the deployment's loader DAG file included). Registered
datasets, models and environments have registries of their own (``data/registry.py``).
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = [
    "REGISTRY_PREFIX",
    "KINDS",
    "safe_id",
    "record_path",
    "exists",
    "read",
    "write",
    "delete",
    "entries",
]

REGISTRY_PREFIX = ".azml/published"
#: record kind -> the folder of its records on the default datastore
KINDS = {
    "pipelines": f"{REGISTRY_PREFIX}/pipelines",
    "submitted": f"{REGISTRY_PREFIX}/submitted",
    "endpoints": f"{REGISTRY_PREFIX}/endpoints",
    "schedules": f"{REGISTRY_PREFIX}/schedules",
    "drafts": f"{REGISTRY_PREFIX}/drafts",
    "modules": ".azml/modules",
}
_UNSAFE = re.compile(r"[^\w.-]+")


def safe_id(text: str) -> str:
    """``text`` as a record id (and DAG id part): runs of other characters than letters, digits,
    ``_ . -`` become ``_``; never empty. Applying it twice changes nothing."""
    return _UNSAFE.sub("_", str(text)).strip("_") or "x"


def record_path(kind: str, ident: str) -> str:
    """Where the record ``ident`` of ``kind`` is, relative to the default datastore."""
    return f"{KINDS[kind]}/{safe_id(ident)}.json"


def _store(ws: Any) -> Any:
    return ws.get_default_datastore().store


def exists(ws: Any, kind: str, ident: str) -> bool:
    return bool(_store(ws).exists(record_path(kind, ident)))


def read(ws: Any, kind: str, ident: str) -> dict[str, Any] | None:
    """The record ``ident`` of ``kind``, or None when there is none."""
    store, rel = _store(ws), record_path(kind, ident)
    return json.loads(store.read_bytes(rel)) if store.exists(rel) else None


def write(ws: Any, kind: str, ident: str, entry: dict[str, Any]) -> None:
    """Create or replace the record ``ident`` of ``kind``."""
    _store(ws).write_bytes(record_path(kind, ident), json.dumps(entry, indent=1, default=str).encode())


def delete(ws: Any, kind: str, ident: str) -> None:
    _store(ws).delete(record_path(kind, ident))


def entries(ws: Any, kind: str) -> list[dict[str, Any]]:
    """Every record of ``kind`` (one listing of its folder; files in subfolders are not records)."""
    store, prefix = _store(ws), KINDS[kind]
    if not store.exists(prefix):
        return []
    return [
        json.loads(store.read_bytes(r))
        for r in store.list_files(prefix)
        if r.endswith(".json") and "/" not in r[len(prefix) + 1 :]
    ]
