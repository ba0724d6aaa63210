"""Turn a step's planned inputs into local paths or dataset definitions for the script."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from airflow_azml.data.dataset import match_paths
from airflow_azml.data.stores import check_relative
from airflow_azml.exceptions import DatastoreError, UserErrorException

__all__ = ["InputResolver"]


class InputResolver:
    """Resolves inputs of one step run. Local datastores are read in place (no copy)."""

    def __init__(
        self, workspace: Any, workdir: Path, params: dict[str, Any], upstream: dict[str, Any], step: str
    ):
        self.ws = workspace
        self.workdir = workdir
        self.params = params
        self.upstream = upstream
        self.step = step

    def resolve(self, spec: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """Returns (what the script gets, what the run record keeps) for one input."""
        source = spec["source"]
        if source == "dataset" or source == "dataset_param":
            ref = spec["dataset"] if source == "dataset" else self.params[spec["param"]]
            return self._dataset(spec, ref)
        datastore, rel = self._location(spec)
        store = self.ws._require_datastore(datastore).store
        if not store.exists(rel):
            raise DatastoreError(
                f"Step {self.step!r}: input {spec['name']!r} expects {datastore}/{rel}, which does not exist."
            )
        record = {"datastore": datastore, "path": rel, "version": store.version(rel), "mode": spec["mode"]}
        if spec.get("tabular"):
            files = [self._local(store, f) for f in store.list_files(rel)]
            definition = {
                "kind": "tabular",
                **spec["tabular"],
                "local_files": [str(f) for f in files],
                "paths": [{"datastore": datastore, "path": rel}],
            }
            return {"definition": definition}, record
        return {"path": str(self._materialize(store, rel, spec))}, record

    def _location(self, spec: dict[str, Any]) -> tuple[str, str]:
        source = spec["source"]
        if source == "step_output":
            produced = (self.upstream.get(spec["step"]) or {}).get(spec["output"])
            if not produced:
                raise UserErrorException(
                    f"Step {self.step!r}: input {spec['name']!r} comes from step {spec['step']!r} output "
                    f"{spec['output']!r}, but that step published no such output (did it run?)."
                )
            return produced["datastore"], produced["path"]
        if source == "datastore":
            return spec["datastore"], spec["path"]
        value = self.params[spec["param"]]
        if not isinstance(value, dict) or "datastore" not in value:
            raise UserErrorException(
                f"Step {self.step!r}: DataPath parameter {spec['param']!r} must be "
                "{'datastore': ..., 'path_on_datastore': ...}, got " + repr(value)
            )
        return value["datastore"], check_relative(
            value.get("path_on_datastore", ""), what="path_on_datastore"
        )

    def _local(self, store: Any, rel: str) -> Path:
        local = store.local_path(rel)
        if local is not None:
            return local
        from airflow_azml.data.cache import cached_copy

        return cached_copy(store, rel)

    def _materialize(self, store: Any, rel: str, spec: dict[str, Any]) -> Path:
        if spec["mode"] == "download":
            target = self._target(spec)
            store.get(rel, target, overwrite=True)
            return target
        return self._local(store, rel)

    def _target(self, spec: dict[str, Any]) -> Path:
        poc = spec.get("path_on_compute")
        if poc and Path(poc).is_absolute():
            return Path(poc)
        return self.workdir / "inputs" / (poc or spec["name"])

    def _dataset(self, spec: dict[str, Any], ref: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        from airflow_azml.data.dataset import dataset_from_definition
        from airflow_azml.data.registry import load_dataset

        if isinstance(ref, dict) and "definition" in ref:
            ds = dataset_from_definition(ref["definition"], self.ws)
        elif isinstance(ref, dict) and "name" in ref:
            ds = load_dataset(self.ws, ref["name"], ref.get("version", "latest"))
        else:
            raise UserErrorException(f"Step {self.step!r}: input {spec['name']!r}: {ref!r} names no dataset.")
        definition = dict(ds.definition)
        record = {
            "dataset": ds.name,
            "version": ds.version,
            "definition": definition,
            "content_version": self._dataset_version(definition),
            "mode": spec["mode"],
        }
        if spec["mode"] == "direct":
            definition["local_files"] = [str(p) for p in ds._files()]
            return {"definition": definition, "dataset_name": ds.name, "dataset_version": ds.version}, record
        return {"path": str(self._dataset_folder(ds, spec))}, record

    def _dataset_version(self, definition: dict[str, Any]) -> str:
        parts = []
        for entry in definition.get("paths", []):
            store = self.ws._require_datastore(entry["datastore"]).store
            for rel in match_paths(store, entry["path"]):
                parts.append(f"{rel}={store.version(rel)}")
        import hashlib

        return hashlib.sha256("\n".join(sorted(parts)).encode()).hexdigest()[:32]

    def _dataset_folder(self, ds: Any, spec: dict[str, Any]) -> Path:
        """A file dataset as one folder: a single local folder in place, else links (mount) or copies."""
        entries = ds.definition.get("paths", [])
        if len(entries) == 1 and spec["mode"] == "mount":
            store = self.ws._require_datastore(entries[0]["datastore"]).store
            if store.local_path("") is not None and store.is_dir(entries[0]["path"]):
                return store.local_path(entries[0]["path"])
        target = self._target(spec)
        target.mkdir(parents=True, exist_ok=True)
        files = ds._files()
        base = Path(os.path.commonpath([str(f.parent) for f in files])) if files else target
        for f in files:
            dest = target / f.relative_to(base)
            dest.parent.mkdir(parents=True, exist_ok=True)
            if spec["mode"] == "mount":
                if not dest.exists():
                    dest.symlink_to(f)
            else:
                import shutil

                shutil.copy2(f, dest)
        return target
