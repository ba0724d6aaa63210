"""Which tasks a ParallelRunStep renders to: one task locally; with a queue on Celery, node tasks
beside it (fixed for a literal node_count, mapped at run time for a PipelineParameter)."""

from __future__ import annotations

import pytest

from airflow_azml.core import Dataset, Environment, Workspace
from airflow_azml.pipeline.core import Pipeline, PipelineData, PipelineParameter
from airflow_azml.pipeline.steps import ParallelRunConfig, ParallelRunStep
from tests.conftest import write


def _dag(ws: Workspace, folder, node_count, name: str):
    write(folder / "score.py", "def run(mb):\n    return mb\n")
    write(ws.get_default_datastore().root / "imgs" / "a.png", "a")
    cfg = ParallelRunConfig(
        source_directory=str(folder), entry_script="score.py", error_threshold=0, output_action="append_row",
        environment=Environment("env"), compute_target="cpu", node_count=node_count, process_count_per_node=2,
    )  # fmt: skip
    files = Dataset.File.from_files(path=(ws.get_default_datastore(), "imgs/*.png"))
    step = ParallelRunStep(
        name="score-files", parallel_run_config=cfg, inputs=[files.as_named_input("imgs").as_mount()],
        output=PipelineData("scores", datastore=ws.get_default_datastore()), allow_reuse=False,
    )  # fmt: skip
    return Pipeline(ws, [step]).to_dag(name)


def test_local_executor_renders_one_task(workspace_dir, monkeypatch):
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "LocalExecutor")
    dag = _dag(Workspace.from_config(workspace_dir), workspace_dir / "code", 3, "prs_local")
    assert [t.task_id for t in dag.tasks] == ["score-files"]


@pytest.mark.parametrize("count", [3, "param"])
def test_celery_renders_node_tasks_on_the_step_queue(workspace_dir, monkeypatch, count):
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "CeleryExecutor")
    nodes = PipelineParameter("nodes", default_value=2) if count == "param" else count
    dag = _dag(Workspace.from_config(workspace_dir), workspace_dir / "code", nodes, f"prs_{count}")
    tasks = {t.task_id: t for t in dag.tasks}
    step = tasks["score-files"]
    assert step.step["parallel"]["node_tasks"] is True and step.priority_weight == 2
    if count == 3:
        assert sorted(tasks) == ["score-files", "score-files__nodes_1", "score-files__nodes_2"]
        assert [tasks[f"score-files__nodes_{n}"].node for n in (1, 2)] == [1, 2]
    else:
        assert sorted(tasks) == ["score-files", "score-files__node_count", "score-files__nodes"]
        assert tasks["score-files__nodes"].upstream_task_ids == {"score-files__node_count"}
    assert {t.queue for t in dag.tasks} == {"cpu"}
