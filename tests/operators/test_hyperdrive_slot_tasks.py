"""Which tasks a HyperDriveStep renders to: one task locally; slot tasks beside it (after the same
upstream, on the same queue) on Celery with a queue, or wherever its compute target says
``"hyperdrive_slots": true``; ``false`` keeps the one task even on Celery."""

from __future__ import annotations

import json

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
