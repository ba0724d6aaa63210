"""ParallelRunStep through Airflow for real: Experiment.submit -> dag.test -> ParallelRunStepOperator.

Our own scenarios in the shape of v1's parallel-run samples: a FileDataset scored into one
append_row file with parameters overridden at submit, a TabularDataset split by size with the
script writing its own output (summary_only) and arguments read with argparse, and a failing
mini-batch under and over the error threshold.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_azml.core import Dataset, Environment, Experiment, Workspace
from airflow_azml.exceptions import ActivityFailedException
from airflow_azml.pipeline.core import Pipeline, PipelineData, PipelineParameter
from airflow_azml.pipeline.steps import ParallelRunConfig, ParallelRunStep
from tests.conftest import write

pytestmark = pytest.mark.slow

SCORE_FILES = """
import os
from azureml_user.parallel_run import EntryScript

def init():
    EntryScript().logger.info("model loaded")

def run(mini_batch):
    out = []
    for image in mini_batch:
        text = open(image).read()
        if text == "corrupt":
            raise ValueError(f"cannot decode {os.path.basename(image)}")
        out.append(f"{os.path.basename(image)}: {len(text) % 10}")
    return out
"""

SCORE_ROWS = """
import argparse, os
from azureml_user.parallel_run import EntryScript

def init():
    global OFFSET
    parser = argparse.ArgumentParser()
    parser.add_argument("--offset", type=int, required=True)
    parser.add_argument("--bonus_dir", required=True)
    args, _unknown = parser.parse_known_args()
    OFFSET = args.offset + int(open(os.path.join(args.bonus_dir, "bonus.txt")).read())

def run(df):
    df["score"] = df["income"] + OFFSET
    name = f"part-{os.getpid()}-{df['id'].iloc[0]}.csv"
    df.to_csv(os.path.join(EntryScript().output_dir, name), index=False)
    return df
"""


def _images(ws: Workspace, n: int, corrupt: tuple[int, ...] = ()) -> Dataset:
    root = ws.get_default_datastore().root
    for i in range(n):
        write(root / "mnist" / f"{i:03d}.png", "corrupt" if i in corrupt else "p" * i)
    return Dataset.File.from_files(path=(ws.get_default_datastore(), "mnist/*.png"))


def _config(folder: Path, script: str, **kw) -> ParallelRunConfig:
    write(folder / "score.py", script)
    args = dict(
        source_directory=str(folder),
        entry_script="score.py",
        error_threshold=0,
        output_action="append_row",
        environment=Environment("batch_environment"),
        compute_target="cpu",
        node_count=1,
        run_invocation_timeout=60,
    )
    args.update(kw)
    return ParallelRunConfig(**args)


def test_file_dataset_append_row_with_parameters_overridden(
    embedded_airflow_home, workspace_dir, tmp_path, capsys
):
    ws = Workspace.from_config(workspace_dir)
    images = PipelineParameter("mnist_param", default_value=_images(ws, 30))
    from airflow_azml.data.dataset_consumption_config import DatasetConsumptionConfig

    cfg = _config(
        workspace_dir / "code",
        SCORE_FILES.replace("out = []", "out = []\n    __import__('time').sleep(0.8)"),  # a bar to see
        mini_batch_size=PipelineParameter("batch_size_param", default_value="5"),
        process_count_per_node=PipelineParameter("process_count_param", default_value=2),
        append_row_file_name="mnist_outputs.txt",
    )
    output = PipelineData("inferences", datastore=ws.get_default_datastore())
    step = ParallelRunStep(
        name="predict-digits-mnist",
        parallel_run_config=cfg,
        inputs=[DatasetConsumptionConfig("minist_param_config", images).as_mount()],
        output=output,
        allow_reuse=False,
    )
    run = Experiment(ws, "digit_identification").submit(
        Pipeline(ws, [step]), pipeline_parameters={"batch_size_param": "4", "process_count_param": 2}
    )
    assert run.wait_for_completion(show_output=True) == "Finished"
    shown = capsys.readouterr().out  # the progress bar, from the step's heartbeat on the datastore
    assert "StepRun(predict-digits-mnist) [" in shown and "/8 mini-batches (0 failed, " in shown
    step_run = run.find_step_run("predict-digits-mnist")[0]
    local = Path(step_run.get_output_data("inferences").download(str(tmp_path / "dl"), show_progress=False))
    rows = (local / "mnist_outputs.txt").read_text().splitlines()
    assert sorted(rows) == sorted(f"{i:03d}.png: {i % 10}" for i in range(30))
    metrics = step_run.get_metrics()
    assert metrics["mini_batches"] == 8 and metrics["items"] == 30 and metrics["items_failed"] == 0
    log = step_run.get_stdout_log()
    assert "8 mini-batches (8 to run) on 2 worker processes" in log
    assert "progress: 8/8 mini-batches done, 0 failed, 0 left; 30 items" in log
    # the Pipeline (azml) view shows the same progress, from the step's heartbeat on the board
    from airflow_azml.provider.plugins.ui_data import pipeline_view, tasks_from_plan

    view = pipeline_view(run.records.store, run.records.dag_id, run.id, tasks_from_plan(run._plan))
    progress = {s["task_id"]: s for s in view["steps"]}[step_run.task_id]["parallel"]
    assert (progress["done"], progress["failed"], progress["left"], progress["items"]) == (8, 0, 0, 30)


def test_tabular_dataset_split_by_size_summary_only(embedded_airflow_home, workspace_dir, tmp_path):
    ws = Workspace.from_config(workspace_dir)
    rows = "id,income\n" + "".join(f"{i},{i * 10}\n" for i in range(2000))
    write(ws.get_default_datastore().root / "income" / "all.csv", rows)
    table = Dataset.Tabular.from_delimited_files(path=(ws.get_default_datastore(), "income/*.csv"))
    cfg = _config(
        workspace_dir / "code",
        SCORE_ROWS,
        output_action="summary_only",
        mini_batch_size="4KB",
        process_count_per_node=2,
    )
    output = PipelineData("scored", datastore=ws.get_default_datastore())
    write(ws.get_default_datastore().root / "side" / "bonus.txt", "100")
    bonus = (
        Dataset.File.from_files(path=(ws.get_default_datastore(), "side")).as_named_input("bonus").as_mount()
    )
    step = ParallelRunStep(
        "total-income",
        cfg,
        [table.as_named_input("income")],
        output=output,
        side_inputs=[bonus],
        arguments=["--offset", 7, "--bonus_dir", bonus],
    )
    run = Experiment(ws, "tabular_prs").submit(Pipeline(ws, [step]))
    assert run.wait_for_completion(show_output=False) == "Finished"
    step_run = run.find_step_run("total-income")[0]
    local = Path(step_run.get_output_data("scored").download(str(tmp_path / "dl"), show_progress=False))
    import pandas as pd

    parts = sorted(local.glob("part-*.csv"))
    assert len(parts) > 3  # one 30 KB file, cut into ~4 KB mini-batches
    frame = pd.concat(pd.read_csv(p) for p in parts).sort_values("id")
    assert list(frame["id"]) == list(range(2000)) and list(frame["score"]) == [
        i * 10 + 107
        for i in range(2000)  # --offset 7 + the side input's bonus 100
    ]
    assert not (local / "parallel_run_step.txt").exists()
    assert step_run.get_metrics()["items"] == 2000


def test_failing_mini_batch_under_and_over_the_threshold(embedded_airflow_home, workspace_dir, tmp_path):
    ws = Workspace.from_config(workspace_dir)
    images = _images(ws, 12, corrupt=(6,))

    def pipeline(threshold: int) -> Pipeline:
        cfg = _config(
            workspace_dir / "code",
            SCORE_FILES,
            error_threshold=threshold,
            mini_batch_size=3,
            run_max_try=2,
            process_count_per_node=1,
        )
        out = PipelineData("inferences", datastore=ws.get_default_datastore())
        step = ParallelRunStep("score-images", cfg, [images.as_named_input("images").as_mount()], output=out)
        return Pipeline(ws, [step])

    under = Experiment(ws, "prs_under").submit(pipeline(3))
    assert under.wait_for_completion(show_output=False) == "Finished"
    step_run = under.find_step_run("score-images")[0]
    assert step_run.get_metrics()["items_failed"] == 3
    local = Path(step_run.get_output_data("inferences").download(str(tmp_path / "dl"), show_progress=False))
    assert len((local / "parallel_run_step.txt").read_text().splitlines()) == 9

    over = Experiment(ws, "prs_over").submit(pipeline(2))
    with pytest.raises(ActivityFailedException) as err:
        over.wait_for_completion(show_output=False)
    message = str(err.value)
    assert "3 failed items exceed error_threshold=2" in message
    assert "006.png" in message and "ValueError: cannot decode 006.png" in message
    assert "Traceback" in message
    (failed,) = over.get_steps()
    assert failed.get_status() == "Failed" and failed.record["outputs"] == {}
    assert "parallel_run_summary.json" in failed.get_file_names()


COUNTING = """
import os
COUNTS = os.environ["PRS_COUNTS"]

def init():
    pass

def run(mini_batch):
    out = []
    for image in mini_batch:
        name = os.path.basename(image)
        open(os.path.join(COUNTS, name), "a").write("x")
        if name == "011.png" and not os.path.exists(os.path.join(COUNTS, "failed-once")):
            open(os.path.join(COUNTS, "failed-once"), "w").write("")
            raise RuntimeError("transient failure")
    return [os.path.basename(p) for p in mini_batch]
"""


def test_airflow_retry_resumes_from_the_checkpoint(
    embedded_airflow_home, workspace_dir, tmp_path, monkeypatch
):
    cfg_file = workspace_dir / "config.json"
    config = json.loads(cfg_file.read_text())
    config["compute_targets"]["retrying"] = {"type": "AmlCompute", "retries": 1, "retry_delay": 0}
    cfg_file.write_text(json.dumps(config))
    ws = Workspace.from_config(workspace_dir)
    counts = tmp_path / "counts"
    counts.mkdir()
    monkeypatch.setenv("PRS_COUNTS", str(counts))
    images = _images(ws, 12)
    cfg = _config(
        workspace_dir / "code",
        COUNTING,
        compute_target="retrying",
        mini_batch_size=3,
        run_max_try=1,
        process_count_per_node=1,
    )
    out = PipelineData("inferences", datastore=ws.get_default_datastore())
    step = ParallelRunStep("resume-me", cfg, [images.as_named_input("images").as_mount()], output=out)
    run = Experiment(ws, "prs_retry").submit(Pipeline(ws, [step]))
    assert run.wait_for_completion(show_output=False) == "Finished"
    ran = {p.name: len(p.read_text()) for p in counts.glob("*.png")}
    # the first try stopped at 011.png's mini-batch (009-011); the retry ran only that one again
    assert ran == {f"{i:03d}.png": (2 if i >= 9 else 1) for i in range(12)}
    step_run = run.find_step_run("resume-me")[0]
    assert step_run.get_metrics()["mini_batches_from_checkpoint"] == 3
    local = Path(step_run.get_output_data("inferences").download(str(tmp_path / "dl"), show_progress=False))
    assert sorted((local / "parallel_run_step.txt").read_text().splitlines()) == [
        f"{i:03d}.png" for i in range(12)
    ]


PER_FOLDER = """
import os

def init():
    pass

def run(mini_batch, mini_batch_context):
    key = mini_batch_context.partition_key_value
    files = mini_batch_context.dataset.to_path()
    return [f"{os.path.basename(p)},{key['user']},{key['genres']},{len(files)}" for p in mini_batch]
"""


def test_file_partition_keys_one_mini_batch_per_partition(embedded_airflow_home, workspace_dir, tmp_path):
    ws = Workspace.from_config(workspace_dir)
    root = ws.get_default_datastore().root
    layout = [
        ("user1", "winter", "disco"),
        ("user1", "fall", "disco"),
        ("user2", "summer", "piano"),
        ("user3", "fall", "piano"),
    ]
    for user, season, genre in layout:
        write(root / "dataset_partition_test" / user / season / f"{genre}.wav", "RIFF")
    parted = Dataset.File.from_files(
        path=(ws.get_default_datastore(), "dataset_partition_test/*/*/*.wav"),
        partition_format="dataset_partition_test/{user}/{season}/{genres}.wav",
    )
    cfg = _config(workspace_dir / "code", PER_FOLDER, partition_keys=["user", "genres"], error_threshold=5)
    out = PipelineData("file_dataset_inferences", datastore=ws.get_default_datastore())
    step = ParallelRunStep(
        "summarize-file-size",
        cfg,
        [parted.as_named_input("partitioned_file_input")],
        output=out,
        allow_reuse=False,
    )
    run = Experiment(ws, "file-dataset-partition").submit(Pipeline(ws, [step]))
    assert run.wait_for_completion(show_output=False) == "Finished"
    step_run = run.find_step_run("summarize-file-size")[0]
    local = Path(
        step_run.get_output_data("file_dataset_inferences").download(
            str(tmp_path / "dl"), show_progress=False
        )
    )
    rows = sorted((local / "parallel_run_step.txt").read_text().splitlines())
    assert rows == [
        "disco.wav,user1,disco,2",
        "disco.wav,user1,disco,2",
        "piano.wav,user2,piano,1",
        "piano.wav,user3,piano,1",
    ]
    assert step_run.get_metrics()["mini_batches"] == 3
