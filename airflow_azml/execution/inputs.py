"""Turn a step's planned inputs into local paths or dataset definitions for the script."""

from __future__ import annotations

import hashlib
import logging
import shutil
from pathlib import Path
from typing import Any

from airflow_azml.data.sources import local_copy, match_paths, materialize
from airflow_azml.data.stores import check_relative
from airflow_azml.data.web import url_version
from airflow_azml.exceptions import DatastoreError, UserErrorException

__all__ = ["InputResolver"]

_log = logging.getLogger(__name__)


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
            if source == "datapath_param":
                return self._absent_datapath(spec, datastore, rel)
            raise DatastoreError(
                f"Step {self.step!r}: input {spec['name']!r} expects {datastore}/{rel}, which does not exist."
            )
        record = {"datastore": datastore, "path": rel, "version": store.version(rel), "mode": spec["mode"]}
        if spec.get("tabular"):
            files = [local_copy(store, f) for f in store.list_files(rel)]
            definition = {
                "kind": "tabular",
                **spec["tabular"],
                "local_files": [str(f) for f in files],
                "paths": [{"datastore": datastore, "path": rel}],
            }
            return {"definition": definition}, record
        return {"path": str(self._materialize(store, rel, spec))}, record

    def _absent_datapath(
        self, spec: dict[str, Any], datastore: str, rel: str
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """A DataPath to a path with nothing there yet: v1 mounted (or downloaded) it as an empty
        folder and the script decided what that means, so the step gets an empty folder too."""
        _log.warning(
            "Step %r: DataPath input %r points at %s/%s, which holds nothing yet; the step gets an empty folder.",
            self.step,
            spec["name"],
            datastore,
            rel,
        )
        target = self._target(spec)
        target.mkdir(parents=True, exist_ok=True)
        record = {"datastore": datastore, "path": rel, "version": "absent", "mode": spec["mode"]}
        return {"path": str(target)}, record

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

    def _materialize(self, store: Any, rel: str, spec: dict[str, Any]) -> Path:
        if spec["mode"] == "download":
            target = self._target(spec)
            store.get(rel, target, overwrite=True)
            return target
        return local_copy(store, rel)

    def _target(self, spec: dict[str, Any]) -> Path:
        poc = spec.get("path_on_compute")
        if poc and Path(poc).is_absolute():
            return Path(poc)
        return self.workdir / "inputs" / (poc or spec["name"])

    def _dataset(self, spec: dict[str, Any], ref: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        from airflow_azml.data.dataset import dataset_from_definition, load_dataset

        if isinstance(ref, dict) and "definition" in ref:
            ds = dataset_from_definition(ref["definition"], self.ws)
        elif isinstance(ref, dict) and "name" in ref:
            ds = load_dataset(self.ws, ref["name"], ref.get("version", "latest"))
        else:
            raise UserErrorException(f"Step {self.step!r}: input {spec['name']!r}: {ref!r} names no dataset.")
        definition = dict(ds.definition)
        dataset_id = ds.id
        record = {
            "dataset": ds.name,
            "version": ds.version,
            "definition": definition,
            "mode": spec["mode"],
        }
        record["content_version"], web = self._dataset_version(definition)
        if web:
            record["web"] = web
        if spec["mode"] == "direct":
            files = [(source.label, materialize(source)) for source, _ in ds._selected()]
            definition["local_labels"] = [label for label, _ in files]
            definition["local_files"] = [str(path) for _, path in files]
            item = {"definition": definition, "dataset_name": ds.name, "dataset_version": ds.version}
            return {**item, "dataset_id": dataset_id}, record
        return {"path": str(self._dataset_folder(ds, spec))}, record

    def _dataset_version(self, definition: dict[str, Any]) -> tuple[str, dict[str, str]]:
        """The content version of a definition's files (store versions, each web URL's ETag or
        Last-Modified), and the web URLs' own versions, which the reuse fingerprint names."""
        parts, web = [], {}
        for entry in definition.get("paths", []):
            if "url" in entry:
                web[entry["url"]] = url_version(entry["url"])
                parts.append(f"{entry['url']}={web[entry['url']]}")
                continue
            store = self.ws._require_datastore(entry["datastore"]).store
            for rel in match_paths(store, entry["path"]):
                parts.append(f"{rel}={store.version(rel)}")
        return hashlib.sha256("\n".join(sorted(parts)).encode()).hexdigest()[:32], web

    def _dataset_folder(self, ds: Any, spec: dict[str, Any]) -> Path:
        """A file dataset as a folder (a single local folder in place, else links or copies); a
        mounted dataset of one file is that file's path, as v1 mounted it."""
        entries = ds.definition.get("paths", [])
        plain = not ds.definition.get("transforms")
        if plain and len(entries) == 1 and "datastore" in entries[0] and spec["mode"] == "mount":
            store = self.ws._require_datastore(entries[0]["datastore"]).store
            if store.local_path("") is not None and store.is_dir(entries[0]["path"]):
                return store.local_path(entries[0]["path"])
        files = ds._labelled_files()
        target = self._target(spec)
        target.mkdir(parents=True, exist_ok=True)
        for rel, src in files:
            dest = target / rel.lstrip("/")
            dest.parent.mkdir(parents=True, exist_ok=True)
            if spec["mode"] == "mount":
                if not dest.exists():
                    dest.symlink_to(src)
            else:
                shutil.copyfile(src, dest)
        if spec["mode"] == "mount" and len(files) == 1:
            return target / files[0][0].lstrip("/")
        return target
