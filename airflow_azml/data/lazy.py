"""A registered dataset looked up by name, read from the registry only when first needed.

DAG files call ``Dataset.get_by_name`` at parse time; reading the registry there would be
I/O on every parse (and network for remote datastores). The version is pinned when the
step runs and recorded with the run.
"""

from __future__ import annotations

from typing import Any

from airflow_azml.data.dataset import AbstractDataset, load_dataset

__all__ = ["LazyDataset"]


class LazyDataset(AbstractDataset):
    """Stands for ``Dataset.get_by_name(ws, name, version)`` until its definition is needed."""

    def __init__(self, workspace: Any, name: str, version: str | int = "latest"):
        self._workspace = workspace
        self.name = name
        self.version = version
        self.description = None
        self.tags = {}
        self._resolved: AbstractDataset | None = None

    def resolve(self) -> AbstractDataset:
        if self._resolved is None:
            self._resolved = load_dataset(self._workspace, self.name, self.version)
        return self._resolved

    @property
    def kind(self) -> str:  # type: ignore[override]
        declared = self._workspace._declared_datasets.get(self.name)
        if declared is not None and self._resolved is None:
            return str(declared.get("type", "tabular"))
        return self.resolve().kind

    @property
    def definition(self) -> dict[str, Any]:
        return self.resolve().definition

    @property
    def id(self) -> str:
        return f"{self.name}:{self.version}"

    def __getattr__(self, item: str) -> Any:
        if item.startswith("_"):
            raise AttributeError(item)
        return getattr(self.resolve(), item)

    def __repr__(self) -> str:
        return f"Dataset.get_by_name(name={self.name!r}, version={self.version!r})"
