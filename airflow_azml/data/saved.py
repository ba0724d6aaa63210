"""Saved datasets: an unregistered dataset given to a run keeps its definition under its id.

v1 saved every dataset a run used and gave it an id, so ``Dataset.get_by_id(ws, ds.id)`` and a
REST body's ``SavedDataSetReference: {"Id": ...}`` find it later without a registration. Here an
unregistered dataset's id is a hash of its definition; ``save_dataset`` writes that definition to
the workspace registry (``core/registry.py``, kind ``saved_datasets``:
``.azml/saved_datasets/<id>.json`` on the default datastore) when a run is submitted with it,
never when a pipeline is built.
"""

from __future__ import annotations

from typing import Any

from airflow_azml.core import registry
from airflow_azml.data.dataset import AbstractDataset, dataset_from_definition
from airflow_azml.exceptions import DatasetNotFoundError

__all__ = ["save_dataset", "save_datasets", "load_saved", "SAVED_PREFIX"]

_KIND = "saved_datasets"
SAVED_PREFIX = registry.KINDS[_KIND]


def save_dataset(workspace: Any, dataset: AbstractDataset) -> str:
    """Keep an unregistered dataset's definition under its id; returns the id."""
    dataset_id = dataset.id
    if dataset.name and dataset.version:
        return dataset_id  # a registered version is found by name:version
    if not registry.exists(workspace, _KIND, dataset_id):
        definition = {k: v for k, v in dataset.definition.items() if not k.startswith("local_")}
        registry.write(workspace, _KIND, dataset_id, {"id": dataset_id, "definition": definition})
    return dataset_id


def load_saved(workspace: Any, dataset_id: str) -> AbstractDataset:
    """The dataset saved under ``dataset_id``."""
    record = registry.read(workspace, _KIND, dataset_id)
    if record is None:
        raise DatasetNotFoundError(
            f"No dataset with id {dataset_id!r} in workspace {workspace.name!r}: ids are 'name:version' for "
            "registered datasets, or the id of a dataset a run was submitted with (ds.id)."
        )
    return dataset_from_definition(record["definition"], workspace)


def save_datasets(workspace: Any, values: Any) -> None:
    """Save every unregistered dataset among ``values`` (pipeline parameter values and defaults)."""
    for value in values:
        if isinstance(value, AbstractDataset) and not (value.name and value.version):
            save_dataset(workspace, value)
