"""Asset events an embedded Airflow (dag.test, the session's SQLite home) recorded, read from its database."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

__all__ = ["embedded_asset_events"]


def embedded_asset_events(airflow_home: Path, dag_id: str) -> list[dict[str, Any]]:
    """Every asset event a task of ``dag_id`` emitted, oldest first: uri, extra, task, run."""
    db = sqlite3.connect(airflow_home / "airflow.db")
    try:
        rows = db.execute(
            "SELECT a.uri, e.extra, e.source_task_id, e.source_run_id FROM asset_event e "
            "JOIN asset a ON a.id = e.asset_id WHERE e.source_dag_id = ? ORDER BY e.id",
            (dag_id,),
        ).fetchall()
    finally:
        db.close()
    return [{"uri": u, "extra": json.loads(x), "task": t, "run": r} for u, x, t, r in rows]
