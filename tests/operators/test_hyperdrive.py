"""HyperDriveStep through Airflow for real: Experiment.submit -> dag.test -> HyperDriveStepOperator.

Our own scenarios in the shape of v1's hyperdrive pipeline sample: a grid over a script whose
metric is a known function of its parameters (the best found is the true best), Bandit stopping
the children that are obviously bad early (and only those), max_concurrent_runs held (counted
from the children's run records), a failing child, and the best model flowing through
TrainingOutput("Model") into a downstream PythonScriptStep, with every child's metrics through
metrics_output.
"""

from __future__ import annotations

import json
import re
import sqlite3
from html import escape as esc
from pathlib import Path
from urllib.parse import quote

import pytest

from airflow_azml.core import Experiment, ScriptRunConfig, Workspace
from airflow_azml.pipeline.core import Pipeline, PipelineData, TrainingOutput
from airflow_azml.pipeline.steps import HyperDriveStep, PythonScriptStep
from airflow_azml.provider.plugins.ui_data import pipeline_view, tasks_from_plan
from airflow_azml.provider.plugins.ui_render import render_page
from airflow_azml.train.hyperdrive import (
    BanditPolicy,
    BayesianParameterSampling,
    GridParameterSampling,
    HyperDriveConfig,
    MedianStoppingPolicy,
    PrimaryMetricGoal,
    RandomParameterSampling,
    TruncationSelectionPolicy,
    choice,
    uniform,
)
from tests.conftest import write
from tests.support.links import served_links

pytestmark = pytest.mark.slow

# accuracy = 1 - (lr - 0.3)^2 - (layers - 2)^2 / 10: the true best is lr=0.3, layers=2.
TRAIN = """
import argparse, os, time
from airflow_azml.core import Run

parser = argparse.ArgumentParser()
parser.add_argument("--learning_rate", type=float)
parser.add_argument("--layers", type=int)
parser.add_argument("--data", default=None)
args = parser.parse_args()
run = Run.get_context()
acc = 1 - (args.learning_rate - 0.3) ** 2 - (args.layers - 2) ** 2 / 10
if args.layers == 5:
    raise SystemExit("layers=5 is not supported by this model")
os.makedirs("outputs", exist_ok=True)
with open("outputs/model.txt", "w") as fh:
    fh.write(f"lr={args.learning_rate} layers={args.layers}")
for epoch in range(1, 5):
    run.log("accuracy", round(acc * epoch / 4, 6))
    time.sleep(float(os.environ.get("EPOCH_SECONDS", "0.05")))
"""

USE_MODEL = """
import argparse, os
parser = argparse.ArgumentParser()
parser.add_argument("--model")
parser.add_argument("--metrics")
parser.add_argument("--out")
args = parser.parse_args()
model = open(os.path.join(args.model, "outputs", "model.txt")).read()
metrics = open(os.path.join(args.metrics, "hyperdrive_metrics.json")).read()
os.makedirs(args.out, exist_ok=True)
open(os.path.join(args.out, "deployed.txt"), "w").write(model + "\\n" + metrics)
"""


def _sweep(folder: Path, sampling, **kw) -> HyperDriveConfig:
    write(folder / "train.py", TRAIN)
    args = dict(
        run_config=ScriptRunConfig(source_directory=str(folder), script="train.py"),
        hyperparameter_sampling=sampling,
        primary_metric_name="accuracy",
        primary_metric_goal=PrimaryMetricGoal.MAXIMIZE,
    )
    args.update(kw)
    return HyperDriveConfig(**args)


def _overlap(children) -> int:
    """The most children running at one moment, from their records' start and end times."""
    events = sorted(
        [(c.record["start_time"], 1) for c in children] + [(c.record["end_time"], -1) for c in children],
        key=lambda e: (e[0], e[1]),
    )
    most = now = 0
    for _, delta in events:
        now += delta
        most = max(most, now)
    return most


def test_grid_finds_the_true_best_and_hands_the_model_on(embedded_airflow_home, workspace_dir, tmp_path):
    ws = Workspace.from_config(workspace_dir)
    store = ws.get_default_datastore()
    grid = GridParameterSampling({"--learning_rate": choice(0.1, 0.3, 0.5), "layers": choice(1, 2, 5)})
    cfg = _sweep(workspace_dir / "train", grid, max_concurrent_runs=2)
    model = PipelineData(
        "saved_model",
        datastore=store,
        training_output=TrainingOutput("Model", model_file="outputs/model.txt"),
    )
    metrics = PipelineData("metrics_data", datastore=store, pipeline_output_name="metrics_output")
    sweep = HyperDriveStep("hd_step01", cfg, outputs=[model], metrics_output=metrics)
    deployed = PipelineData("deployed", datastore=store)
    write(workspace_dir / "deploy" / "use_model.py", USE_MODEL)
    use = PythonScriptStep(
        "use_model.py",
        name="use_model",
        arguments=["--model", model, "--metrics", metrics, "--out", deployed],
        inputs=[model, metrics],
        outputs=[deployed],
        source_directory=str(workspace_dir / "deploy"),
    )
    run = Experiment(ws, "Hyperdrive_sample").submit(Pipeline(ws, [sweep, use]))
    assert run.wait_for_completion(show_output=False) == "Finished"

    hd_run = run.find_step_run("hd_step01")[0]
    children = hd_run.get_children()
    assert [c.get_hyperparameters() for c in children] == [
        {"--learning_rate": lr, "layers": n} for lr in (0.1, 0.3, 0.5) for n in (1, 2, 5)
    ]
    statuses = {json.dumps(c.get_hyperparameters()): c.get_status() for c in children}
    assert [s for s in statuses.values()].count("Failed") == 3  # every layers=5 child
    failed = next(c for c in children if c.get_status() == "Failed")
    assert "layers=5 is not supported" in failed.get_details()["error"]
    best = hd_run.get_best_run_by_primary_metric()
    assert best.get_hyperparameters() == {"--learning_rate": 0.3, "layers": 2}
    assert best.get_metrics()["accuracy"][-1] == 1.0
    assert _overlap(children) <= 2
    assert hd_run.get_metrics()[best.id]["accuracy"] == [0.25, 0.5, 0.75, 1.0]
    assert hd_run.get_hyperparameters()[best.id] == {"--learning_rate": 0.3, "layers": 2}
    assert {"outputs/model.txt", "logs/stdout.txt"} <= set(best.get_file_names())
    saved = best.download_file("outputs/model.txt", str(tmp_path))
    assert Path(saved).read_text() == "lr=0.3 layers=2"
    model = best.register_model("hd-best-model", model_path="outputs/model.txt")
    assert model.name == "hd-best-model" and model.version == 1

    local = Path(run.find_step_run("use_model")[0].get_output_data("deployed").download(str(tmp_path / "dl")))
    text = (local / "deployed.txt").read_text()
    assert text.startswith("lr=0.3 layers=2\n")
    every = json.loads(text.split("\n", 1)[1])
    assert len(every) == 9 and every[best.id]["accuracy"][-1] == 1.0
    out = Path(run.get_pipeline_output("metrics_output").download(str(tmp_path / "m")))
    assert json.loads((out / "hyperdrive_metrics.json").read_text()) == every

    # the Pipeline (azml) view of the same run: children, best marked, failures and why, charts
    view = pipeline_view(run.records.store, run.records.dag_id, run.id, tasks_from_plan(run._plan))
    sweep = next(s for s in view["steps"] if s["task_id"] == hd_run.task_id)["sweep"]
    assert (
        sweep["metric"] == "accuracy"
        and sweep["maximize"]
        and sweep["hyperparameters"] == ["--learning_rate", "layers"]
    )
    assert [c["run_id"] for c in sweep["children"]] == [c.id for c in children]
    assert [c["run_id"] for c in sweep["children"] if c["best"]] == [best.id]
    assert sweep["counts"] == {"Completed": 6, "Failed": 3}
    page = render_page(view)
    assert page.count('class="azml-child') == 9 and page.count("azml-child azml-best") == 1
    assert "★ best" in page and "layers=5 is not supported by this model" in page
    for chart in (
        "azml-sweep-time-",
        "azml-sweep-param-hd_step01-learning_rate",
        "azml-sweep-param-hd_step01-layers",
    ):
        assert f'id="{chart}' in page
    assert page.count('<circle class="azml-point"') >= 3 * 6  # each completed child in each chart


def test_bandit_stops_the_obviously_bad_children_only(embedded_airflow_home, workspace_dir, monkeypatch):
    monkeypatch.setenv("EPOCH_SECONDS", "0.6")
    ws = Workspace.from_config(workspace_dir)
    sampling = RandomParameterSampling(
        {"--learning_rate": choice(0.3, 3.0), "--layers": choice(2, 12)}, properties={"rndseed": 1}
    )
    cfg = _sweep(
        workspace_dir / "train",
        sampling,
        max_total_runs=4,
        max_concurrent_runs=4,
        policy=BanditPolicy(evaluation_interval=2, slack_factor=0.2),
    )
    run = Experiment(ws, "bandit").submit(Pipeline(ws, [HyperDriveStep("sweep", cfg, allow_reuse=False)]))
    assert run.wait_for_completion(show_output=False) == "Finished"
    children = run.find_step_run("sweep")[0].get_children()
    assert len(children) == 4
    by_params = {
        (c.get_hyperparameters()["--learning_rate"], c.get_hyperparameters()["--layers"]): c for c in children
    }
    assert by_params[(0.3, 2)].get_status() == "Completed"  # the best: 1.0
    for bad in ((3.0, 2), (0.3, 12), (3.0, 12)):  # accuracy far below 0
        child = by_params[bad]
        assert child.get_status() == "Canceled", child
        reason = child.get_details()["terminationReason"]
        assert reason.startswith("Bandit: ") and "/ (1 + 0.2)" in reason and "at interval 2" in reason
        assert len(child.get_metrics()["accuracy"]) < 4  # stopped before its end
    assert _overlap(children) <= 4
    view = pipeline_view(run.records.store, run.records.dag_id, run.id, tasks_from_plan(run._plan))
    page = render_page(view)
    for bad in ((3.0, 2), (0.3, 12), (3.0, 12)):  # each stopped child in the view with its reason
        row = re.search(rf'data-child="HD_{by_params[bad].number}">(.*?)</tr>', page).group(1)
        assert "Canceled" in row and esc(by_params[bad].get_details()["terminationReason"]) in row
    # the task's link to the sweep section: made by the API server (the plugin's), no link XCom at the task's end
    link = served_links(embedded_airflow_home, run.records.dag_id, run.id, "sweep")["HyperDrive sweep"]
    assert link.endswith(f"/{quote(run.id, safe='')}?task_id=sweep#azml-sweep-sweep")
    with sqlite3.connect(embedded_airflow_home / "airflow.db") as db:
        keys = {
            k for (k,) in db.execute("SELECT key FROM xcom WHERE run_id=? AND task_id='sweep'", (run.id,))
        }
    assert not {k for k in keys if k.startswith("_link_")}, keys
    with sqlite3.connect(embedded_airflow_home / "airflow.db") as db:  # the children in Airflow's XCom tab
        (table,) = db.execute(
            "SELECT value FROM xcom WHERE run_id=? AND task_id='sweep' AND key='azml_hyperdrive'", (run.id,)
        ).fetchone()
    table = json.loads(table)
    assert table["best_child"] == by_params[(0.3, 2)].id and table["primary_metric_name"] == "accuracy"
    assert {c["run_id"]: (c["status"], c["termination_reason"]) for c in table["children"]} == {
        c.id: (c.get_status(), c.get_details()["terminationReason"]) for c in children
    }


QUALITY = """
import argparse, time
from airflow_azml.core import Run

parser = argparse.ArgumentParser()
parser.add_argument("--quality", type=float)
args = parser.parse_args()
for epoch in range(4):
    Run.get_context().log("accuracy", args.quality)
    time.sleep(0.3)
"""


def test_median_and_truncation_stop_exactly_the_runs_they_should(embedded_airflow_home, workspace_dir):
    """One child at a time, so each is judged against the earlier ones at every interval: the
    median rule stops 0.6 (< median 0.65 of 0.5, 0.9, 0.7, 0.6) and 0.3; truncation of the lowest
    25% stops only 0.3 (the lowest of 5), never 0.6 (2nd lowest of 4 is outside 25%)."""
    ws = Workspace.from_config(workspace_dir)
    write(workspace_dir / "quality" / "train.py", QUALITY)

    def sweep(name: str, policy) -> HyperDriveStep:
        cfg = HyperDriveConfig(
            run_config=ScriptRunConfig(source_directory=str(workspace_dir / "quality"), script="train.py"),
            hyperparameter_sampling=GridParameterSampling({"--quality": choice(0.5, 0.9, 0.7, 0.6, 0.3)}),
            primary_metric_name="accuracy",
            primary_metric_goal=PrimaryMetricGoal.MAXIMIZE,
            max_total_runs=5,
            max_concurrent_runs=1,
            policy=policy,
        )
        return HyperDriveStep(name, cfg, allow_reuse=False)

    steps = [sweep("median", MedianStoppingPolicy()), sweep("truncation", TruncationSelectionPolicy(25))]
    run = Experiment(ws, "policies").submit(Pipeline(ws, steps))
    assert run.wait_for_completion(show_output=False) == "Finished"
    expected = {
        "median": {
            0.6: "Median stopping: best 0.6 < median 0.65 of 4 running averages at interval 1",
            0.3: "Median stopping: best 0.3 < median 0.6 of 5 running averages at interval 1",
        },
        "truncation": {0.3: "Truncation: 0.3 is in the lowest 25% (1 of 5) at interval 1"},
    }
    for name, stopped in expected.items():
        hd_run = run.find_step_run(name)[0]
        children = hd_run.get_children()
        assert len(children) == 5 and _overlap(children) == 1
        reasons = {
            c.get_hyperparameters()["--quality"]: c.get_details()["terminationReason"]
            for c in children
            if c.get_status() == "Canceled"
        }
        assert reasons == stopped, name
        for child in children:
            done = len(child.record["primary_metric_series"])
            assert (done < 4) if child.get_hyperparameters()["--quality"] in stopped else (done == 4)
        assert hd_run.get_best_run_by_primary_metric().get_hyperparameters() == {"--quality": 0.9}


def test_bayesian_sweep_and_reuse_of_the_whole_step(embedded_airflow_home, workspace_dir):
    ws = Workspace.from_config(workspace_dir)
    sampling = BayesianParameterSampling({"--learning_rate": uniform(0.0, 1.0), "--layers": choice(1, 2, 3)})
    cfg = _sweep(workspace_dir / "train", sampling, max_total_runs=6, max_concurrent_runs=2)
    pipeline = Pipeline(ws, [HyperDriveStep("bayes", cfg)])
    first = Experiment(ws, "bayes").submit(pipeline)
    assert first.wait_for_completion(show_output=False) == "Finished"
    hd_run = first.find_step_run("bayes")[0]
    children = hd_run.get_children()
    assert len(children) == 6 and {c.get_status() for c in children} == {"Completed"}
    assert all(0.0 <= c.get_hyperparameters()["--learning_rate"] <= 1.0 for c in children)
    assert _overlap(children) <= 2
    best = hd_run.get_best_run_by_primary_metric()
    finals = {c.id: c.get_metrics()["accuracy"][-1] for c in children}
    assert finals[best.id] == max(finals.values())
    assert hd_run.get_metrics(None)[best.id]["accuracy"][-1] == finals[best.id]
    ranked = hd_run.get_children_sorted_by_primary_metric(top=2)
    assert ranked[0]["run_id"] == best.id and len(ranked) == 2

    again = Experiment(ws, "bayes").submit(pipeline)
    assert again.wait_for_completion(show_output=False) == "Finished"
    reused = again.find_step_run("bayes")[0]
    assert reused.get_status() == "Reused"
    assert reused.get_best_run_by_primary_metric().id == best.id  # the children of the run it reused


SLOW = """
import argparse, time
from airflow_azml.core import Run

parser = argparse.ArgumentParser()
parser.add_argument("--slow", type=int)
parser.add_argument("--seed", type=int)
args = parser.parse_args()
Run.get_context().log("accuracy", 0.5 + args.seed / 10)
time.sleep(60 if args.slow else 0)
"""


def test_cancel_stops_the_sweep_and_the_best_so_far_stands(embedded_airflow_home, workspace_dir):
    import time

    ws = Workspace.from_config(workspace_dir)
    write(workspace_dir / "slow" / "train.py", SLOW)
    cfg = HyperDriveConfig(
        run_config=ScriptRunConfig(source_directory=str(workspace_dir / "slow"), script="train.py"),
        hyperparameter_sampling=GridParameterSampling({"--slow": choice(0, 1), "--seed": choice(0, 1, 2)}),
        primary_metric_name="accuracy",
        primary_metric_goal=PrimaryMetricGoal.MAXIMIZE,
        max_concurrent_runs=2,
    )
    run = Experiment(ws, "cancel").submit(Pipeline(ws, [HyperDriveStep("sweep", cfg)]))
    started = time.monotonic()
    while time.monotonic() - started < 120:  # cancel once the fast children ended and a slow one runs
        steps = run.find_step_run("sweep")
        kids = [
            (c.get_hyperparameters()["--slow"], c.get_status())
            for c in (steps[0].get_children() if steps else [])
        ]
        if kids.count((0, "Completed")) == 3 and (1, "Running") in kids:
            break
        time.sleep(0.5)
    steps[0].cancel()
    assert run.wait_for_completion(show_output=False) == "Finished"
    assert time.monotonic() - started < 50  # the 60 s children did not run to their end
    hd_run = run.find_step_run("sweep")[0]
    children = hd_run.get_children()
    fast = [c for c in children if c.get_hyperparameters()["--slow"] == 0]
    slow = [c for c in children if c.get_hyperparameters()["--slow"] == 1]
    assert [c.get_status() for c in fast] == ["Completed"] * 3
    assert slow and len(slow) <= 2 and all(c.get_status() == "Canceled" for c in slow)
    assert slow[0].get_details()["terminationReason"] == "the sweep was canceled (cancel())"
    assert hd_run.get_best_run_by_primary_metric(include_canceled=False).get_hyperparameters() == {
        "--slow": 0,
        "--seed": 2,
    }


def test_a_wider_sweep_reuses_the_children_that_already_finished(embedded_airflow_home, workspace_dir):
    ws = Workspace.from_config(workspace_dir)
    grid = GridParameterSampling({"--learning_rate": choice(0.1, 0.3, 0.5), "layers": choice(2)})
    first = Experiment(ws, "widen").submit(
        Pipeline(ws, [HyperDriveStep("sweep", _sweep(workspace_dir / "train", grid, max_total_runs=2))])
    )
    assert first.wait_for_completion(show_output=False) == "Finished"
    before = first.find_step_run("sweep")[0].get_children()

    wider = _sweep(workspace_dir / "train", grid, max_total_runs=3)
    again = Experiment(ws, "widen").submit(Pipeline(ws, [HyperDriveStep("sweep", wider)]))
    assert again.wait_for_completion(show_output=False) == "Finished"
    hd_run = again.find_step_run("sweep")[0]
    assert hd_run.get_status() == "Finished"  # the step ran (its sweep changed) ...
    children = hd_run.get_children()
    assert [c.record["reused_from"] for c in children] == [
        before[0].id,
        before[1].id,
        None,
    ]  # ... 2 children did not
    assert children[0].get_metrics() == before[0].get_metrics()
    assert "outputs/model.txt" in children[1].get_file_names()
    assert hd_run.get_best_run_by_primary_metric().get_hyperparameters()["--learning_rate"] == 0.3


FLAKY = """
import argparse, os, pathlib
from airflow_azml.core import Run

parser = argparse.ArgumentParser()
parser.add_argument("--x", type=int)
x = parser.parse_args().x
with open(os.environ["HD_COUNTER"], "a") as fh:
    fh.write(f"{x}\\n")
marker = pathlib.Path(os.environ["HD_MARKER"])
if x == 3 and not marker.exists():
    marker.write_text("seen")
    raise SystemExit("x=3 fails on its first run")
if x == 3:
    os.makedirs("outputs", exist_ok=True)
    open("outputs/model.txt", "w").write("x=3")
Run.get_context().log("score", x)
"""


def test_a_retry_of_the_step_reruns_only_the_children_that_did_not_complete(
    embedded_airflow_home, workspace_dir, tmp_path, monkeypatch
):
    """Try 1: x=3 fails, so the best completed child (x=2) has no model and the step fails; Airflow
    retries it (the compute target's retries=1): x=0..2 are taken from try 1 (allow_reuse=False
    does not matter within one run), only x=3 runs again, and its model is the step's output."""
    config = json.loads((workspace_dir / "config.json").read_text())
    config["compute_targets"]["retry"] = {"type": "AmlCompute", "retries": 1, "retry_delay": 1}
    (workspace_dir / "config.json").write_text(json.dumps(config))
    monkeypatch.setenv("HD_COUNTER", str(tmp_path / "counter.txt"))
    monkeypatch.setenv("HD_MARKER", str(tmp_path / "marker"))
    ws = Workspace.from_config(workspace_dir)
    write(workspace_dir / "flaky" / "train.py", FLAKY)
    cfg = HyperDriveConfig(
        run_config=ScriptRunConfig(
            source_directory=str(workspace_dir / "flaky"), script="train.py", compute_target="retry"
        ),
        hyperparameter_sampling=GridParameterSampling({"--x": choice(0, 1, 2, 3)}),
        primary_metric_name="score",
        primary_metric_goal=PrimaryMetricGoal.MAXIMIZE,
        max_concurrent_runs=4,
    )
    model = PipelineData("model", training_output=TrainingOutput("Model", model_file="outputs/model.txt"))
    sweep = HyperDriveStep("sweep", cfg, outputs=[model], allow_reuse=False)
    run = Experiment(ws, "retry").submit(Pipeline(ws, [sweep]))
    assert run.wait_for_completion(show_output=False) == "Finished"
    hd_run = run.find_step_run("sweep")[0]
    assert hd_run.record["try_number"] == 2
    assert sorted((tmp_path / "counter.txt").read_text().split()) == ["0", "1", "2", "3", "3"]
    children = hd_run.get_children()
    assert [c.get_status() for c in children] == ["Completed"] * 4
    assert [c.record["reused_from"] for c in children] == [
        f"{c.id} (an earlier try)" for c in children[:3]
    ] + [None]
    assert children[1].get_metrics()["score"] == 1  # the earlier try's metrics came along
    best = hd_run.get_best_run_by_primary_metric()
    assert best.get_hyperparameters() == {"--x": 3}
    out = Path(hd_run.get_output_data("model").download(str(tmp_path / "dl")))
    assert (out / "outputs" / "model.txt").read_text() == "x=3"
