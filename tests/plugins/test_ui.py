"""The pipeline view rendered from real run records on a local datastore (no server)."""

from __future__ import annotations

import re
import struct
import zlib
from pathlib import Path

import pytest

from airflow_azml.data.stores.local import LocalStore
from airflow_azml.execution.records import RunRecords
from airflow_azml.provider.plugins.ui_data import display_status, pipeline_view, run_history, split_metrics
from airflow_azml.provider.plugins.ui_render import format_size, graph_svg, line_chart, render_page

DAG = "train_pipe"
TASKS = [
    {"task_id": "prep", "downstream_task_ids": ["train"], "operator_name": "PythonScriptStepOperator"},
    {"task_id": "train", "downstream_task_ids": ["report"], "operator_name": "EstimatorStepOperator"},
    {"task_id": "report", "downstream_task_ids": [], "operator_name": "PythonScriptStepOperator"},
]


def _png(path: Path) -> None:
    """A valid 1x1 PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)) + chunk(
        b"IDAT", zlib.compress(b"\0\xff\0\0")
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + raw + chunk(b"IEND", b""))


def _run(store: LocalStore, run_id: str, accuracy: float, start: float, tmp: Path) -> None:
    rec = RunRecords(store, DAG, run_id)
    processed = {"datastore": "ws", "path": f"azureml/{run_id}/prep/processed"}
    store.write_bytes(processed["path"] + "/part-0.csv", b"a,b\n1,2\n" * 100)
    rec.write_step(
        "prep",
        {
            "name": "prep",
            "kind": "python_script",
            "status": "Finished",
            "start": start,
            "duration": 1.25,
            "reused": True,
            "reuse_reason": "same script, inputs and parameters",
            "reused_from": {"run_id": "manual__0", "task_id": "prep"},
            "inputs": {},
            "outputs": {"processed": processed},
            "metrics": {"rows": 100},
        },
    )
    _png(tmp / "files" / "images" / "confusion.png")
    rec.put_file("train", "files", tmp / "files")
    rec.write_step(
        "train",
        {
            "name": "train",
            "kind": "estimator",
            "status": "Finished",
            "start": start + 2,
            "duration": 3.5,
            "reused": False,
            "run_reason": "no earlier run",
            "inputs": {"processed": {**processed, "version": "v1", "mode": "mount"}},
            "outputs": {"model": {"datastore": "ws", "path": f"azureml/{run_id}/train/model"}},
            "metrics": {
                "accuracy": accuracy,
                "loss": [0.9, 0.5, 0.3],
                "coefficients": [1.0, -2.0],
                "epochs": {"epoch": [1, 2, 3], "val_loss": [0.8, 0.6, 0.55]},
                "confusion": {"kind": "image", "path": "images/confusion.png"},
            },
            "error": None,
            "logs": {},
        },
    )


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    store = LocalStore(tmp_path / "ws")
    for i, acc in enumerate((0.71, 0.78, 0.83)):
        _run(store, f"manual__2026-01-0{i + 1}T00:00:00+00:00", acc, 1000.0 + i * 100, tmp_path / f"w{i}")
    return store


def _view(store: LocalStore, states: dict[str, str]) -> dict:
    tis = {t: {"state": s, "try_number": 1} for t, s in states.items()}
    return pipeline_view(
        store,
        DAG,
        "manual__2026-01-03T00:00:00+00:00",
        TASKS,
        tis,
        store_of=lambda name: store if name == "ws" else None,
    )


def test_view_has_statuses_reuse_data_edges_sizes_and_history(store: LocalStore) -> None:
    view = _view(store, {"prep": "success", "train": "success", "report": "running"})
    steps = {s["task_id"]: s for s in view["steps"]}
    assert [steps[t]["status"] for t in ("prep", "train", "report")] == ["Reused", "Finished", "Running"]
    assert steps["prep"]["reason"] == "same script, inputs and parameters"
    assert steps["prep"]["outputs"] == [
        {
            "name": "processed",
            "datastore": "ws",
            "path": "azureml/manual__2026-01-03T00:00:00+00:00/prep/processed",
            "size": 800,
        }
    ]
    assert steps["train"]["outputs"][0]["size"] is None  # not there: no size rather than a wrong one
    assert view["edges"] == [
        {"src": "prep", "dst": "train", "kind": "data", "label": "processed"},
        {"src": "train", "dst": "report", "kind": "order", "label": ""},
    ]
    assert view["running"] is True
    assert view["history"]["metrics"]["train.accuracy"] == [0.71, 0.78, 0.83]
    assert view["history"]["metrics"]["prep.rows"] == [100, 100, 100]
    assert len(view["history"]["runs"]) == 3


def test_page_shows_graph_tables_charts_and_image(store: LocalStore) -> None:
    view = _view(store, {"prep": "success", "train": "success", "report": "failed"})
    page = render_page(
        view, file_url="/azml-ui/pipeline/x/y/file/{task_id}/{path}", static_url="/azml-ui/static/azml_ui.js"
    )
    assert '<link rel="stylesheet" href="/azml-ui/static/azml_ui.css">' in page
    assert '<script src="/azml-ui/static/azml_ui.js"></script>' in page
    assert page.count('class="azml-node"') == 3
    assert 'data-task-id="report" data-status="Failed"' in page
    assert page.count('class="azml-reused"') == 1  # only prep was reused
    assert ">processed</text>" in page  # the data edge's label
    assert 'id="azml-metrics"' in page and "<td>accuracy</td><td>0.83</td>" in page
    assert 'id="azml-history-train.accuracy"' in page
    # history: prep.rows + train.accuracy (3 runs each); loss 3, coefficients 2; epochs: val_loss over epoch
    assert len(re.findall(r'class="azml-point"', page)) == 3 + 3 + 3 + 2 + 3
    assert ">epoch 1</text>" in page and ">epoch 3</text>" in page
    assert 'id="azml-series-train-coefficients"' in page and 'id="azml-table-train-epochs"' in page
    assert 'src="/azml-ui/pipeline/x/y/file/train/files/images/confusion.png"' in page
    assert "800 B" in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")  # nothing from a CDN


def test_focused_step_shows_its_data_error_and_logs(store: LocalStore) -> None:
    view = _view(store, {"prep": "success", "train": "failed"})
    view["steps"][1]["error"] = "train.py exited 1: ValueError: <bad> input"
    page = render_page(view, task_id="train", logs={"stderr.txt": "Traceback ...\nValueError: <bad> input"})
    assert 'id="azml-step"' in page and 'id="outputs"' in page
    assert "ValueError: &lt;bad&gt; input" in page and "<bad>" not in page  # escaped


def test_view_without_records_shows_not_started_steps(tmp_path: Path) -> None:
    view = pipeline_view(LocalStore(tmp_path), DAG, "scheduled__x", TASKS, {})
    assert {s["status"] for s in view["steps"]} == {"NotStarted"}
    assert view["history"] == {"runs": [], "starts": [], "metrics": {}}
    page = render_page(view)
    assert "No numeric metric logged yet." in page and "No metrics logged." in page


def test_helpers() -> None:
    assert display_status("upstream_failed", None) == "Canceled"
    assert display_status(None, {"status": "Failed"}) == "Failed"
    assert split_metrics(
        {"a": 1, "b": [1, 2], "t": {"c": [1]}, "i": {"kind": "image", "path": "images/i.png"}}
    ) == {
        "scalars": {"a": 1},
        "series": {"b": [1, 2]},
        "tables": {"t": {"c": [1]}},
        "images": {"i": "images/i.png"},
    }
    assert format_size(None) == "–" and format_size(800) == "800 B" and format_size(2048) == "2.0 KB"
    assert line_chart("empty", {"x": [None, "a"]}) == ""
    one = line_chart("one", {"x": [5]})
    assert one.count('class="azml-point"') == 1
    svg = graph_svg({"steps": [], "edges": []})
    assert svg.startswith('<svg id="azml-graph"')
    assert run_history(LocalStore(Path("/nonexistent-azml")), DAG)["runs"] == []
