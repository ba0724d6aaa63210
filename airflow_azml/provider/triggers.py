"""Event-driven schedules: our ``BaseEventTrigger`` (run in Airflow's triggerer) and the Assets it watches.

``DatastoreChangeTrigger`` looks at one folder of a datastore every ``poll_interval`` seconds and
fires one ``TriggerEvent`` per change, none when nothing changed (``airflow_azml.data.watch``):

* ``watch="blobs"``: per new or changed file directly in the folder, ``{"datastore", "path",
  "version"}`` (the Blob ETag; size+mtime on a local folder). A v1 ``Schedule.create(...,
  datastore=, path_on_datastore=)`` is an Asset of that folder with this watcher.
* ``watch="versions"``: per new version of a registered dataset or model, ``{"kind", "name",
  "version"}``, read from the registry on the default datastore, wherever it was registered (a
  notebook, a step, another machine). ``dataset_asset`` / ``model_asset`` give their Assets.

Airflow turns each event into an asset event (``extra = {"from_trigger": True, "payload": ...}``)
and runs the DAGs scheduled on the asset. What the trigger has seen is kept in Airflow's asset
state store (``[state_store]``, per asset) when the triggerer gives it one, so a restarted trigger
goes on from there; without one (or if a restart comes between an event and its state write) it
fires the changes again, and the consumers are idempotent: a datastore schedule's run id is made
of the blob's path and version, so a blob version never starts two runs.

``AZML_WATCH_POLL_SECONDS`` in the triggerer's environment overrides every watch's interval
(tests and demos; the interval is not part of the trigger's identity then).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from typing import Any

from airflow.sdk import Asset, AssetWatcher
from airflow.triggers.base import BaseEventTrigger, TriggerEvent

from airflow_azml.data.asset_uri import datastore_asset as datastore_asset_ref
from airflow_azml.data.watch import (
    changed_blobs,
    folder_blobs,
    new_versions,
    registry_asset,
    registry_folder,
    stored_versions,
)
from airflow_azml.exceptions import UserErrorException

__all__ = [
    "DatastoreChangeTrigger",
    "dataset_asset",
    "model_asset",
    "folder_asset",
    "schedule_assets",
    "POLL_ENV",
]

POLL_ENV = "AZML_WATCH_POLL_SECONDS"
_STATE_KEY = "azml_watch"
_REGISTRY_POLL = 60.0


class DatastoreChangeTrigger(BaseEventTrigger):
    """Fires one event per new or changed blob (``watch="blobs"``) or per new registered version
    (``watch="versions"``) in ``folder`` of datastore ``datastore`` of ``workspace`` (a workspace spec)."""

    def __init__(
        self,
        workspace: dict[str, Any],
        datastore: str,
        folder: str,
        watch: str = "blobs",
        poll_interval: float = 300.0,
    ):
        super().__init__()
        if watch not in ("blobs", "versions"):
            raise ValueError(f"DatastoreChangeTrigger: watch must be 'blobs' or 'versions', not {watch!r}.")
        self.workspace = workspace
        self.datastore = datastore
        self.folder = folder.strip("/")
        self.watch = watch
        self.poll_interval = float(poll_interval)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "workspace": self.workspace,
                "datastore": self.datastore,
                "folder": self.folder,
                "watch": self.watch,
                "poll_interval": self.poll_interval,
            },
        )

    # -- the watch ---------------------------------------------------------------------------
    def _store(self) -> Any:
        from airflow_azml.core.workspace import Workspace

        return Workspace.from_spec(self.workspace)._require_datastore(self.datastore).store

    def _look(self, store: Any) -> Any:
        if self.watch == "blobs":
            return folder_blobs(store, self.folder)
        return stored_versions(store, self.folder)

    def _changes(self, current: Any, seen: Any) -> tuple[list[dict[str, Any]], Any]:
        """(event payloads, what is seen now) for one look."""
        if self.watch == "blobs":
            seen = dict(seen or {})
            found = changed_blobs(current, seen)
            seen.update(found)
            payloads = [{"datastore": self.datastore, "path": rel, "version": ver} for rel, ver in found]
            return payloads, seen
        last = seen if isinstance(seen, int) else None
        kind, _, name = self.folder.rpartition("/")
        payloads = [
            {"kind": kind.rsplit("/", 1)[-1], "name": name, "version": v} for v in new_versions(current, last)
        ]
        return payloads, max([*current, last or 0])

    def _not_announced(self, store: Any, payloads: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The versions nobody announced already (a step's ``register_on_complete`` version is its
        task's asset event, through an AssetAlias; a ``register`` outside a step posted its own,
        ``data/announce.py``), each with who registered it when the record says (a step run, or a
        model's ``run_id``)."""
        out = []
        for payload in payloads:
            try:
                record = json.loads(store.read_bytes(f"{self.folder}/{payload['version']}.json"))
            except Exception:  # unreadable: announce it rather than lose it
                record = {}
            by = record.get("registered_by")
            if by is None and record.get("run_id"):  # a model registered by a run
                by = {"run_id": record["run_id"]}
            if not (by or {}).get("announced_by"):
                out.append({**payload, **({"registered_by": by} if by else {})})
        return out

    def _interval(self) -> float:
        override = os.environ.get(POLL_ENV)
        return float(override) if override else self.poll_interval

    # -- state across restarts ---------------------------------------------------------------
    def _accessor(self) -> Any:
        """The asset state store of the one watched asset, or None (none given, or several assets)."""
        stores = getattr(self, "asset_state_store", None)
        if stores is None:
            return None
        try:
            return stores._single_accessor()
        except (ValueError, AttributeError):
            return None

    async def _load(self, accessor: Any) -> Any:
        if accessor is None:
            return None
        try:
            return await accessor.aget(_STATE_KEY)
        except Exception as exc:  # an old Airflow, a state store turned off: watch from memory only
            self.log.warning("No asset state store for %s (%s); watching from memory only.", self.folder, exc)
            return None

    async def _save(self, accessor: Any, seen: Any) -> None:
        if accessor is None:
            return
        try:
            await accessor.aset(_STATE_KEY, seen)
        except Exception as exc:
            self.log.warning("Could not keep the watch state of %s: %s", self.folder, exc)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        store = await asyncio.to_thread(self._store)
        accessor = self._accessor()
        seen = await self._load(accessor)
        first = True
        while True:
            try:
                current = await asyncio.to_thread(self._look, store)
            except Exception as exc:  # a transient listing failure must not end the watch
                self.log.warning("Listing %s/%s failed: %s", self.datastore, self.folder, exc)
            else:
                payloads, now = self._changes(current, seen)
                if payloads and self.watch == "versions":
                    payloads = await asyncio.to_thread(self._not_announced, store, payloads)
                for payload in payloads:
                    yield TriggerEvent(payload)
                if payloads or first or now != seen:
                    await self._save(accessor, now)
                seen, first = now, False
            await asyncio.sleep(self._interval())


# -- the Assets --------------------------------------------------------------------------------
def _spec(workspace: Any) -> dict[str, Any]:
    """A workspace spec (a Workspace, or ``Workspace.to_spec()``/a plan's ``workspace``)."""
    return workspace.to_spec() if hasattr(workspace, "to_spec") else dict(workspace)


def _watch_spec(spec: dict[str, Any], datastore: str | None) -> dict[str, Any]:
    """Only what the watch needs (the trigger's identity should not change with unrelated config)."""
    cfg = spec.get("config") or {}
    stores = cfg.get("datastores") or {}
    default = cfg.get("default_datastore") or "workspaceblobstore"
    keep = {n: stores[n] for n in sorted({default, datastore or default}) if n in stores}
    trimmed = {k: cfg[k] for k in ("workspace_name", "subscription_id", "resource_group") if cfg.get(k)}
    return {"config": {**trimmed, "default_datastore": default, "datastores": keep}}


def _registry_asset(workspace: Any, kind: str, name: str, poll_interval: float) -> Asset:
    spec = _spec(workspace)
    watch = _watch_spec(spec, None)
    ref = registry_asset(spec.get("config"), kind, name)
    trigger = DatastoreChangeTrigger(
        watch, watch["config"]["default_datastore"], registry_folder(kind, name), "versions", poll_interval
    )
    return Asset(
        name=ref.name,
        uri=ref.uri,
        group=kind.rstrip("s"),
        watchers=[AssetWatcher(name=f"azml_{kind}_{name}", trigger=trigger)],
    )


def dataset_asset(workspace: Any, name: str, poll_interval: float = _REGISTRY_POLL) -> Asset:
    """The Asset of registered dataset ``name``: one event per newly registered version.

    Schedule a DAG on it (``pipeline.to_dag(..., schedule=[Dataset.get_by_name(ws, name)])`` does
    this) to run it when a new version is registered.
    """
    return _registry_asset(workspace, "datasets", name, poll_interval)


def model_asset(workspace: Any, name: str, poll_interval: float = _REGISTRY_POLL) -> Asset:
    """The Asset of registered model ``name``: one event per ``Model.register`` of a new version."""
    return _registry_asset(workspace, "models", name, poll_interval)


def folder_asset(workspace: Any, datastore: str, folder: str, poll_interval: float, watcher: str) -> Asset:
    """The Asset of ``folder`` on ``datastore`` with a watcher firing per new or changed blob in it."""
    spec = _spec(workspace)
    cfg = spec.get("config") or {}
    store_spec = (cfg.get("datastores") or {}).get(datastore)
    if store_spec is None and hasattr(workspace, "_require_datastore"):  # registered, not declared
        store_spec = workspace._require_datastore(datastore).to_spec()
    ref = datastore_asset_ref(store_spec, folder, datastore=datastore, workspace=cfg)
    trigger = DatastoreChangeTrigger(_watch_spec(spec, datastore), datastore, folder, "blobs", poll_interval)
    return Asset(name=ref.name, uri=ref.uri, watchers=[AssetWatcher(name=watcher, trigger=trigger)])


def schedule_assets(schedule: Any, workspace: Any) -> Any:
    """A DAG ``schedule`` with each registered dataset or model in it replaced by its watched Asset.

    ``schedule`` is a dataset or model, or a list/tuple mixing them with Airflow Assets; anything
    else is returned as it is. ``workspace`` (a spec) is used for objects that carry none.
    """
    items = schedule if isinstance(schedule, list | tuple) else [schedule]
    if not any(_registered_kind(item) for item in items):
        return schedule
    out = []
    for item in items:
        kind = _registered_kind(item)
        if kind is None:
            out.append(item)
            continue
        if not getattr(item, "name", None):
            raise UserErrorException(
                f"schedule=[{item!r}]: only a registered dataset has versions to run on; register it "
                "(ds.register(ws, 'name')) and schedule on Dataset.get_by_name(ws, 'name')."
            )
        owner = getattr(item, "_workspace", None) or getattr(item, "workspace", None)
        ws = owner if owner is not None else workspace
        out.append(dataset_asset(ws, item.name) if kind == "datasets" else model_asset(ws, item.name))
    return out


def _registered_kind(item: Any) -> str | None:
    """'datasets' for a dataset, 'models' for a Model, None for anything else (an Asset, ...)."""
    if hasattr(item, "as_named_input") and hasattr(item, "register"):
        return "datasets"
    if hasattr(item, "get_model_path") and hasattr(item, "download"):
        return "models"
    return None
