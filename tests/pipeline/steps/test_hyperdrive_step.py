"""HyperDriveStep / TrainingOutput: v1's surface and its checks, made when the pipeline is built."""

from __future__ import annotations

import pytest

from airflow_azml.compiler import compile_pipeline
from airflow_azml.core import Dataset, Environment, ScriptRunConfig, Workspace
from airflow_azml.exceptions import UserErrorException
from airflow_azml.pipeline.core import Pipeline, PipelineData, TrainingOutput
from airflow_azml.pipeline.steps import HyperDriveStep
from airflow_azml.train.hyperdrive import (
    BanditPolicy,
    HyperDriveConfig,
    PrimaryMetricGoal,
    RandomParameterSampling,
    choice,
    loguniform,
)
from tests.conftest import write


@pytest.fixture
def ws(workspace_dir):
    write(workspace_dir / "tf-mnist" / "tf_mnist.py", "print('train')\n")
    write(Workspace.from_config(workspace_dir).get_default_datastore().root / "mnist" / "a.gz", "x")
    return Workspace.from_config(workspace_dir)


def _config(workspace_dir, **kw):
    data = Dataset.File.from_files(Workspace.from_config(workspace_dir).get_default_datastore().path("mnist"))
    src = ScriptRunConfig(
        source_directory=str(workspace_dir / "tf-mnist"),
        script="tf_mnist.py",
        arguments=["--data-folder", data.as_mount()],
        compute_target="cpu",
        environment=Environment("tf"),
    )
    args = dict(
        run_config=src,
        hyperparameter_sampling=RandomParameterSampling(
            {"--batch-size": choice(25, 50, 100), "--learning-rate": loguniform(-6, -1)}
        ),
        policy=BanditPolicy(evaluation_interval=2, slack_factor=0.1),
        primary_metric_name="validation_acc",
        primary_metric_goal=PrimaryMetricGoal.MAXIMIZE,
        max_total_runs=4,
        max_concurrent_runs=4,
    )
    args.update(kw)
    return HyperDriveConfig(**args)


def test_the_v1_sample_shape_builds_into_a_plan(ws, workspace_dir):
    cfg = _config(workspace_dir)
    store = ws.get_default_datastore()
    metrics = PipelineData(
        "metrics_data",
        datastore=store,
        pipeline_output_name="metrics_output",
        training_output=TrainingOutput("Metrics"),
    )
    model = PipelineData(
        "saved_model",
        datastore=store,
        pipeline_output_name="model_output",
        training_output=TrainingOutput("Model", model_file="outputs/model/saved_model.pb"),
    )
    step = HyperDriveStep(
        name="hd_step01",
        hyperdrive_config=cfg,
        inputs=[cfg.run_config.arguments[1]],
        outputs=[metrics, model],
    )
    plan = compile_pipeline(Pipeline(ws, [step]), "hd")
    spec = plan["steps"]["hd_step01"]
    assert spec["kind"] == "hyperdrive" and spec["script_name"] == "tf_mnist.py"
    assert spec["compute_target"] == "cpu"
    assert spec["hyperdrive"]["training_outputs"] == {
        "metrics_data": {"type": "Metrics", "model_file": None},
        "saved_model": {"type": "Model", "model_file": "outputs/model/saved_model.pb"},
    }
    hd = spec["hyperdrive"]
    assert hd["max_concurrent_runs"] == 4 and hd["policy"]["slack_factor"] == 0.1
    assert hd["sampling"]["space"]["--batch-size"] == ["choice", [[25, 50, 100]]]
    assert spec["arguments"][0] == "--data-folder" and "$input" in spec["arguments"][1]


def test_an_output_without_training_output_is_refused(ws, workspace_dir):
    plain = PipelineData("model", datastore=ws.get_default_datastore())
    with pytest.raises(UserErrorException, match=r"output 'model' has no training_output, so no child run"):
        HyperDriveStep("hd", _config(workspace_dir, policy=None), outputs=[plain])


def test_metrics_output_needs_no_training_output_but_refuses_a_model(ws, workspace_dir):
    store = ws.get_default_datastore()
    step = HyperDriveStep("hd", _config(workspace_dir), metrics_output=PipelineData("m", datastore=store))
    assert step.plan_fields()["hyperdrive"]["training_outputs"] == {
        "m": {"type": "Metrics", "model_file": None}
    }
    model = PipelineData("m2", datastore=store, training_output=TrainingOutput("Model"))
    with pytest.raises(UserErrorException, match="metrics_output 'm2' has TrainingOutput"):
        HyperDriveStep("hd", _config(workspace_dir), metrics_output=model)


def test_bad_step_arguments_are_refused(workspace_dir):
    with pytest.raises(UserErrorException, match="hyperdrive_config must be a HyperDriveConfig"):
        HyperDriveStep("hd", hyperdrive_config={"max_total_runs": 4})
    with pytest.raises(UserErrorException, match="run_config must be a ScriptRunConfig with script="):
        _config(workspace_dir, run_config=ScriptRunConfig(command=["python", "x.py"]))
    with pytest.raises(UserErrorException, match="TrainingOutput\\(type='Weights'\\)"):
        TrainingOutput("Weights")
    with pytest.raises(UserErrorException, match="model_file is for TrainingOutput\\('Model'"):
        TrainingOutput("Metrics", model_file="outputs/m.pkl")


def test_an_estimator_sweep_takes_its_script_params_then_the_step_arguments(ws, workspace_dir):
    from airflow_azml.train.estimator import Estimator

    est = Estimator(
        str(workspace_dir / "tf-mnist"),
        entry_script="tf_mnist.py",
        script_params={"--epochs": 3, "--verbose": ""},
        compute_target="cpu",
        pip_packages=["numpy"],
    )
    cfg = _config(workspace_dir, run_config=None, estimator=est, policy=None)
    step = HyperDriveStep("hd", cfg, estimator_entry_script_arguments=["--seed", 7])
    spec = compile_pipeline(Pipeline(ws, [step]), "hd")["steps"]["hd"]
    assert spec["arguments"] == ["--epochs", 3, "--verbose", "--seed", 7]
    assert spec["script_name"] == "tf_mnist.py" and spec["compute_target"] == "cpu"
    assert "numpy" in spec["environment"]["pip"]
