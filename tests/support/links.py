"""Extra links of a task instance as Airflow's API server makes them (its ``.../links`` endpoint): the DAG
as serialized in the Airflow DB, deserialized with the plugins' operator links, each link's ``get_link``
for the task instance. Only for links that need no database (the plugin's); an operator's own links
are XComs, read them there."""

from __future__ import annotations

import json
import sqlite3
import zlib
from pathlib import Path

__all__ = ["served_links"]


def served_links(airflow_home: Path, dag_id: str, run_id: str, task_id: str) -> dict[str, str | None]:
    """{link name: url} for the plugin links of ``task_id`` in run ``run_id`` (operators' own links: None)."""
    from airflow.models.taskinstancekey import TaskInstanceKey
    from airflow.serialization.serialized_objects import DagSerialization

    with sqlite3.connect(airflow_home / "airflow.db") as db:
        data, compressed = db.execute(
            "SELECT data, data_compressed FROM serialized_dag WHERE dag_id=? ORDER BY created_at DESC LIMIT 1",
            (dag_id,),
        ).fetchone()
    doc = json.loads(zlib.decompress(compressed) if compressed else data)
    DagSerialization._load_operator_extra_links = True  # as the API server loads DAGs
    task = DagSerialization.from_dict(doc).get_task(task_id)
    key = TaskInstanceKey(dag_id=dag_id, task_id=task_id, run_id=run_id)
    links: dict[str, str | None] = {}
    for name in task.extra_links:
        link = task.operator_extra_link_dict.get(name) or task.global_operator_extra_link_dict.get(name)
        links[name] = None if type(link).__name__ == "XComOperatorLink" else link.get_link(task, ti_key=key)
    return links
