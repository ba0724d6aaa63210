"""Reuse of a sweep's finished children: a child that already completed with the same script,
source, inputs, environment and hyperparameters is not run again.

The whole HyperDriveStep is reused when nothing changed (the lifecycle's reuse gate). This is
for a sweep that changed only in how it sweeps (more ``max_total_runs``, another policy or
concurrency) or that runs again after a retry: each completed child is indexed on the default
datastore under a key made of the step's fingerprint components without the sweep settings,
plus the child's hyperparameters; a later child with the same key takes its result, files and
logs instead of running. ``allow_reuse=False`` turns this off too.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

__all__ = ["ChildIndex", "ReusedChild"]

_INDEX = ".azml/hyperdrive_children"
_FILES = ("stdout.txt", "stderr.txt", "metrics.jsonl")


class ReusedChild:
    """A handle for a child whose earlier result is taken: it has ended, with that run's series."""

    process = None

    def __init__(self, record: dict[str, Any]):
        self.record = record

    def poll(self) -> int:
        return 0

    def kill(self) -> None:
        return None

    def series(self) -> list[float]:
        return list(self.record.get("primary_metric_series") or [])


class ChildIndex:
    """Completed children by key, on the default datastore ``store``, for one experiment."""

    def __init__(self, store: Any, dag_id: str, components: dict[str, Any] | None, spec: dict[str, Any]):
        self.store = store
        self.prefix = f"{_INDEX}/{dag_id}"
        base = None
        if components is not None:
            config = {k: v for k, v in (components.get("config") or {}).items() if k != "hyperdrive"}
            base = {**{k: v for k, v in components.items() if k != "config"}, "config": config}
            base["primary_metric_name"] = spec["primary_metric_name"]
        self.base = base

    def key(self, hyperparameters: dict[str, Any]) -> str | None:
        if self.base is None:
            return None
        text = json.dumps({**self.base, "hyperparameters": hyperparameters}, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def find(self, hyperparameters: dict[str, Any]) -> dict[str, Any] | None:
        key = self.key(hyperparameters)
        rel = f"{self.prefix}/{key}.json"
        if key is None or not self.store.exists(rel):
            return None
        return json.loads(self.store.read_bytes(rel))

    def remember(self, record: dict[str, Any], folder_rel: str) -> None:
        key = self.key(record["hyperparameters"])
        if key is None or record["status"] != "Completed":
            return
        entry = {"record": record, "folder": folder_rel}
        self.store.write_bytes(f"{self.prefix}/{key}.json", json.dumps(entry, default=str).encode())

    def restore(self, entry: dict[str, Any], folder: Path) -> None:
        """The earlier child's files, logs and metrics into this child's local folder."""
        src = entry["folder"]
        if self.store.exists(f"{src}/files"):
            self.store.get(f"{src}/files", folder / "files", overwrite=True)
        for name in _FILES:
            if self.store.exists(f"{src}/{name}"):
                local = folder / ("logs" if name.endswith(".txt") else "") / name
                local.parent.mkdir(parents=True, exist_ok=True)
                self.store.get(f"{src}/{name}", local, overwrite=True)
