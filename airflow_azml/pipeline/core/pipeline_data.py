"""PipelineData: intermediate data one step writes and later steps read."""

from __future__ import annotations

import copy
from typing import Any

from airflow_azml.exceptions import UserErrorException, check_data_name

__all__ = ["PipelineData", "InputPortBinding", "PipelineOutputFileDataset", "PipelineOutputTabularDataset"]


class PipelineData:
    """``PipelineData(name, datastore=None, output_mode='mount', ...)``.

    The producing step gets a fresh run-scoped folder (``azureml/<run>/<step>/<name>``);
    consumers get the committed folder. In ``arguments`` it becomes an absolute local path.
    """

    def __init__(
        self,
        name: str,
        datastore: Any = None,
        output_name: str | None = None,
        output_mode: str = "mount",
        output_path_on_compute: str | None = None,
        output_overwrite: bool | None = None,
        data_type: str | None = None,
        is_directory: bool | None = None,
        pipeline_output_name: str | None = None,
        training_output: Any = None,
    ):
        self.name = check_data_name(name, "PipelineData")
        if output_mode not in ("mount", "upload"):
            raise UserErrorException(
                f"PipelineData {name!r}: output_mode must be 'mount' or 'upload', not {output_mode!r}."
            )
        if output_mode == "upload" and not output_path_on_compute:
            raise UserErrorException(
                f"PipelineData {name!r}: output_mode='upload' needs output_path_on_compute, the local path the "
                "script writes to."
            )
        self.datastore = datastore
        self.output_name = output_name or name
        self.output_mode = output_mode
        self.output_path_on_compute = output_path_on_compute
        self.output_overwrite = output_overwrite
        self.is_directory = bool(is_directory)
        self.pipeline_output_name = pipeline_output_name
        self.training_output = training_output  # a HyperDriveStep's TrainingOutput
        self._producers: list[Any] = []

    @property
    def datastore_name(self) -> str | None:
        return getattr(self.datastore, "name", self.datastore)

    def as_mount(self) -> InputPortBinding:
        return InputPortBinding(self.name, self, bind_mode="mount")

    def as_download(
        self, input_name: str | None = None, path_on_compute: str | None = None, overwrite: bool | None = None
    ) -> InputPortBinding:
        return InputPortBinding(input_name or self.name, self, "download", path_on_compute, overwrite)

    def as_input(self, input_name: str) -> InputPortBinding:
        return InputPortBinding(input_name, self, bind_mode="mount")

    def as_dataset(self) -> PipelineOutputFileDataset:
        return PipelineOutputFileDataset(self)

    def __repr__(self) -> str:
        return f"$AZUREML_DATAREFERENCE_{self.name}"


class InputPortBinding:
    """How a consumer reads a PipelineData: under ``name``, mounted or downloaded."""

    def __init__(
        self,
        name: str,
        bind_object: Any,
        bind_mode: str = "mount",
        path_on_compute: str | None = None,
        overwrite: bool | None = None,
        tabular: dict | None = None,
    ):
        self.name = check_data_name(name, "Input")
        self.bind_object = bind_object
        self.bind_mode = bind_mode
        self.path_on_compute = path_on_compute
        self.overwrite = overwrite
        self.tabular = tabular

    @property
    def data(self) -> Any:
        return self.bind_object

    def __repr__(self) -> str:
        return f"InputPortBinding(name={self.name!r}, data={self.bind_object!r}, mode={self.bind_mode!r})"


class PipelineOutputFileDataset:
    """``pipeline_data.as_dataset()``: the output consumed as a FileDataset."""

    def __init__(
        self,
        pipeline_data: PipelineData,
        name: str | None = None,
        mode: str = "mount",
        path_on_compute: str | None = None,
    ):
        self.pipeline_data = pipeline_data
        self.name = name or pipeline_data.name
        self.mode = mode
        self.path_on_compute = path_on_compute

    def as_named_input(self, name: str) -> Any:
        clone = copy.copy(self)
        clone.name = check_data_name(name, "Input")
        return clone

    def as_mount(self) -> Any:
        clone = copy.copy(self)
        clone.mode = "mount"
        return clone

    def as_download(self, path_on_compute: str | None = None) -> Any:
        clone = copy.copy(self)
        clone.mode, clone.path_on_compute = "download", path_on_compute
        return clone

    def parse_delimited_files(self, separator: str = ",", header: bool | str = True, **_: Any):
        has_header = header not in (False, "NO_HEADERS", "no_headers")
        return PipelineOutputTabularDataset(self, "delimited", {"separator": separator, "header": has_header})

    def parse_parquet_files(self, **_: Any):
        return PipelineOutputTabularDataset(self, "parquet", {})

    def _binding(self) -> InputPortBinding:
        return InputPortBinding(self.name, self.pipeline_data, self.mode, self.path_on_compute)


class PipelineOutputTabularDataset:
    """``pipeline_data.as_dataset().parse_*_files()``: arrives as a TabularDataset object."""

    def __init__(self, file_dataset: PipelineOutputFileDataset, fmt: str, options: dict[str, Any]):
        self.file_dataset = file_dataset
        self.name = file_dataset.name
        self.format = fmt
        self.options = options

    @property
    def pipeline_data(self) -> PipelineData:
        return self.file_dataset.pipeline_data

    def as_named_input(self, name: str) -> PipelineOutputTabularDataset:
        clone = copy.copy(self)
        clone.name = check_data_name(name, "Input")
        return clone

    def _binding(self) -> InputPortBinding:
        return InputPortBinding(
            self.name, self.pipeline_data, "mount", tabular={"format": self.format, "options": self.options}
        )
