"""PipelineEndpoint: a named endpoint whose versions "0", "1", … are published pipelines.

As in v1, an endpoint keeps one REST URL while the pipeline behind it changes: new versions are
added, one of them is the default, and a run is started on the default or on a chosen version.
The endpoint is a registry entry ``.azml/published/endpoints/<id>.json`` on the workspace's
default datastore (beside the published pipelines, see ``published.py``); each version names a
published pipeline id, i.e. a DAG the deployment's loader renders. Its ``endpoint`` URL is the
plugin's v1-compatible route ``…/PipelineRuns/PipelineEndpointSubmit/Id/<id>`` (``Name?name=<name>``
works too, as in v1).

Statuses: Active, Disabled (``disable``/``enable``: no runs can be submitted) and Archived
(``archive``/``reactivate``: hidden from ``list`` and its name free for a new endpoint).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from airflow_azml.core import registry
from airflow_azml.exceptions import UserErrorException
from airflow_azml.pipeline.core._entry import RegistryEntry
from airflow_azml.pipeline.core.published import ENDPOINT_SUBMIT_ROUTE, PublishedPipeline, airflow_base_url

__all__ = ["PipelineEndpoint", "PipelineVersion"]

_KIND = "endpoints"


@dataclass(frozen=True)
class PipelineVersion:
    """One version of an endpoint: ``version`` ("0", "1", …), ``pipeline_id`` and the ``pipeline`` itself."""

    workspace: Any
    version: str
    pipeline_id: str

    @property
    def pipeline(self) -> PublishedPipeline:
        return PublishedPipeline.get(self.workspace, self.pipeline_id)

    def __repr__(self) -> str:
        return f"PipelineVersion(version={self.version!r}, pipeline_id={self.pipeline_id!r})"


class PipelineEndpoint(RegistryEntry):
    """``PipelineEndpoint.publish(ws, name, description, pipeline)`` / ``get`` / ``list``; versions and the default."""

    # -- attributes (name, description, status: RegistryEntry) -----------------------------------
    @property
    def id(self) -> str:
        return str(self._entry.get("id") or self._entry["name"])

    @property
    def default_version(self) -> str:
        return str(self._entry["default_version"])

    @property
    def pipeline_version_list(self) -> list[PipelineVersion]:
        return self.list_versions()

    @property
    def endpoint(self) -> str:
        """The REST URL (POST v1's JSON body with a bearer token; append ``?pipelineVersion=N`` for a version)."""
        return f"{airflow_base_url(self._workspace)}{ENDPOINT_SUBMIT_ROUTE}/Id/{self.id}"

    url = endpoint

    # -- creating and finding -----------------------------------------------------------------
    @classmethod
    def publish(
        cls,
        workspace: Any,
        name: str,
        description: str,
        pipeline: Any,
        _workflow_provider: Any = None,
        _service_endpoint: Any = None,
    ) -> PipelineEndpoint:
        """A new endpoint whose version "0" (the default) is ``pipeline``, published first if it is a Pipeline."""
        if not name:
            raise UserErrorException("PipelineEndpoint.publish needs a name=.")
        _check_name_free(workspace, name)
        entry = {
            "id": uuid.uuid4().hex,
            "name": name,
            "description": description,
            "status": "Active",
            "default_version": "0",
            "versions": {"0": _pipeline_id(pipeline, name, description)},
            "created": time.time(),
        }
        endpoint = cls(workspace, entry)
        endpoint._save()
        return endpoint

    @classmethod
    def get(
        cls, workspace: Any, id: str | None = None, name: str | None = None, **_: Any
    ) -> PipelineEndpoint:
        """The endpoint with this ``id`` or ``name`` (archived ones too, so that they can be reactivated)."""
        if not id and not name:
            raise UserErrorException("PipelineEndpoint.get needs id= or name=.")
        entries = registry.entries(workspace, _KIND)
        for entry in entries:
            if (id and str(entry.get("id") or entry["name"]) == id) or (not id and entry["name"] == name):
                return cls(workspace, entry)
        known = sorted(e["name"] for e in entries if e.get("status") != "Archived")
        what = f"id {id!r}" if id else f"name {name!r}"
        raise UserErrorException(
            f"No PipelineEndpoint with {what} in workspace {workspace.name!r}; endpoints: {known}."
        )

    @classmethod
    def list(cls, workspace: Any, active_only: bool = True, **_: Any) -> list[PipelineEndpoint]:
        """Active endpoints (``active_only=False``: the disabled ones too; archived ones never)."""
        items = [cls(workspace, e) for e in registry.entries(workspace, _KIND)]
        keep = ("Active",) if active_only else ("Active", "Disabled")
        return sorted([e for e in items if e.status in keep], key=lambda e: e.name)

    def _save(self) -> None:
        registry.write(self._workspace, _KIND, self.id, self._entry)

    # -- versions ------------------------------------------------------------------------------
    def list_versions(self) -> list[PipelineVersion]:
        return [
            PipelineVersion(self._workspace, v, pid)
            for v, pid in sorted(self._entry["versions"].items(), key=lambda kv: int(kv[0]))
        ]

    def list_pipelines(self, active_only: bool = True) -> list[PublishedPipeline]:
        """The published pipelines of the endpoint's versions (each once), active ones only by default."""
        ids = dict.fromkeys(v.pipeline_id for v in self.list_versions())
        pipelines = [PublishedPipeline.get(self._workspace, pid) for pid in ids]
        return [p for p in pipelines if p.status == "Active" or not active_only]

    def add(self, pipeline: Any) -> str:
        """Add ``pipeline`` (a PublishedPipeline) as the next version; returns that version."""
        version = str(max(int(v) for v in self._entry["versions"]) + 1)
        self._entry["versions"][version] = _pipeline_id(pipeline)
        self._save()
        return version

    def add_default(self, pipeline: Any) -> str:
        """Add ``pipeline`` as the next version and make it the default; returns that version."""
        version = self.add(pipeline)
        self.set_default_version(version)
        return version

    def set_default(self, pipeline: Any) -> None:
        """Make the (latest) version that holds ``pipeline`` the default."""
        pid = _pipeline_id(pipeline)
        versions = [v.version for v in self.list_versions() if v.pipeline_id == pid]
        if not versions:
            raise UserErrorException(
                f"PipelineEndpoint {self.name!r} has no version with pipeline {pid!r}; add it first "
                "(add(pipeline) or add_default(pipeline))."
            )
        self.set_default_version(versions[-1])

    def get_default_version(self) -> str:
        return self.default_version

    def set_default_version(self, version: str | int) -> None:
        self._require_version(str(version))
        self._entry["default_version"] = str(version)
        self._save()

    def get_pipeline(self, version: str | int | None = None) -> PublishedPipeline:
        """The published pipeline of ``version`` (default: the default version)."""
        version = self.default_version if version is None else str(version)
        self._require_version(version)
        return PublishedPipeline.get(self._workspace, self._entry["versions"][version])

    def _require_version(self, version: str) -> None:
        if version not in self._entry["versions"]:
            raise UserErrorException(
                f"PipelineEndpoint {self.name!r} has no version {version!r}; "
                f"versions: {sorted(self._entry['versions'], key=int)}."
            )

    # -- running -------------------------------------------------------------------------------
    def submit(
        self,
        experiment_name: str,
        pipeline_parameters: dict | None = None,
        parent_run_id: str | None = None,
        pipeline_version: str | None = None,
    ) -> Any:
        """Start a run of the default (or ``pipeline_version``) pipeline on the configured Airflow."""
        if self.status != "Active":
            raise UserErrorException(
                f"PipelineEndpoint {self.name!r} is {self.status.lower()}; "
                f"call {'reactivate' if self.status == 'Archived' else 'enable'}() before submitting."
            )
        return self.get_pipeline(pipeline_version).submit(
            self._workspace, experiment_name, pipeline_parameters, parent_run_id=parent_run_id
        )

    # -- name and status -----------------------------------------------------------------------
    def set_name(self, name: str) -> None:
        if name != self.name:
            _check_name_free(self._workspace, name)
        self._entry["name"] = name
        self._save()

    def _set_status(self, status: str) -> None:
        self._entry["status"] = status
        self._save()

    def enable(self) -> None:
        self._set_status("Active")

    def disable(self) -> None:
        self._set_status("Disabled")

    def archive(self) -> None:
        self._set_status("Archived")

    def reactivate(self, name: str | None = None) -> None:
        """Make an archived endpoint active again, under ``name`` if its old name was taken since."""
        new_name = name or self.name
        _check_name_free(self._workspace, new_name, other_than=self.id)
        self._entry["name"] = new_name
        self._set_status("Active")

    def __repr__(self) -> str:
        return (
            f"PipelineEndpoint(name={self.name!r}, id={self.id!r}, status={self.status!r}, "
            f"default_version={self.default_version!r})"
        )


def _check_name_free(workspace: Any, name: str, other_than: str | None = None) -> None:
    for entry in registry.entries(workspace, _KIND):
        ident = str(entry.get("id") or entry["name"])
        if entry["name"] == name and entry.get("status") != "Archived" and ident != other_than:
            raise UserErrorException(
                f"A PipelineEndpoint named {name!r} exists (id {ident!r}); use "
                "PipelineEndpoint.get(ws, name=...).add(pipeline), or choose another name."
            )


def _pipeline_id(pipeline: Any, name: str | None = None, description: str | None = None) -> str:
    """The published pipeline id of ``pipeline``; a Pipeline is published first (only when ``name`` is given)."""
    if isinstance(pipeline, PublishedPipeline):
        return pipeline.id
    if name is not None and hasattr(pipeline, "publish") and hasattr(pipeline, "workspace"):
        return str(pipeline.publish(name=name, description=description).id)
    raise UserErrorException(
        f"A PipelineEndpoint version must be a PublishedPipeline (pipeline.publish(...)), not {pipeline!r}."
    )
