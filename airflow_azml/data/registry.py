"""Registered datasets: versions of a name, the workspace file's declared ones first.

The records are the workspace registry's ``datasets`` kind (``airflow_azml.core.registry``:
``.azml/datasets/<name>/<version>.json`` on the default datastore, seen by every worker of the
workspace and by no other workspace). A dataset declared in the workspace file's ``datasets``
section is version 1 of its name; registered versions of that name follow (2, 3, ...), so a
registration never silently replaces what the workspace file declares.

This module reads and writes records (plain dicts) only; ``data/dataset.py`` turns a dataset
record into a Dataset object (``load_dataset``), so the registry sits below the dataset classes
and never imports them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from airflow_azml.core.registry import KINDS, VersionedRegistry, folder, record_path
from airflow_azml.data.announce import write_announced
from airflow_azml.exceptions import DatasetNotFoundError, UserErrorException, check_data_name, did_you_mean
from airflow_azml.runtime import CONTEXT_ENV

__all__ = [
    "VersionedRegistry",
    "register_dataset",
    "dataset_record",
    "list_datasets",
    "REGISTRY_PREFIX",
]

_KIND = "datasets"
REGISTRY_PREFIX = KINDS[_KIND]


# -- datasets ----------------------------------------------------------------------------
def _dataset_versions(reg: VersionedRegistry, name: str) -> list[int]:
    """Every version of ``name``: 1 when the workspace file declares it, then the stored ones."""
    stored = reg.versions(name)
    if name not in reg.workspace._declared_datasets:
        return stored
    if 1 in stored:
        raise UserErrorException(
            f"Dataset {name!r} is declared in the workspace file (version 1) and a registration "
            f"{record_path(_KIND, name, 1)} exists on datastore {reg.workspace.get_default_datastore().name!r} too. "
            "Rename one of them, or delete that file to keep the declared one."
        )
    return [1, *stored]


def _dataset_record(reg: VersionedRegistry, name: str, version: int) -> dict[str, Any]:
    declared = reg.workspace._declared_datasets.get(name)
    if version == 1 and declared is not None:
        return {
            "name": name,
            "version": 1,
            "description": declared.get("description"),
            "tags": declared.get("tags") or {},
            "definition": _declared_definition(declared),
        }
    return reg.read(name, version)


def register_dataset(
    workspace: Any,
    definition: dict[str, Any],
    name: str,
    description: str | None,
    tags: dict | None,
    create_new_version: bool,
    registered_by: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The record of ``definition`` registered as ``name``: the latest one when it holds the same definition.

    ``registered_by`` (kept in a new version's record) names the step run that registered it; with
    ``"announced_by": "task"`` its task emits the version's asset event, and the registry's version
    watch (``airflow_azml.provider.triggers``) does not announce it a second time. Outside a step, on a running
    Airflow, the registration posts its asset event itself (``data/announce.py``).
    """
    check_data_name(name, "Dataset")
    reg = VersionedRegistry(workspace, _KIND)
    versions = _dataset_versions(reg, name)
    definition = {k: v for k, v in definition.items() if k != "local_files"}
    if versions:
        latest = _dataset_record(reg, name, versions[-1])
        if latest["definition"] == definition:
            return latest
        if not create_new_version:
            raise UserErrorException(
                f"Dataset {name!r} is already registered (version {versions[-1]}) with another definition. "
                "Pass create_new_version=True to register a new version."
            )
    record = {
        "name": name,
        "version": (versions[-1] if versions else 0) + 1,
        "description": description,
        "tags": tags or {},
        "definition": definition,
        **({"registered_by": by} if (by := registered_by or _step_run()) else {}),
    }
    if by:  # a step: its task (register_on_complete) or the registry watch announces the version
        reg.write(record)
        return record
    return write_announced(workspace, _KIND, record, reg.write)


def dataset_record(workspace: Any, name: str, version: str | int = "latest") -> dict[str, Any]:
    """The record of dataset ``name`` at ``version`` ('latest' or a number), declared or registered."""
    reg = VersionedRegistry(workspace, _KIND)
    versions = _dataset_versions(reg, name)
    if not versions:
        known = list_datasets(workspace)
        raise DatasetNotFoundError(
            f"No dataset named {name!r} is registered in workspace {workspace.name!r}.{did_you_mean(name, known)} "
            f"Registered: {', '.join(known) or '(none)'}. Register it with "
            f"Dataset.Tabular.from_delimited_files(...).register(ws, {name!r}) or declare it under 'datasets' "
            f"in the workspace file.{workspace._legacy_hint(folder(_KIND, name))}"
        )
    wanted = versions[-1] if str(version) == "latest" else int(version)
    if wanted not in versions:
        raise DatasetNotFoundError(f"Dataset {name!r} has no version {version}; versions: {versions}.")
    return _dataset_record(reg, name, wanted)


def _declared_definition(declared: dict[str, Any]) -> dict[str, Any]:
    paths = declared.get("path") or declared.get("paths") or []
    if isinstance(paths, str):
        paths = [paths]
    datastore = declared.get("datastore")
    entries = [p if isinstance(p, dict) else {"datastore": datastore, "path": p} for p in paths]
    kind = declared.get("type", "tabular")
    definition = {"kind": kind, "paths": entries, "options": declared.get("options", {})}
    if kind == "tabular":
        definition["format"] = declared.get("format", "delimited")
    return definition


def list_datasets(workspace: Any) -> list[str]:
    names = set(workspace._declared_datasets) | VersionedRegistry(workspace, _KIND).names()
    return sorted(names)


def _step_run() -> dict[str, Any] | None:
    """The step run this process is (``Dataset.register`` in a step's script), from its run context."""
    path = os.environ.get(CONTEXT_ENV)
    if not path:
        return None
    try:
        ctx = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return {
        "step_run_id": ctx.get("run_id"),
        "pipeline_run_id": ctx.get("parent_run_id"),
        "step": ctx.get("step_name"),
    }
