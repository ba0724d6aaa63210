"""``azureml.core.Model``: a registry of model files on the workspace's default datastore.

A registration copies the model file or folder to ``.azml/model-files/<name>/<version>/`` and
writes its record to ``.azml/models/<name>/<version>.json``, the ``models`` kind of the workspace
registry (``core/registry.py``; versions 1, 2, ... per name, as datasets are versioned). The
default datastore belongs to one workspace, so models registered in one workspace are not seen
by another. Inside a step, ``Model.get_model_path(name)`` finds the workspace through the step's
run context, as v1 does with ``Run.get_context()``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
from pathlib import Path
from typing import Any

from airflow_azml.core._home import azml_home
from airflow_azml.core.registry import KINDS, VersionedRegistry
from airflow_azml.core.workspace import Workspace
from airflow_azml.data.announce import write_announced
from airflow_azml.data.dataset import dataset_from_definition
from airflow_azml.exceptions import UserErrorException, did_you_mean
from airflow_azml.runtime import CONTEXT_ENV

__all__ = ["Model", "ModelNotFoundError", "MODELS_PREFIX", "MODEL_FILES_PREFIX"]

_KIND = "models"
MODELS_PREFIX = KINDS[_KIND]
MODEL_FILES_PREFIX = ".azml/model-files"


class ModelNotFoundError(UserErrorException):
    """No registered model of that name or version (v1 raises WebserviceException here)."""


class Model:
    """A registered model version. ``Model(ws, name, version=None)`` looks one up (latest by default)."""

    def __init__(
        self,
        workspace: Any,
        name: str | None = None,
        id: str | None = None,
        tags: Any = None,
        properties: Any = None,
        version: int | str | None = None,
        run_id: str | None = None,
        **_: Any,
    ):
        if id:
            name, _sep, from_id = id.partition(":")
            version = version or from_id or None
        if not name:
            raise UserErrorException("Model(ws, name=...) needs the model's name (or id='name:version').")
        matches = [
            m
            for m in Model.list(workspace, name=name, tags=tags, properties=properties, run_id=run_id)
            if version is None or m.version == int(version)
        ]
        if not matches:
            raise _not_found(workspace, name, version)
        self._load(workspace, matches[0]._record)

    def _load(self, workspace: Any, record: dict[str, Any]) -> None:
        self.workspace = workspace
        self._record = record
        self.name: str = record["name"]
        self.version: int = int(record["version"])
        self.id = f"{self.name}:{self.version}"
        self.description: str | None = record.get("description")
        self.tags: dict[str, str] = dict(record.get("tags") or {})
        self.properties: dict[str, str] = dict(record.get("properties") or {})
        self.created_time: str = record.get("created_time", "")
        self.run_id: str | None = record.get("run_id")
        self.model_framework: str | None = record.get("model_framework")
        self.model_framework_version: str | None = record.get("model_framework_version")
        self.url = _store(workspace).uri(self._files_rel)

    @classmethod
    def _from_record(cls, workspace: Any, record: dict[str, Any]) -> Model:
        model = cls.__new__(cls)
        model._load(workspace, record)
        return model

    @property
    def _files_rel(self) -> str:
        """Datastore-relative path of the registered file or folder."""
        return f"{MODEL_FILES_PREFIX}/{self.name}/{self.version}/{self._record['path']}"

    @property
    def datasets(self) -> dict[str, list[Any]]:
        """``{scenario: [dataset, ...]}`` as given to ``register(datasets=[(scenario, dataset)])``."""
        out: dict[str, list[Any]] = {}
        for item in self._record.get("datasets", []):
            ds = dataset_from_definition(
                item["definition"], self.workspace, name=item.get("name"), version=item.get("version")
            )
            out.setdefault(item["scenario"], []).append(ds)
        return out

    # -- registering ---------------------------------------------------------------------
    @staticmethod
    def register(
        workspace: Any,
        model_path: str,
        model_name: str,
        tags: dict[str, Any] | None = None,
        properties: dict[str, Any] | None = None,
        description: str | None = None,
        datasets: list[Any] | None = None,
        model_framework: str | None = None,
        model_framework_version: str | None = None,
        **kwargs: Any,
    ) -> Model:
        """Copy ``model_path`` (a file or a folder) into the registry as the next version of ``model_name``."""
        _check_name(model_name)
        src = Path(model_path).expanduser()
        if not src.exists():
            raise UserErrorException(
                f"Model.register({model_name!r}): model_path {str(model_path)!r} does not exist "
                f"(relative paths are read from {os.getcwd()})."
            )
        registry = VersionedRegistry(workspace, _KIND)
        known = registry.versions(model_name)
        version = (known[-1] if known else 0) + 1
        record = {
            "name": model_name,
            "version": version,
            "path": src.resolve().name,
            "description": description,
            "tags": {str(k): str(v) for k, v in (tags or {}).items()},
            "properties": {str(k): str(v) for k, v in (properties or {}).items()},
            "created_time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "run_id": kwargs.get("_run_id"),
            "model_framework": model_framework,
            "model_framework_version": model_framework_version,
            "datasets": [_dataset_entry(item) for item in datasets or []],
        }
        registry.store.put(src, f"{MODEL_FILES_PREFIX}/{model_name}/{version}/{record['path']}")
        # last: a version is visible only once its files are in place; outside a step on a running
        # Airflow, its asset event is posted at once (data/announce.py)
        record = write_announced(workspace, _KIND, record, registry.write)
        print(f"Registering model {model_name}")
        return Model._from_record(workspace, record)

    # -- finding ---------------------------------------------------------------------------
    @staticmethod
    def list(
        workspace: Any,
        name: str | None = None,
        tags: Any = None,
        properties: Any = None,
        run_id: str | None = None,
        latest: bool = False,
        **_: Any,
    ) -> list[Model]:
        """Registered models, newest version first per name; v1's filters (``tags``: keys or [key, value])."""
        registry = VersionedRegistry(workspace, _KIND)
        models = []
        for model_name in sorted([name] if name else registry.names()):
            versions = registry.versions(model_name)
            for version in reversed(versions[-1:] if latest else versions):
                models.append(Model._from_record(workspace, registry.read(model_name, version)))
        return [
            m
            for m in models
            if _matches(m.tags, tags) and _matches(m.properties, properties) and run_id in (None, m.run_id)
        ]

    @staticmethod
    def get_model_path(model_name: str, version: int | None = None, _workspace: Any = None) -> str:
        """A local path of the registered file or folder (inside a step too: the step's workspace)."""
        workspace = _workspace if _workspace is not None else _context_workspace()
        model = Model(workspace, model_name, version=version)
        return str(model._local_copy())

    def _local_copy(self) -> Path:
        """The files in place on a local datastore; else a cached download (one per stored version)."""
        store = _store(self.workspace)
        local = store.local_path(self._files_rel)
        if local is not None and local.exists():
            return local
        key = hashlib.sha256(store.uri(self._files_rel).encode()).hexdigest()[:20]
        folder = azml_home() / "cache" / "models" / key
        if not folder.exists():
            tmp = folder.with_name(f".{key}.{os.getpid()}.tmp")
            store.get(self._files_rel, tmp / self._record["path"])
            try:
                os.replace(tmp, folder)
            except OSError:  # another process cached this version first
                shutil.rmtree(tmp, ignore_errors=True)
        return folder / self._record["path"]

    def download(self, target_dir: str = ".", exist_ok: bool = False, exists_ok: bool | None = None) -> str:
        """Copy the model's file or folder into ``target_dir``; returns its path there."""
        exist_ok = exist_ok if exists_ok is None else exists_ok
        target = Path(target_dir) / self._record["path"]
        if target.exists() and not exist_ok:
            raise UserErrorException(f"{target} exists; pass exist_ok=True to overwrite it.")
        target.parent.mkdir(parents=True, exist_ok=True)
        _store(self.workspace).get(self._files_rel, target, overwrite=True)
        return str(target)

    # -- updating ------------------------------------------------------------------------
    def add_tags(self, tags: dict[str, Any]) -> None:
        self._update("tags", {**self.tags, **{str(k): str(v) for k, v in tags.items()}})

    def add_properties(self, properties: dict[str, Any]) -> None:
        self._update("properties", {**self.properties, **{str(k): str(v) for k, v in properties.items()}})

    def _update(self, field: str, value: Any) -> None:
        record = {**self._record, field: value}
        VersionedRegistry(self.workspace, _KIND).write(record)
        self._load(self.workspace, record)

    def serialize(self) -> dict[str, Any]:
        return {k: v for k, v in self._record.items() if k != "datasets"} | {"id": self.id, "url": self.url}

    def __repr__(self) -> str:
        return f"Model(workspace={self.workspace!r}, name={self.name}, id={self.id}, version={self.version}, tags={self.tags}, properties={self.properties})"


def _check_name(name: str) -> None:
    """v1's rule: letters, digits, '-', '_' and '.', starting with a letter or digit, at most 255 characters."""
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}", name):
        raise UserErrorException(
            f"Model name {name!r} is invalid: use letters, digits, '-', '_' and '.', starting with a letter "
            "or digit (at most 255 characters)."
        )


def _store(workspace: Any) -> Any:
    return workspace.get_default_datastore().store


def _not_found(workspace: Any, name: str, version: Any) -> ModelNotFoundError:
    registry = VersionedRegistry(workspace, _KIND)
    versions = registry.versions(name)
    if versions:
        return ModelNotFoundError(f"Model {name!r} has no version {version}; versions: {versions}.")
    known = sorted(registry.names())
    return ModelNotFoundError(
        f"No model named {name!r} is registered in workspace {workspace.name!r}.{did_you_mean(name, known)} "
        f"Registered: {', '.join(known) or '(none)'}. Register it with Model.register(ws, model_path, {name!r})."
    )


def _matches(have: dict[str, str], wanted: Any) -> bool:
    """v1's tag/property filter: a dict, or a list of keys and [key, value] pairs; all must hold."""
    if not wanted:
        return True
    pairs = wanted.items() if isinstance(wanted, dict) else wanted
    for item in pairs:
        key, value = (item, None) if isinstance(item, str) else (item[0], item[1] if len(item) > 1 else None)
        if key not in have or (value is not None and have[key] != str(value)):
            return False
    return True


def _dataset_entry(item: Any) -> dict[str, Any]:
    """``(scenario, dataset)`` or a dataset (scenario 'training'), as stored with the model."""
    scenario, dataset = item if isinstance(item, tuple) else ("training", item)
    if not hasattr(dataset, "definition"):
        raise UserErrorException(
            f"Model.register(datasets=...): {dataset!r} is not a dataset; give (scenario, dataset) pairs."
        )
    definition = {k: v for k, v in dataset.definition.items() if k != "local_files"}
    version = dataset.version if isinstance(dataset.version, int) else None
    return {"scenario": str(scenario), "name": dataset.name, "version": version, "definition": definition}


def _context_workspace() -> Any:
    """The step's workspace inside a pipeline step (its run context), else the workspace file's."""
    path = os.environ.get(CONTEXT_ENV)
    if path:
        spec = json.loads(Path(path).read_text()).get("workspace")
        if spec:
            return Workspace.from_spec(spec)
    return Workspace.from_config()
