"""What changed on a datastore since the last look, and the Asset names of registered datasets and models.

Pure datastore code (no Airflow): the event triggers in ``airflow_azml/provider/triggers.py`` run it in
Airflow's triggerer, and ``Schedule``'s registry code uses it too.

Two watches:

* **blobs**: the files directly in a folder (no subfolders, no hidden files) with their
  content version (the Blob ETag, or size+mtime on a local folder). A file is *changed* when
  it is new or its version differs from the one seen last; one event per such file.
* **versions**: the versions of a registered dataset or model (``.azml/<kind>/<name>/<n>.json``
  on the default datastore: the workspace registry, ``core/registry.py``). A version is *new*
  when its number is above the last one seen; a rewritten record (``add_tags``) is not a new
  version.

Registered datasets and models are named by the registry, not by where their files are: a
dataset's definition (paths, globs, URLs, several datastores) changes from one version to the
next, and a model's files move to a new folder per version, so the datastore location would
name a different asset for each version. Their asset is ``azureml://[subscriptions/<s>/
resourcegroups/<rg>/]workspaces/<ws>/datasets/<name>`` (``.../models/<name>``), Azure ML's
own form for workspace assets; each registered version is one event of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from airflow_azml.core import registry
from airflow_azml.core.registry import stored_versions
from airflow_azml.data.asset_uri import AssetRef

__all__ = [
    "REGISTRY_KINDS",
    "registry_asset",
    "registry_folder",
    "folder_blobs",
    "changed_blobs",
    "stored_versions",
    "new_versions",
]

#: registry kind whose versions are Asset events -> its prefix on the default datastore
REGISTRY_KINDS = {kind: registry.KINDS[kind] for kind in ("datasets", "models")}


def registry_asset(workspace: Mapping[str, Any] | None, kind: str, name: str) -> AssetRef:
    """The asset of the registered dataset or model ``name`` (``kind``: 'datasets' or 'models').

    ``workspace`` is a workspace config (``workspace_name``, and ``subscription_id`` +
    ``resource_group`` when known, as in ``plan["workspace"]["config"]``; "local", the value of a
    workspace file without them, counts as unknown).
    """
    if kind not in REGISTRY_KINDS:
        raise ValueError(f"registry kind {kind!r}: use one of {', '.join(REGISTRY_KINDS)}.")
    ws = workspace or {}
    scope = ""
    if ws.get("subscription_id") not in (None, "", "local") and ws.get("resource_group") not in (
        None,
        "",
        "local",
    ):
        scope = f"subscriptions/{ws['subscription_id']}/resourcegroups/{ws['resource_group']}/"
    namespace = f"azureml://{quote(scope, safe='/')}workspaces/{quote(str(ws.get('workspace_name') or 'local'), safe='')}"
    path = f"{kind}/{quote(name, safe='')}"
    full = f"{namespace}/{path}"
    return AssetRef(name=full, uri=full, namespace=namespace, path=path)


def registry_folder(kind: str, name: str) -> str:
    """Where the versions of ``name`` are recorded on the default datastore (``kind``: 'datasets' or 'models')."""
    if kind not in REGISTRY_KINDS:
        raise ValueError(f"registry kind {kind!r}: use one of {', '.join(REGISTRY_KINDS)}.")
    return registry.folder(kind, name)


def folder_blobs(store: Any, folder: str) -> dict[str, str]:
    """{path: content version} of the files directly in ``folder`` (one listing on a Blob store)."""
    folder = folder.strip("/")
    if folder and not store.exists(folder):
        return {}
    prefix = f"{folder}/" if folder else ""
    found = store.versions(folder)
    return {
        rel: version
        for rel, version in found.items()
        if rel.startswith(prefix)
        and "/" not in rel[len(prefix) :]
        and not rel.rsplit("/", 1)[-1].startswith(".")
    }


def changed_blobs(current: Mapping[str, str], seen: Mapping[str, str]) -> list[tuple[str, str]]:
    """(path, version) of each file in ``current`` that ``seen`` does not hold at that version, sorted."""
    return [(rel, version) for rel, version in sorted(current.items()) if seen.get(rel) != version]


def new_versions(current: list[int], last: int | None) -> list[int]:
    """The versions above ``last`` (none on the first look, ``last`` None: the watch starts from now)."""
    if last is None:
        return []
    return [v for v in current if v > last]
