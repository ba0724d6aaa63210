"""DatasetConsumptionConfig: how a dataset arrives in a step, under which name."""

from __future__ import annotations

import copy
from typing import Any

from airflow_azml.exceptions import check_data_name

__all__ = ["DatasetConsumptionConfig"]


class DatasetConsumptionConfig:
    """``dataset.as_named_input(name)`` and its ``as_mount()`` / ``as_download()`` variants.

    ``mode``: ``direct`` (the step gets a Dataset object), ``mount`` or ``download`` (a path).
    ``dataset`` may be a Dataset, a PipelineParameter whose default is one, or an
    OutputFileDatasetConfig / PipelineData produced by an earlier step.
    """

    def __init__(self, name: str, dataset: Any, mode: str = "direct", path_on_compute: str | None = None):
        self.name = check_data_name(name, "Dataset input")
        self.dataset = dataset
        self.mode = mode
        self.path_on_compute = path_on_compute

    def _with(self, **changes: Any) -> DatasetConsumptionConfig:
        clone = copy.copy(self)
        clone.__dict__.update(changes)
        return clone

    def as_mount(self, path_on_compute: str | None = None) -> DatasetConsumptionConfig:
        return self._with(mode="mount", path_on_compute=path_on_compute)

    def as_download(self, path_on_compute: str | None = None) -> DatasetConsumptionConfig:
        return self._with(mode="download", path_on_compute=path_on_compute)

    def as_direct(self) -> DatasetConsumptionConfig:
        return self._with(mode="direct")

    def __repr__(self) -> str:
        return f"DatasetConsumptionConfig(name={self.name!r}, mode={self.mode!r})"
