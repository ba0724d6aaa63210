"""DataReference: a static input on a datastore."""

from __future__ import annotations

import copy
from typing import Any

from airflow_azml.data.stores import check_relative
from airflow_azml.exceptions import UserErrorException, check_data_name

__all__ = ["DataReference", "check_data_name"]

_MODES = ("mount", "download", "upload", "direct")


class DataReference:
    """``DataReference(datastore, data_reference_name, path_on_datastore, mode='mount', ...)``."""

    def __init__(
        self,
        datastore: Any,
        data_reference_name: str | None = None,
        path_on_datastore: str | None = None,
        mode: str = "mount",
        path_on_compute: str | None = None,
        overwrite: bool = False,
    ):
        if mode not in _MODES:
            raise UserErrorException(f"DataReference mode {mode!r} is not one of {', '.join(_MODES)}.")
        self.datastore = datastore
        self.path_on_datastore = check_relative(path_on_datastore, what="path_on_datastore")
        default_name = getattr(datastore, "name", "data")
        self.data_reference_name = check_data_name(data_reference_name or default_name, "DataReference")
        self.mode = mode
        self.path_on_compute = path_on_compute
        self.overwrite = overwrite

    @property
    def datastore_name(self) -> str:
        return getattr(self.datastore, "name", str(self.datastore))

    def _with(self, **changes: Any) -> DataReference:
        clone = copy.copy(self)
        for k, v in changes.items():
            setattr(clone, k, v)
        return clone

    def as_mount(self) -> DataReference:
        return self._with(mode="mount")

    def as_download(self, path_on_compute: str | None = None, overwrite: bool = False) -> DataReference:
        return self._with(mode="download", path_on_compute=path_on_compute, overwrite=overwrite)

    def as_upload(self, path_on_compute: str | None = None, overwrite: bool = False) -> DataReference:
        return self._with(mode="upload", path_on_compute=path_on_compute, overwrite=overwrite)

    def path(self, path: str | None = None, data_reference_name: str | None = None) -> DataReference:
        sub = check_relative(path)
        full = f"{self.path_on_datastore}/{sub}".strip("/")
        return DataReference(self.datastore, data_reference_name or self.data_reference_name, full, self.mode)

    def __repr__(self) -> str:
        return (
            f"$AZUREML_DATAREFERENCE_{self.data_reference_name} "
            f"({self.datastore_name}/{self.path_on_datastore}, {self.mode})"
        )
