"""Which tasks a HyperDriveStep renders to: one task locally; slot tasks beside it (after the same
upstream, on the same queue) on Celery with a queue, or wherever its compute target says
``"hyperdrive_slots": true``; ``false`` keeps the one task even on Celery."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_azml.core import ScriptRunConfig, Workspace
from airflow_azml.pipeline.core import Pipeline
from airflow_azml.pipeline.steps import HyperDriveStep, PythonScriptStep
from airflow_azml.train.hyperdrive import GridParameterSampling, HyperDriveConfig, PrimaryMetricGoal, choice
from tests.conftest import write


def _dag(workspace_dir, target: str, slots: bool | None, name: str):
    config = json.loads((workspace_dir / "config.json").read_text())
    if slots is not None:
        config["compute_targets"]["cpu"]["hyperdrive_slots"] = slots
    (workspace_dir / "config.json").write_text(json.dumps(config))
    ws = Workspace.from_config(workspace_dir)
    code = workspace_dir / "code"
    write(code / "train.py", "print('train')\n")
    write(code / "prep.py", "print('prep')\n")
    prep = PythonScriptStep("prep.py", name="prep", source_directory=str(code), compute_target=target)
    cfg = HyperDriveConfig(
        run_config=ScriptRunConfig(source_directory=str(code), script="train.py", compute_target=target),
        hyperparameter_sampling=GridParameterSampling({"--lr": choice(0.1, 0.2, 0.3)}),
        primary_metric_name="accuracy",
        primary_metric_goal=PrimaryMetricGoal.MAXIMIZE,
        max_concurrent_runs=2,
    )
    sweep = HyperDriveStep("sweep", cfg)
    sweep.run_after(prep)
    return Pipeline(ws, [sweep]).to_dag(name)


def test_local_executor_renders_one_task(workspace_dir, monkeypatch):
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "LocalExecutor")
    dag = _dag(workspace_dir, "cpu", None, "hd_local")
    assert sorted(t.task_id for t in dag.tasks) == ["prep", "sweep"]
    assert not dag.get_task("sweep").step["hyperdrive"].get("slots")


@pytest.mark.parametrize(("executor", "slots"), [("CeleryExecutor", None), ("LocalExecutor", True)])
def test_slot_tasks_beside_the_controller(workspace_dir, monkeypatch, executor, slots):
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", executor)
    dag = _dag(workspace_dir, "cpu", slots, f"hd_{executor}")
    tasks = {t.task_id: t for t in dag.tasks}
    assert sorted(tasks) == ["prep", "sweep", "sweep__slot_1", "sweep__slot_2"]  # max_concurrent_runs=2
    assert tasks["sweep"].step["hyperdrive"]["slots"] is True and tasks["sweep"].priority_weight == 2
    assert [tasks[f"sweep__slot_{k}"].slot for k in (1, 2)] == [1, 2]
    for task in tasks.values():
        assert task.queue == "cpu"
        if task.task_id != "prep":
            assert task.upstream_task_ids == {"prep"}


def test_false_keeps_one_task_on_celery(workspace_dir, monkeypatch):
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "CeleryExecutor")
    dag = _dag(workspace_dir, "cpu", False, "hd_off")
    assert sorted(t.task_id for t in dag.tasks) == ["prep", "sweep"]


TRAIN = """
import argparse, os
from airflow_azml.core import Run

parser = argparse.ArgumentParser()
parser.add_argument("--learning_rate", type=float)
parser.add_argument("--layers", type=int)
args = parser.parse_args()
if args.layers == 5:
    raise SystemExit("layers=5 is not supported by this model")
os.makedirs("outputs", exist_ok=True)
open("outputs/model.txt", "w").write(f"lr={args.learning_rate} layers={args.layers}")
Run.get_context().log("accuracy", 1 - (args.learning_rate - 0.3) ** 2)
"""


@pytest.mark.slow
def test_slots_in_a_local_run_with_failing_children(embedded_airflow_home, workspace_dir, monkeypatch):
    """The local runner with slot tasks (opted in): failing children count as runs (max_total_runs
    holds), each record names its slot and a failed one its error; the best model is the step's."""
    from airflow_azml.core import Experiment
    from airflow_azml.pipeline.core import PipelineData, TrainingOutput

    monkeypatch.setenv("AZML_LOCAL_PARALLELISM", "3")  # the controller and both slots at once
    config = json.loads((workspace_dir / "config.json").read_text())
    config["compute_targets"]["sweeps"] = {"hyperdrive_slots": True}
    (workspace_dir / "config.json").write_text(json.dumps(config))
    ws = Workspace.from_config(workspace_dir)
    write(workspace_dir / "train" / "train.py", TRAIN)
    cfg = HyperDriveConfig(
        run_config=ScriptRunConfig(
            source_directory=str(workspace_dir / "train"), script="train.py", compute_target="sweeps"
        ),
        hyperparameter_sampling=GridParameterSampling(
            {"--learning_rate": choice(0.1, 0.3, 0.5), "layers": choice(2, 5)}
        ),
        primary_metric_name="accuracy",
        primary_metric_goal=PrimaryMetricGoal.MAXIMIZE,
        max_total_runs=5,
        max_concurrent_runs=2,
    )
    model = PipelineData(
        "model", datastore=ws.get_default_datastore(), training_output=TrainingOutput("Model")
    )
    run = Experiment(ws, "hd_slots_local").submit(Pipeline(ws, [HyperDriveStep("hd", cfg, outputs=[model])]))
    assert run.wait_for_completion(show_output=False) == "Finished"
    step = run.find_step_run("hd")[0]
    children = step.get_children()
    assert len(children) == 5  # max_total_runs, though two children failed
    assert [c.get_status() for c in children] == ["Completed", "Failed"] * 2 + ["Completed"]
    assert {c.record["slot"]["task"] for c in children} <= {"hd__slot_1", "hd__slot_2"}
    assert all(c.record["slot"]["ended"] for c in children)
    assert "layers=5 is not supported" in children[1].get_details()["error"]
    best = step.get_best_run_by_primary_metric()
    assert best.get_hyperparameters() == {"--learning_rate": 0.3, "layers": 2}
    local = run.find_step_run("hd")[0].get_output_data("model").download(str(workspace_dir / "dl"))
    assert (Path(local) / "outputs" / "model.txt").read_text() == "lr=0.3 layers=2"
