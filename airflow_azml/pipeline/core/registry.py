"""The old path of the workspace registry's keyed kinds: the registry is ``airflow_azml.core.registry``.

Published pipelines, submitted plans, endpoints, schedules, drafts and modules were kept here
before registered datasets, models and environments joined them in one module; these names stay
importable from here.
"""

from __future__ import annotations

from airflow_azml.core.registry import (
    KINDS,
    REGISTRY_PREFIX,
    delete,
    entries,
    exists,
    read,
    record_path,
    safe_id,
    write,
)

__all__ = [
    "REGISTRY_PREFIX",
    "KINDS",
    "safe_id",
    "record_path",
    "exists",
    "read",
    "write",
    "delete",
    "entries",
]
