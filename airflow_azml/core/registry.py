"""The workspace registry: every record v1 kept in the Azure ML service, as JSON on the default datastore.

This module is the one place that turns a record's id into its path and reads, lists, writes or
deletes records, for every kind. Every process that has the workspace file sees the same registry
(the deployment's loader DAG file, a step, the triggerer); each workspace has its own default
datastore (``Workspace.local_datastore_root``), so one workspace never sees another's records.

Two shapes of kind:

* **keyed**: one record per id, ``<folder>/<id>.json``: published pipelines, submitted
  experiment plans, pipeline endpoints, schedules, drafts (under ``.azml/published``) and
  modules (``.azml/modules``), their ids made safe by ``safe_id`` (they name DAGs); registered
  datastores (``.azml/datastores``, by name) and the saved definitions of unregistered datasets
  a run used (``.azml/saved_datasets``, by dataset id), their ids as given.
* **versioned**: one record ``{name, version, ...}`` per version, ``<folder>/<name>/<version>.json``:
  registered datasets, models and environments. Numbering new versions, the workspace file's
  declared datasets and announcing a new version (``data/announce.py``) belong to the kind's
  own module (``data/registry.py``, ``core/model.py``, ``core/environment.py``); they store
  through here.

The layout and the bytes written are those of the registries this module replaced, so existing
workspaces read their records unchanged.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_azml.data.stores.base import Store

__all__ = [
    "REGISTRY_PREFIX",
    "KINDS",
    "VERSIONED_KINDS",
    "VersionedRegistry",
    "safe_id",
    "folder",
    "record_path",
    "exists",
    "read",
    "write",
    "delete",
    "entries",
    "names",
    "versions",
    "stored_versions",
]

#: the folder of the publish registry's kinds (published pipelines, endpoints, schedules, ...)
REGISTRY_PREFIX = ".azml/published"


@dataclass(frozen=True)
class _Kind:
    folder: str
    #: ``<folder>/<name>/<version>.json`` (else ``<folder>/<id>.json``)
    versioned: bool = False
    #: ids pass through ``safe_id`` (they name DAGs); else they are stored as given
    safe_ids: bool = True
    #: the JSON indent each kind was always written with
    indent: int = 1
    #: values JSON cannot hold (a datetime in a published entry) are written as text; else they raise
    as_text: bool = True


_KINDS = {
    "pipelines": _Kind(f"{REGISTRY_PREFIX}/pipelines"),
    "submitted": _Kind(f"{REGISTRY_PREFIX}/submitted"),
    "endpoints": _Kind(f"{REGISTRY_PREFIX}/endpoints"),
    "schedules": _Kind(f"{REGISTRY_PREFIX}/schedules"),
    "drafts": _Kind(f"{REGISTRY_PREFIX}/drafts"),
    "modules": _Kind(".azml/modules"),
    "datastores": _Kind(".azml/datastores", safe_ids=False, indent=2, as_text=False),
    "saved_datasets": _Kind(".azml/saved_datasets", safe_ids=False, as_text=False),
    "datasets": _Kind(".azml/datasets", versioned=True, safe_ids=False, indent=2, as_text=False),
    "models": _Kind(".azml/models", versioned=True, safe_ids=False, indent=2, as_text=False),
    "environments": _Kind(".azml/environments", versioned=True, safe_ids=False, indent=2, as_text=False),
}
#: record kind -> the folder of its records on the default datastore
KINDS = {kind: spec.folder for kind, spec in _KINDS.items()}
#: the kinds recorded per name and version
VERSIONED_KINDS = frozenset(kind for kind, spec in _KINDS.items() if spec.versioned)
_UNSAFE = re.compile(r"[^\w.-]+")


def safe_id(text: str) -> str:
    """``text`` as a record id (and DAG id part): runs of other characters than letters, digits,
    ``_ . -`` become ``_``; never empty. Applying it twice changes nothing."""
    return _UNSAFE.sub("_", str(text)).strip("_") or "x"


def _kind(kind: str) -> _Kind:
    try:
        return _KINDS[kind]
    except KeyError:
        raise ValueError(f"Unknown registry kind {kind!r}: use one of {', '.join(sorted(_KINDS))}.") from None


def folder(kind: str, name: str | None = None) -> str:
    """The folder of ``kind``'s records; with ``name``, the folder of that versioned name's versions."""
    spec = _kind(kind)
    if name is None:
        return spec.folder
    if not spec.versioned:
        raise ValueError(f"Registry kind {kind!r} keeps one record per id, not a folder per name.")
    return f"{spec.folder}/{name}"


def record_path(kind: str, ident: str, version: int | None = None) -> str:
    """Where a record is, relative to the default datastore: ``ident`` of a keyed kind, or version
    ``version`` of the name ``ident`` of a versioned kind (names are stored as given)."""
    spec = _kind(kind)
    if not spec.versioned:
        if version is not None:
            raise ValueError(f"Registry kind {kind!r} has no versions; drop version={version!r}.")
        return f"{spec.folder}/{safe_id(ident) if spec.safe_ids else ident}.json"
    if version is None:
        raise ValueError(f"Registry kind {kind!r} is versioned: give the version of {ident!r}.")
    return f"{spec.folder}/{ident}/{version}.json"


def _store(ws: Any) -> Store:
    return ws.get_default_datastore().store


def _load(store: Store, rel: str) -> dict[str, Any]:
    return json.loads(store.read_bytes(rel))


def _dump(kind: str, entry: dict[str, Any]) -> bytes:
    spec = _KINDS[kind]
    return json.dumps(entry, indent=spec.indent, default=str if spec.as_text else None).encode()


def exists(ws: Any, kind: str, ident: str, version: int | None = None) -> bool:
    return bool(_store(ws).exists(record_path(kind, ident, version)))


def read(ws: Any, kind: str, ident: str, version: int | None = None) -> dict[str, Any] | None:
    """The record ``ident`` (at ``version``, for a versioned kind) of ``kind``, or None when there is none."""
    store, rel = _store(ws), record_path(kind, ident, version)
    return _load(store, rel) if store.exists(rel) else None


def write(ws: Any, kind: str, ident: str, entry: dict[str, Any], version: int | None = None) -> None:
    """Create or replace a record (of a versioned kind: ``ident`` is its name)."""
    _store(ws).write_bytes(record_path(kind, ident, version), _dump(kind, entry))


def delete(ws: Any, kind: str, ident: str, version: int | None = None) -> None:
    _store(ws).delete(record_path(kind, ident, version))


def entries(ws: Any, kind: str) -> list[dict[str, Any]]:
    """Every record of ``kind``: a keyed kind's in one listing of its folder (files in subfolders
    are not records); a versioned kind's every version of every name, by name then version."""
    if _kind(kind).versioned:
        reg = VersionedRegistry(ws, kind)
        return [reg.read(name, v) for name in sorted(reg.names()) for v in reg.versions(name)]
    store, prefix = _store(ws), KINDS[kind]
    if not store.exists(prefix):
        return []
    return [
        _load(store, r)
        for r in store.list_files(prefix)
        if r.endswith(".json") and "/" not in r[len(prefix) + 1 :]
    ]


def names(ws: Any, kind: str) -> set[str]:
    """The names a versioned ``kind`` holds versions of."""
    return VersionedRegistry(ws, kind).names()


def versions(ws: Any, kind: str, name: str) -> list[int]:
    """The stored versions of ``name`` of a versioned ``kind``, ascending."""
    return VersionedRegistry(ws, kind).versions(name)


def stored_versions(store: Store, where: str) -> list[int]:
    """The version numbers recorded in the folder ``where`` (only ``<where>/<n>.json`` counts), ascending."""
    if not store.exists(where):
        return []
    out = []
    for rel in store.list_files(where):
        parent, _, leaf = rel.rpartition("/")
        stem = leaf.removesuffix(".json")
        if parent == where and leaf.endswith(".json") and stem.isdigit():
            out.append(int(stem))
    return sorted(out)


class VersionedRegistry:
    """One versioned kind of one workspace, its default datastore looked up once (a listing of many
    versions reads each record through it)."""

    def __init__(self, workspace: Any, kind: str):
        if not _kind(kind).versioned:
            raise ValueError(f"Registry kind {kind!r} is not versioned; use read/write/entries with an id.")
        self.workspace = workspace
        self.kind = kind
        self.prefix = KINDS[kind]
        self.store = _store(workspace)

    def versions(self, name: str) -> list[int]:
        """The stored versions of ``name``, ascending (only ``<name>/<n>.json`` counts)."""
        return stored_versions(self.store, folder(self.kind, name))

    def read(self, name: str, version: int) -> dict[str, Any]:
        """Version ``version`` of ``name`` (one that ``versions`` listed: a missing one raises)."""
        return _load(self.store, record_path(self.kind, name, version))

    def write(self, record: dict[str, Any]) -> None:
        """Create or replace the version ``record["version"]`` of ``record["name"]``."""
        rel = record_path(self.kind, record["name"], record["version"])
        self.store.write_bytes(rel, _dump(self.kind, record))

    def names(self) -> set[str]:
        if not self.store.exists(self.prefix):
            return set()
        depth = self.prefix.count("/") + 1
        return {rel.split("/")[depth] for rel in self.store.list_files(self.prefix)}
