"""DataPath and DataPathComputeBinding: a datastore path, usable as a pipeline parameter."""

from __future__ import annotations

from typing import Any

from airflow_azml.data.stores import check_relative

__all__ = ["DataPath", "DataPathComputeBinding"]


class DataPath:
    """A path on a datastore (``DataPath(datastore, path_on_datastore)``)."""

    def __init__(self, datastore: Any = None, path_on_datastore: str | None = None, name: str | None = None):
        self.datastore = datastore
        self.path_on_datastore = check_relative(path_on_datastore, what="path_on_datastore")
        self.name = name

    @property
    def datastore_name(self) -> str | None:
        return getattr(self.datastore, "name", self.datastore)

    def create_data_reference(
        self, data_reference_name: str | None = None, datapath_compute_binding: Any = None
    ):
        from airflow_azml.data.data_reference import DataReference

        mode = getattr(datapath_compute_binding, "mode", "mount")
        return DataReference(self.datastore, data_reference_name, self.path_on_datastore, mode=mode)

    def to_json(self) -> dict[str, Any]:
        return {"datastore": self.datastore_name, "path_on_datastore": self.path_on_datastore}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DataPath) and self.to_json() == other.to_json()

    def __hash__(self) -> int:
        return hash((self.datastore_name, self.path_on_datastore))

    def __repr__(self) -> str:
        return f"DataPath(datastore={self.datastore_name!r}, path_on_datastore={self.path_on_datastore!r})"


class DataPathComputeBinding:
    """How a DataPath parameter reaches the step: ``mount`` or ``download``."""

    def __init__(self, mode: str = "mount", path_on_compute: str | None = None, overwrite: bool = False):
        if mode not in ("mount", "download"):
            raise ValueError(f"DataPathComputeBinding mode must be 'mount' or 'download', not {mode!r}.")
        self.mode = mode
        self.path_on_compute = path_on_compute
        self.overwrite = overwrite
