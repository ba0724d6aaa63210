"""Dataset registrations, stored on the workspace's default datastore so every worker sees them.

Layout: ``.azml/datasets/<name>/<version>.json``. The workspace file's ``datasets`` section
declares version 1 of a name that has no stored registration (read-only seeds).
"""

from __future__ import annotations

import json
from typing import Any

from airflow_azml.data.dataset import AbstractDataset, dataset_from_definition
from airflow_azml.exceptions import DatasetNotFoundError, UserErrorException, check_data_name, did_you_mean

__all__ = ["register_dataset", "load_dataset", "list_datasets", "REGISTRY_PREFIX"]

REGISTRY_PREFIX = ".azml/datasets"


def _versions(store: Any, name: str) -> list[int]:
    prefix = f"{REGISTRY_PREFIX}/{name}"
    if not store.exists(prefix):
        return []
    out = []
    for rel in store.list_files(prefix):
        stem = rel.rsplit("/", 1)[-1].removesuffix(".json")
        if stem.isdigit():
            out.append(int(stem))
    return sorted(out)


def register_dataset(
    workspace: Any,
    dataset: AbstractDataset,
    name: str,
    description: str | None,
    tags: dict | None,
    create_new_version: bool,
) -> AbstractDataset:
    check_data_name(name, "Dataset")
    store = workspace.get_default_datastore().store
    versions = _versions(store, name)
    definition = {k: v for k, v in dataset.definition.items() if k != "local_files"}
    if versions:
        latest = json.loads(store.read_bytes(f"{REGISTRY_PREFIX}/{name}/{versions[-1]}.json"))
        if latest["definition"] == definition:
            return dataset_from_definition(
                definition,
                workspace,
                name=name,
                version=versions[-1],
                description=latest.get("description"),
                tags=latest.get("tags"),
            )
        if not create_new_version:
            raise UserErrorException(
                f"Dataset {name!r} is already registered (version {versions[-1]}) with another definition. "
                "Pass create_new_version=True to register a new version."
            )
    version = (versions[-1] if versions else 0) + 1
    record = {
        "name": name,
        "version": version,
        "description": description,
        "tags": tags or {},
        "definition": definition,
    }
    store.write_bytes(f"{REGISTRY_PREFIX}/{name}/{version}.json", json.dumps(record, indent=2).encode())
    return dataset_from_definition(
        definition, workspace, name=name, version=version, description=description, tags=tags
    )


def load_dataset(workspace: Any, name: str, version: str | int = "latest") -> AbstractDataset:
    """The registered dataset ``name`` at ``version`` ('latest' or a number)."""
    store = workspace.get_default_datastore().store
    versions = _versions(store, name)
    declared = workspace._declared_datasets.get(name)
    if not versions and declared is not None:
        if str(version) not in ("latest", "1"):
            raise DatasetNotFoundError(
                f"Dataset {name!r} is declared in the workspace file as version 1 only."
            )
        return dataset_from_definition(
            _declared_definition(declared),
            workspace,
            name=name,
            version=1,
            description=declared.get("description"),
        )
    if not versions:
        known = list_datasets(workspace)
        raise DatasetNotFoundError(
            f"No dataset named {name!r} is registered in workspace {workspace.name!r}.{did_you_mean(name, known)} "
            f"Registered: {', '.join(known) or '(none)'}. Register it with "
            f"Dataset.Tabular.from_delimited_files(...).register(ws, {name!r}) or declare it under 'datasets' "
            "in the workspace file."
        )
    wanted = versions[-1] if str(version) == "latest" else int(version)
    if wanted not in versions:
        raise DatasetNotFoundError(f"Dataset {name!r} has no version {version}; versions: {versions}.")
    record = json.loads(store.read_bytes(f"{REGISTRY_PREFIX}/{name}/{wanted}.json"))
    return dataset_from_definition(
        record["definition"],
        workspace,
        name=name,
        version=wanted,
        description=record.get("description"),
        tags=record.get("tags"),
    )


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
    store = workspace.get_default_datastore().store
    names = set(workspace._declared_datasets)
    if store.exists(REGISTRY_PREFIX):
        names |= {rel.split("/")[2] for rel in store.list_files(REGISTRY_PREFIX)}
    return sorted(names)
