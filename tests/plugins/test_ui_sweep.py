"""The sweep section of the pipeline view, from children's run records on a local datastore (no server).

The same records a HyperDriveStep writes (``<task>/children/HD_<n>.json``); a real sweep's page is
checked in tests/operators/test_hyperdrive.py.
"""

from __future__ import annotations

import json
import re

from airflow_azml.data.stores.local import LocalStore
from airflow_azml.execution.records import RunRecords
from airflow_azml.provider.plugins.ui_data import pipeline_view
from airflow_azml.provider.plugins.ui_render import render_page
from airflow_azml.provider.plugins.ui_sweep import scatter_chart

DAG = "tune"
TASKS = [{"task_id": "sweep", "downstream_task_ids": [], "operator_name": "HyperDriveStepOperator"}]
CHILDREN = [  # (lr, optimizer, status, series, reason)
    (0.1, "sgd", "Completed", [0.5, 0.7], None),
    (0.3, "adam", "Completed", [0.6, 0.9], None),
    (0.9, "sgd", "Canceled", [0.1], "Bandit: 0.1 < best 0.6 / (1 + 0.1) = 0.5455 at interval 1"),
    (0.5, "adam", "Running", [0.4], None),
]


def _records(store: LocalStore, run_id: str, goal: str = "MAXIMIZE") -> RunRecords:
    rec = RunRecords(store, DAG, run_id)
    rec.write_step("sweep", {"name": "sweep", "kind": "hyperdrive", "status": "Running", "start": 100.0})
    for n, (lr, opt, status, series, reason) in enumerate(CHILDREN):
        child = {
            "run_id": f"{run_id}_sweep_HD_{n}",
            "number": n,
            "hyperparameters": {"--lr": lr, "--optimizer": opt},
            "status": status,
            "termination_reason": reason,
            "start_time": 100.0 + n,
            "end_time": None if status == "Running" else 103.0 + n,
            "primary_metric_name": "val_acc",
            "primary_metric_goal": goal,
            "primary_metric_series": series,
            "best_primary_metric": (max if goal == "MAXIMIZE" else min)(series),
            "error": None,
            "reused_from": None,
        }
        store.write_bytes(f"{rec.prefix}/sweep/children/HD_{n}.json", json.dumps(child).encode())
    store.write_bytes(f"{rec.prefix}/sweep/children/HD_0/stdout.txt", b"not a record")
    return rec


def test_sweep_rows_best_stopped_and_charts(tmp_path):
    store = LocalStore(tmp_path)
    _records(store, "manual__1")
    view = pipeline_view(store, DAG, "manual__1", TASKS, {})
    sweep = view["steps"][0]["sweep"]
    assert [c["number"] for c in sweep["children"]] == [0, 1, 2, 3]
    assert sweep["best"] == 1 and [c["best"] for c in sweep["children"]] == [False, True, False, False]
    assert sweep["hyperparameters"] == ["--lr", "--optimizer"]
    assert sweep["counts"] == {"Canceled": 1, "Completed": 2, "Running": 1}
    page = render_page(view)
    assert "HyperDrive sweeps" in page and "primary metric <code>val_acc</code>, maximize" in page
    row = re.search(r'data-child="HD_2">(.*?)</tr>', page).group(1)
    assert "Canceled" in row and "Bandit: 0.1 &lt; best 0.6 / (1 + 0.1) = 0.5455 at interval 1" in row
    assert "★ best" in re.search(r'data-child="HD_1">(.*?)</tr>', page).group(1)
    time_chart = re.search(r'<svg id="azml-sweep-time-sweep".*?</svg>', page).group(0)
    assert time_chart.count("<circle") == 4 and "azml-best-so-far" in time_chart
    lr_chart = re.search(r'<svg id="azml-sweep-param-sweep-lr".*?</svg>', page).group(0)
    assert lr_chart.count("<circle") == 4 and "HD_1 (Completed, best) --lr=0.3" in lr_chart
    opt_chart = re.search(r'<svg id="azml-sweep-param-sweep-optimizer".*?</svg>', page).group(0)
    assert ">adam</text>" in opt_chart and ">sgd</text>" in opt_chart  # categories on the x axis


def test_minimize_picks_the_lowest_and_a_reused_step_shows_the_earlier_children(tmp_path):
    store = LocalStore(tmp_path)
    _records(store, "manual__1", goal="MINIMIZE")
    view = pipeline_view(store, DAG, "manual__1", TASKS, {})
    assert view["steps"][0]["sweep"]["best"] == 0 and not view["steps"][0]["sweep"]["maximize"]

    again = RunRecords(store, DAG, "manual__2")
    again.write_step(
        "sweep",
        {
            "name": "sweep",
            "kind": "hyperdrive",
            "status": "Finished",
            "reused": True,
            "reused_from": {"run_id": "manual__1", "task_id": "sweep"},
        },
    )
    sweep = pipeline_view(store, DAG, "manual__2", TASKS, {})["steps"][0]["sweep"]
    assert [c["run_id"] for c in sweep["children"]][0] == "manual__1_sweep_HD_0"


def test_no_children_yet_no_sweep_and_empty_chart(tmp_path):
    view = pipeline_view(LocalStore(tmp_path), DAG, "manual__9", TASKS, {})
    assert view["steps"][0]["sweep"] is None and "HyperDrive sweeps" not in render_page(view)
    assert scatter_chart("empty", [{"x": None, "y": 1}], "x") == ""
