"""The ParallelRunStep progress section of the pipeline view, from the nodes' heartbeats on the step's
work board on a local datastore (no server); the heartbeats are what runtime/parallel.py writes
(``progress_fields``), and the same figures feed ``azml run``'s progress bar."""

from __future__ import annotations

import json
import re

from airflow_azml.data.stores.local import LocalStore
from airflow_azml.execution.records import RunRecords
from airflow_azml.provider.plugins.ui_data import pipeline_view
from airflow_azml.provider.plugins.ui_render import render_page
from airflow_azml.runtime.parallel_progress import BOARD_FOLDER

DAG = "score"
TASKS = [
    {"task_id": "prep", "downstream_task_ids": ["score"], "operator_name": "PythonScriptStepOperator"},
    {"task_id": "score", "downstream_task_ids": [], "operator_name": "ParallelRunStepOperator"},
]


def _beat(store: LocalStore, rec: RunRecords, node: str, **fields) -> None:
    store.write_bytes(f"{rec.prefix}/score/{BOARD_FOLDER}/nodes/{node}.json", json.dumps(fields).encode())


def test_progress_per_node_and_totals(tmp_path):
    store = LocalStore(tmp_path / "ds")
    rec = RunRecords(store, DAG, "run_1")
    rec.write_step("prep", {"name": "prep", "kind": "python_script", "status": "Finished"})
    rec.write_step("score", {"name": "score", "kind": "parallel_run", "status": "Running"})
    _beat(store, rec, "node000", total=20, done=7, failed=1, items=70, items_failed=3, items_per_second=35.5,
          host="cpu@vm")  # fmt: skip
    _beat(store, rec, "node001", total=20, done=5, failed=0, items=50, items_failed=0, items_per_second=24.0,
          host="gpu@vm")  # fmt: skip
    view = pipeline_view(store, DAG, "run_1", TASKS)
    steps = {s["task_id"]: s for s in view["steps"]}
    assert "parallel" not in steps["prep"]
    p = steps["score"]["parallel"]
    assert (p["total"], p["done"], p["failed"], p["left"], p["items"]) == (20, 12, 1, 7, 120)
    assert p["items_per_second"] == 59.5
    html = render_page(view, static_url="/azml/static/azml_ui.js")
    section = html[html.index('<div id="azml-parallel">') :]
    assert "12 done, 1 failed, 7 left of 20" in section and "59.5 items/s" in section
    rows = re.findall(r"<tr><td>(node\d+)</td><td>([^<]+)</td><td>(\d+)</td><td>(\d+)</td>", section)
    assert rows == [("node000", "cpu@vm", "7", "1"), ("node001", "gpu@vm", "5", "0")]


def test_no_heartbeat_yet_no_section(tmp_path):
    store = LocalStore(tmp_path / "ds")
    RunRecords(store, DAG, "run_2").write_step(
        "score", {"name": "score", "kind": "parallel_run", "status": "Queued"}
    )
    view = pipeline_view(store, DAG, "run_2", TASKS)
    assert {s["task_id"]: s for s in view["steps"]}["score"]["parallel"] is None
    assert "azml-parallel" not in render_page(view, static_url="/azml/static/azml_ui.js")
