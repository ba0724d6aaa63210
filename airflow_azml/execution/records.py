"""Run records on the default datastore: one JSON per step run, plus its logs and metrics.

Layout: ``.azml/runs/<dag_id>/<run slug>/<task_id>.json`` and ``.../<task_id>/<file>``.
Every worker writes here and every reader (PipelineRun, the UI, ``azml``) reads here.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

__all__ = ["RunRecords", "run_slug", "step_run_id", "RUNS_PREFIX"]

RUNS_PREFIX = ".azml/runs"
_UNSAFE = re.compile(r"[^\w.-]")  # compiled at import: a local run's task children inherit it


def run_slug(run_id: str) -> str:
    """An Airflow run id made safe for paths (``manual__2024-01-01T00:00:00+00:00`` has ':' and '+')."""
    return _UNSAFE.sub("_", run_id)


def step_run_id(run_id: str, task_id: str) -> str:
    return f"{run_slug(run_id)}_{task_id}"


class RunRecords:
    """Records of one pipeline run on a datastore ``store``."""

    def __init__(self, store: Any, dag_id: str, run_id: str):
        self.store = store
        self.dag_id = dag_id
        self.run_id = run_id
        self.prefix = f"{RUNS_PREFIX}/{dag_id}/{run_slug(run_id)}"

    def write_step(self, task_id: str, record: dict[str, Any]) -> None:
        self.store.write_bytes(
            f"{self.prefix}/{task_id}.json", json.dumps(record, indent=1, default=str).encode()
        )

    def read_step(self, task_id: str) -> dict[str, Any] | None:
        rel = f"{self.prefix}/{task_id}.json"
        if not self.store.exists(rel):
            return None
        return json.loads(self.store.read_bytes(rel))

    def steps(self) -> dict[str, dict[str, Any]]:
        if not self.store.exists(self.prefix):
            return {}
        out = {}
        for rel in self.store.list_files(self.prefix):
            name = rel[len(self.prefix) + 1 :]
            if "/" not in name and name.endswith(".json") and not name.startswith("_"):
                out[name[:-5]] = json.loads(self.store.read_bytes(rel))
        return out

    def put_file(self, task_id: str, name: str, local: Path) -> str:
        rel = f"{self.prefix}/{task_id}/{name}"
        if Path(local).exists():
            self.store.put(Path(local), rel, overwrite=True)
        return rel

    def read_text(self, rel: str) -> str:
        return self.store.read_bytes(rel).decode("utf-8", errors="replace") if self.store.exists(rel) else ""

    # -- a failed step stops independent ones unless continue_on_step_failure ------------
    def mark_failed(self, task_id: str) -> None:
        self.store.write_bytes(f"{self.prefix}/_failed/{task_id}", b"")

    def failed_steps(self) -> list[str]:
        rel = f"{self.prefix}/_failed"
        if not self.store.exists(rel):
            return []
        return sorted(r.rsplit("/", 1)[-1] for r in self.store.list_files(rel))

    def write_meta(self, meta: dict[str, Any]) -> None:
        self.store.write_bytes(f"{self.prefix}/_run.json", json.dumps(meta, indent=1, default=str).encode())

    def read_meta(self) -> dict[str, Any]:
        rel = f"{self.prefix}/_run.json"
        return json.loads(self.store.read_bytes(rel)) if self.store.exists(rel) else {}
