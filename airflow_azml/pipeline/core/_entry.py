"""The base of the v1 classes that wrap one record of the workspace's publish registry.

PipelineEndpoint and Schedule each hold their record (a JSON dict under ``.azml/published``) and
read ``name``, ``description`` and ``status`` from it the same way; this is that one place.
"""

from __future__ import annotations

from typing import Any

__all__ = ["RegistryEntry"]


class RegistryEntry:
    """One registry record (``entry``) of ``workspace``, read through v1's attribute names."""

    def __init__(self, workspace: Any, entry: dict[str, Any]):
        self._workspace = workspace
        self._entry = entry

    @property
    def name(self) -> str:
        return str(self._entry["name"])

    @property
    def description(self) -> str | None:
        return self._entry.get("description")

    @property
    def status(self) -> str:
        """``Active`` unless the record says otherwise (records written before status existed)."""
        return str(self._entry.get("status", "Active"))
