"""Workspace: the workspace file (config.json), its datastores, compute targets and datasets."""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

from airflow_azml.core._home import azml_home, caller_dir, uses_remote_airflow
from airflow_azml.core.datastore import datastore_from_spec
from airflow_azml.core.datastore_registry import datastore_not_found, load_registered, save_registered
from airflow_azml.core.network import client_network, forwards_network
from airflow_azml.exceptions import WorkspaceConfigError, did_you_mean

__all__ = ["Workspace", "DEFAULT_DATASTORE"]

DEFAULT_DATASTORE = "workspaceblobstore"
_CONFIG_NAMES = ("config.json", ".azureml/config.json", "aml_config/config.json")
_WORKSPACE_KEYS = {"workspace_name", "subscription_id", "datastores", "compute_targets", "datasets"}


class Workspace:
    """An airflow-azml workspace: a name plus where data lives and where steps run.

    Nothing here talks to Azure. The workspace file may declare ``datastores``,
    ``default_datastore``, ``compute_targets``, ``datasets`` and ``airflow`` (REST settings).
    """

    def __init__(
        self,
        subscription_id: str | None = None,
        resource_group: str | None = None,
        workspace_name: str | None = None,
        auth: Any = None,
        _location: str | None = None,
        *,
        config: dict[str, Any] | None = None,
        config_path: str | Path | None = None,
        **_ignored: Any,
    ):
        cfg = dict(config or {})
        self._config_path = Path(config_path).resolve() if config_path else None
        self._config = cfg
        self.subscription_id = subscription_id or cfg.get("subscription_id") or "local"
        self.resource_group = resource_group or cfg.get("resource_group") or "local"
        self.name = workspace_name or cfg.get("workspace_name") or "local"
        self.location = _location or cfg.get("location") or "local"
        self.auth = auth
        self._datastores: dict[str, Any] | None = None
        self._default_datastore = cfg.get("default_datastore") or DEFAULT_DATASTORE
        self._compute_specs: dict[str, dict[str, Any]] = {
            str(k): dict(v or {}) for k, v in (cfg.get("compute_targets") or {}).items()
        }
        self._declared_datasets: dict[str, dict[str, Any]] = dict(cfg.get("datasets") or {})

    # -- discovery -------------------------------------------------------------------
    @classmethod
    def from_config(
        cls,
        path: str | Path | None = None,
        auth: Any = None,
        _logger: Any = None,
        _file_name: str | None = None,
    ) -> Workspace:
        """Read the workspace file if one is found, else give the default local workspace.

        Looked for, in order: ``path`` (a file or folder), ``$AZML_WORKSPACE_CONFIG``, then
        ``config.json``, ``.azureml/config.json`` or ``aml_config/config.json`` in the calling
        file's folder and its parents, then in the working directory and its parents.
        """
        found = _find_config(path, _file_name)
        if found is None:
            return cls()
        try:
            data = json.loads(found.read_text())
        except (OSError, ValueError) as exc:
            raise WorkspaceConfigError(f"Cannot read the workspace file {found}: {exc}") from exc
        if not isinstance(data, dict):
            raise WorkspaceConfigError(f"The workspace file {found} must hold a JSON object.")
        return cls(config=data, config_path=found, auth=auth)

    @classmethod
    def get(
        cls,
        name: str,
        auth: Any = None,
        subscription_id: str | None = None,
        resource_group: str | None = None,
        **_: Any,
    ) -> Workspace:
        """v1's ``Workspace.get``: the workspace file's workspace, named ``name``."""
        ws = cls.from_config()
        ws.name = name
        return ws

    @property
    def config_dir(self) -> Path:
        """Folder that relative paths in the workspace file are resolved against."""
        return self._config_path.parent if self._config_path else Path.cwd()

    @property
    def home(self) -> Path:
        return azml_home()

    # -- identity: what keeps two workspaces on one machine apart ----------------------
    @property
    def _identity(self) -> str | None:
        """``subscription/resource group/name``; a workspace file naming none of them is keyed by its path.

        None for the default workspace (no workspace file, no names): it keeps the
        single-workspace layout of earlier releases, so an existing ``$AZML_HOME`` stays readable.
        """
        names = (self.subscription_id, self.resource_group, self.name)
        if names != ("local", "local", "local"):
            return "/".join(names)
        return f"file:{self._config_path}" if self._config_path else None

    def local_datastore_root(self) -> Path:
        """Where this workspace's local datastores without a ``path`` live (its default one included).

        ``$AZML_HOME/workspaces/<name>-<hash of the identity>/datastores``, so the registries
        kept on the default datastore (datasets, models, datastores, published pipelines, run
        records) belong to one workspace; ``$AZML_HOME/datastores`` for the default workspace.
        """
        identity = self._identity
        if identity is None:
            return azml_home() / "datastores"
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", self.name)[:40] or "workspace"
        digest = hashlib.sha256(identity.encode()).hexdigest()[:10]
        return azml_home() / "workspaces" / f"{slug}-{digest}" / "datastores"

    def _legacy_hint(self, rel: str) -> str:
        """A sentence when ``rel`` exists in the single-workspace layout of earlier releases but not here."""
        default = self._default_datastore
        old = azml_home() / "datastores" / default
        if self._identity is None or "path" in (self._config.get("datastores") or {}).get(default, {}):
            return ""
        if not (old / rel).exists():
            return ""
        return (
            f" Before workspaces were kept apart it was stored in {old}, which this workspace no longer reads: "
            f"move that folder to {self.local_datastore_root() / default}, or declare "
            f'"datastores": {{"{default}": {{"type": "local", "path": "{old}"}}}} in the workspace file.'
        )

    # -- datastores ------------------------------------------------------------------
    @property
    def datastores(self) -> dict[str, Any]:
        """Datastores by name (the default one always exists)."""
        if self._datastores is None:
            specs = dict(self._config.get("datastores") or {})
            specs.setdefault(self._default_datastore, {"type": "local"})
            self._datastores = {n: datastore_from_spec(self, n, dict(s or {})) for n, s in specs.items()}
        return self._datastores

    def get_default_datastore(self) -> Any:
        return self.datastores[self._default_datastore]

    def set_default_datastore(self, name: str) -> None:
        self._require_datastore(name)
        self._default_datastore = name

    def _require_datastore(self, name: str) -> Any:
        """The datastore ``name``: declared in the workspace file, or registered (read on first use)."""
        if name not in self.datastores:
            found = load_registered(self, name)
            if found is None:
                known = ", ".join(sorted(self.datastores))
                raise datastore_not_found(
                    f"No datastore named {name!r} in workspace {self.name!r}.{did_you_mean(name, self.datastores)} "
                    f"Known datastores: {known}. Declare it under 'datastores' in the workspace file or "
                    "register it with Datastore.register_*()."
                )
            self.datastores[name] = found
        return self.datastores[name]

    def _add_datastore(self, datastore: Any) -> None:
        """Keep a registered datastore here and in the workspace's registry (other processes see it)."""
        save_registered(self, datastore)
        self.datastores[datastore.name] = datastore

    @property
    def experiments(self) -> dict[str, Any]:
        """Experiments by name (v1's ``ws.experiments``): those with recorded runs, and any name asked for."""
        from airflow_azml.core.experiment import Experiments

        return Experiments(self)

    def _experiment(self, name: str) -> Any:
        """The Experiment ``name`` of this workspace (for the run, publish and schedule classes, which the
        Experiment module itself imports)."""
        from airflow_azml.core.experiment import Experiment

        return Experiment(self, name)

    # -- compute ---------------------------------------------------------------------
    @property
    def compute_targets(self) -> dict[str, Any]:
        """Compute targets by name, as ComputeTarget objects."""
        from airflow_azml.core.compute import compute_from_spec

        return {n: compute_from_spec(self, n, s) for n, s in sorted(self._compute_specs.items())}

    # -- serialisation for the compiled plan -------------------------------------------
    def to_spec(self) -> dict[str, Any]:
        """Everything a task process needs to rebuild this workspace, as JSON-able data."""
        cfg = dict(self._config)
        cfg.update(
            workspace_name=self.name,
            subscription_id=self.subscription_id,
            resource_group=self.resource_group,
            location=self.location,
            default_datastore=self._default_datastore,
            datastores={n: d.to_spec() for n, d in self.datastores.items()},
            compute_targets=self._compute_specs,
            datasets=self._declared_datasets,
        )
        if uses_remote_airflow(self) and forwards_network(self):
            # see core/network.py: the workers fetch data as this process would
            cfg["network"] = client_network()
        return {"config": cfg, "config_path": str(self._config_path) if self._config_path else None}

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> Workspace:
        return cls(config=spec["config"], config_path=spec.get("config_path"))

    def __repr__(self) -> str:
        return f"Workspace.create(name='{self.name}', subscription_id='{self.subscription_id}', resource_group='{self.resource_group}')"


def _find_config(path: str | Path | None, file_name: str | None) -> Path | None:
    if path is not None:
        p = Path(path).expanduser()
        if p.is_file():
            return p.resolve()
        for name in (file_name,) if file_name else _CONFIG_NAMES:
            if (p / name).is_file():
                return (p / name).resolve()
        raise WorkspaceConfigError(f"No workspace file at {p} (looked for {', '.join(_CONFIG_NAMES)}).")
    env = os.environ.get("AZML_WORKSPACE_CONFIG")
    if env:
        if not Path(env).is_file():
            raise WorkspaceConfigError(f"AZML_WORKSPACE_CONFIG points at {env}, which is not a file.")
        return Path(env).resolve()
    for start in (caller_dir(), Path.cwd()):
        for folder in (start, *start.parents):
            for name in (file_name,) if file_name else _CONFIG_NAMES:
                candidate = folder / name
                if candidate.is_file() and _looks_like_workspace(candidate):
                    return candidate.resolve()
    return None


def _looks_like_workspace(path: Path) -> bool:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and bool(_WORKSPACE_KEYS & set(data))
