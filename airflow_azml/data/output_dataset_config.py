"""OutputFileDatasetConfig: a step output with a chosen destination, optionally registered."""

from __future__ import annotations

import copy
import uuid
from typing import Any

from airflow_azml.data.dataset_consumption_config import DatasetConsumptionConfig
from airflow_azml.data.stores import check_relative
from airflow_azml.exceptions import UserErrorException, check_data_name

__all__ = ["OutputFileDatasetConfig", "OutputTabularDatasetConfig", "OutputDatasetConfig"]

DEFAULT_DESTINATION = "dataset/{run-id}/{output-name}"


class OutputDatasetConfig:
    """Common base (v1 name)."""


class OutputFileDatasetConfig(OutputDatasetConfig):
    """``OutputFileDatasetConfig(name=None, destination=None, source=None)``.

    ``destination`` is ``(datastore, 'path/{run-id}/{output-name}')``; default
    ``dataset/{run-id}/{output-name}`` on the default datastore. Nothing is published
    unless the step succeeds, and ``register_on_complete`` registers only then.
    """

    def __init__(
        self,
        name: str | None = None,
        destination: tuple[Any, str] | None = None,
        source: str | None = None,
        partition_format: str | None = None,
    ):
        self.name = check_data_name(name or f"output_{uuid.uuid4().hex[:8]}", "OutputFileDatasetConfig")
        if destination is not None and not (isinstance(destination, tuple) and len(destination) == 2):
            raise UserErrorException(
                f"OutputFileDatasetConfig {self.name!r}: destination must be (datastore, 'path'), got {destination!r}."
            )
        self.datastore = destination[0] if destination else None
        self.destination_path = check_relative(destination[1]) if destination else DEFAULT_DESTINATION
        self.source = source
        self.mode = "mount"
        self.upload_overwrite = False
        self.source_globs: list[str] | None = None
        self.registration: dict[str, Any] | None = None
        self.tabular: dict[str, Any] | None = None
        self._producers: list[Any] = []
        self._origin = self

    @property
    def datastore_name(self) -> str | None:
        return getattr(self.datastore, "name", self.datastore)

    def _with(self, **changes: Any) -> OutputFileDatasetConfig:
        clone = copy.copy(self)
        clone.__dict__.update(changes)
        return clone

    def as_mount(self) -> OutputFileDatasetConfig:
        return self._with(mode="mount")

    def as_upload(
        self, overwrite: bool = False, source_globs: list[str] | None = None
    ) -> OutputFileDatasetConfig:
        return self._with(mode="upload", upload_overwrite=overwrite, source_globs=source_globs)

    def register_on_complete(
        self, name: str, description: str | None = None, tags: dict | None = None
    ) -> OutputFileDatasetConfig:
        check_data_name(name, "Dataset")
        self.registration = {"name": name, "description": description, "tags": tags or {}}
        return self

    def as_input(self, name: str | None = None) -> DatasetConsumptionConfig:
        return DatasetConsumptionConfig(name or self.name, self._origin, mode="mount")

    def read_delimited_files(
        self, separator: str = ",", header: bool = True, **_: Any
    ) -> OutputTabularDatasetConfig:
        return OutputTabularDatasetConfig(self, "delimited", {"separator": separator, "header": header})

    def read_parquet_files(self, **_: Any) -> OutputTabularDatasetConfig:
        return OutputTabularDatasetConfig(self, "parquet", {})

    def __repr__(self) -> str:
        return f"OutputFileDatasetConfig(name={self.name!r}, destination={self.destination_path!r})"


class OutputTabularDatasetConfig(OutputDatasetConfig):
    """An OutputFileDatasetConfig read as a table by its consumers."""

    def __init__(self, file_config: OutputFileDatasetConfig, fmt: str, options: dict[str, Any]):
        self.file_config = file_config
        self.name = file_config.name
        self.format = fmt
        self.options = options

    def as_input(self, name: str | None = None) -> DatasetConsumptionConfig:
        cfg = DatasetConsumptionConfig(name or self.name, self.file_config._origin, mode="direct")
        cfg.tabular = {"format": self.format, "options": self.options}  # type: ignore[attr-defined]
        return cfg

    def register_on_complete(self, name: str, description: str | None = None, tags: dict | None = None):
        self.file_config.register_on_complete(name, description, tags)
        self.file_config.tabular = {"format": self.format, "options": self.options}
        return self
