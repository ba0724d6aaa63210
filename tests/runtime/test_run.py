"""Run.get_context(): offline outside a pipeline, and the metrics shape v1 users read back."""

from __future__ import annotations

import json
from pathlib import Path

from airflow_azml.runtime import CONTEXT_ENV
from airflow_azml.runtime.run import OfflineRun, Run


def test_offline_run_prints_what_it_logs(monkeypatch, capsys):
    monkeypatch.delenv(CONTEXT_ENV, raising=False)
    run = Run.get_context()
    assert isinstance(run, OfflineRun) and run.id.startswith("OfflineRun_")
    run.log("acc", 0.5)
    run.log("acc", 0.75)
    run.log_list("losses", [3, 2, 1])
    run.log_row("curve", x=1, y=2)
    run.log_row("curve", x=2, y=4)
    run.log_table("t", {"a": [1, 2]})
    assert "Attempted to log scalar metric acc:\n0.5" in capsys.readouterr().out
    assert run.get_metrics() == {
        "acc": [0.5, 0.75],
        "losses": [3, 2, 1],
        "curve": {"x": [1, 2], "y": [2, 4]},
        "t": {"a": [1, 2]},
    }
    assert run.get_metrics("acc") == {"acc": [0.5, 0.75]}


def test_context_run_reads_inputs_and_writes_metrics(tmp_path: Path, monkeypatch):
    csv = tmp_path / "d.csv"
    csv.write_text("a\n1\n2\n")
    ctx = {
        "run_id": "r_step",
        "parent_run_id": "r",
        "step_name": "step",
        "experiment": "exp",
        "workspace": None,
        "input_datasets": {
            "folder": {"path": str(tmp_path)},
            "table": {
                "definition": {
                    "kind": "tabular",
                    "format": "delimited",
                    "options": {},
                    "local_files": [str(csv)],
                }
            },
        },
        "output_datasets": {"out": str(tmp_path / "out")},
        "metrics_file": str(tmp_path / "m.jsonl"),
        "parent_metrics_file": str(tmp_path / "pm.jsonl"),
        "files_dir": str(tmp_path / "files"),
    }
    (tmp_path / "ctx.json").write_text(json.dumps(ctx))
    monkeypatch.setenv(CONTEXT_ENV, str(tmp_path / "ctx.json"))
    run = Run.get_context()
    assert (run.id, run.parent.id, run.experiment.name) == ("r_step", "r", "exp")
    assert run.input_datasets["folder"] == str(tmp_path)
    assert run.input_datasets["table"].to_pandas_dataframe()["a"].tolist() == [1, 2]
    assert run.output_datasets == {"out": str(tmp_path / "out")}
    run.log("n", 3)
    run.parent.log("total", 9)
    run.tag("team", "ml")
    (tmp_path / "img.png").write_bytes(b"\x89PNG")
    run.log_image("plot", path=str(tmp_path / "img.png"))
    run.upload_file("outputs/model.txt", str(tmp_path / "img.png"))
    assert run.get_metrics() == {
        "n": 3,
        "plot": {"kind": "image", "path": "images/plot.png"},
        "outputs/model.txt": {"kind": "file", "path": "outputs/model.txt"},
    }
    assert run.get_tags() == {"team": "ml"}
    assert (tmp_path / "files" / "images" / "plot.png").exists()
    assert json.loads((tmp_path / "pm.jsonl").read_text())["name"] == "total"
