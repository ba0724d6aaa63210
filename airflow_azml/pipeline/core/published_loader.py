"""The deployment's loader DAG file: writing it (``write_loader``); what it runs is Airflow side.

``load_published_dags`` (every published pipeline, schedule and submitted experiment plan as a
DAG) lives in ``airflow_azml.provider.operators.published_loader``; the name stays importable from here
for loader files written by older versions, through the orchestrator port's ``airflow_side``.
"""

from __future__ import annotations

from typing import Any

from airflow_azml.core._orchestrator import airflow_side

__all__ = ["LOADER_TEXT", "write_loader"]

LOADER_TEXT = '''"""Published airflow-azml pipelines and schedules (the publish registry on the default datastore)."""
from airflow_azml.provider.operators.published_loader import load_published_dags

globals().update(load_published_dags(__file__))
'''


def write_loader(dags_folder: Any) -> Any:
    """Write the loader DAG file into ``dags_folder`` (deploy once per Airflow); returns its path."""
    from pathlib import Path

    path = Path(dags_folder) / "azml_published.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(LOADER_TEXT)
    return path


def __getattr__(name: str) -> Any:
    """``load_published_dags`` for loader files written before it moved to the Airflow side."""
    if name == "load_published_dags":
        return airflow_side(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
