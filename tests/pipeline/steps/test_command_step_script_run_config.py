"""CommandStep given a ScriptRunConfig, as v1's CommandStep(name=..., runconfig=ScriptRunConfig(...))."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_azml.core import Environment, Experiment, ScriptRunConfig, Workspace
from airflow_azml.core.compute import AmlCompute, ComputeTarget
from airflow_azml.core.runconfig import CondaDependencies, MpiConfiguration, RunConfiguration
from airflow_azml.exceptions import UserErrorException
from airflow_azml.pipeline.core import Pipeline
from airflow_azml.pipeline.steps import CommandStep
from tests.conftest import write

TRAIN = """
import argparse, os
from airflow_azml.core import Run
p = argparse.ArgumentParser(); p.add_argument("--epochs", type=int); p.add_argument("--lr", type=float)
a = p.parse_args()
run = Run.get_context()
for epoch in range(a.epochs):
    run.log("loss", 1.0 / (epoch + 1))
print(f"trained epochs={a.epochs} lr={a.lr} mode={os.environ['TRAIN_MODE']} cwd={os.path.basename(os.getcwd())}")
"""


@pytest.fixture
def ws(workspace_dir: Path) -> Workspace:
    write(workspace_dir / "commandstep_train" / "train.py", TRAIN)
    return Workspace.from_config(workspace_dir)


def gpu_cluster(ws: Workspace) -> AmlCompute:
    config = AmlCompute.provisioning_configuration(vm_size="Standard_NC6s_v3", max_nodes=4)
    return ComputeTarget.create(ws, "gpu-cluster", config)


def environment() -> Environment:
    env = Environment("train-env")
    env.environment_variables = {"TRAIN_MODE": "fast"}
    return env


def test_the_step_takes_command_folder_target_and_environment_from_the_config(
    ws: Workspace, workspace_dir: Path
):
    src = ScriptRunConfig(
        source_directory=str(workspace_dir / "commandstep_train"),
        command=["python train.py --epochs 30", "--lr", "0.1"],
        compute_target=gpu_cluster(ws),
        environment=environment(),
        max_run_duration_seconds=600,
    )
    step = CommandStep(name="train-mnist", runconfig=src)
    assert step.command == ["python", "train.py", "--epochs", "30", "--lr", "0.1"]
    assert step.source_directory == workspace_dir / "commandstep_train"
    assert step.compute_target == "gpu-cluster"
    fields = step.plan_fields()
    assert fields["environment"] == {
        "pip": [],
        "conda": [],
        "docker_image": None,
        "env": {"TRAIN_MODE": "fast"},
    }
    assert fields["distribution"] == {"node_count": 1, "process_count_per_node": 1, "backend": None}
    assert fields["timeout_seconds"] == 600
    own = CommandStep(
        "python train.py --epochs 1", name="own", runconfig=src, source_directory=str(workspace_dir)
    )
    assert own.command == ["python", "train.py", "--epochs", "1"] and own.source_directory == workspace_dir


def test_script_and_arguments_run_with_python_and_run_config_environment(workspace_dir: Path):
    rc = RunConfiguration(conda_dependencies=CondaDependencies.create(pip_packages=["inflection==0.5.1"]))
    rc.distributed_job_config = MpiConfiguration(process_count_per_node=2)
    src = ScriptRunConfig(str(workspace_dir), script="train.py", arguments=["--epochs", 2], run_config=rc)
    step = CommandStep(name="s", runconfig=src)
    assert step.command == ["python", "train.py", "--epochs", 2]
    assert step.plan_fields()["environment"]["pip"] == ["inflection==0.5.1"]
    assert step.plan_fields()["distribution"] == {
        "node_count": 1,
        "process_count_per_node": 2,
        "backend": "mpi",
    }


def test_what_cannot_run_is_refused_when_built(workspace_dir: Path):
    two_nodes = ScriptRunConfig(
        str(workspace_dir), command=["python train.py"], distributed_job_config=MpiConfiguration(node_count=2)
    )
    # several nodes are not refused: their ranks run on the step's one worker (execution/distributed.py)
    assert CommandStep(name="train", runconfig=two_nodes).plan_fields()["distribution"]["node_count"] == 2
    with pytest.raises(UserErrorException, match="give either command or script/arguments, not both"):
        ScriptRunConfig(str(workspace_dir), script="train.py", command=["python", "x.py"])
    with pytest.raises(UserErrorException, match=r"give script .* or command"):
        CommandStep(name="nothing", runconfig=ScriptRunConfig(str(workspace_dir)))
    with pytest.raises(
        UserErrorException, match=r"got NoneType; give command=, or runconfig=ScriptRunConfig"
    ):
        CommandStep(name="bare")


@pytest.mark.slow
def test_script_run_config_command_through_airflow(embedded_airflow_home, ws: Workspace, workspace_dir: Path):
    src = ScriptRunConfig(
        source_directory=str(workspace_dir / "commandstep_train"),
        command=["python train.py --epochs 3 --lr 0.5"],
        compute_target=gpu_cluster(ws),
        environment=environment(),
    )
    train = CommandStep(name="train-mnist", runconfig=src)
    run = Experiment(ws, "train-commandstep-pipeline").submit(Pipeline(workspace=ws, steps=[train]))
    assert run.wait_for_completion(show_output=False) == "Finished"
    (step,) = run.find_step_run("train-mnist")
    assert "trained epochs=3 lr=0.5 mode=fast cwd=commandstep_train" in step.get_stdout_log()
    assert step.get_metrics()["loss"] == [1.0, 0.5, 1.0 / 3]


def test_a_script_run_config_submits_as_one_step(workspace_dir: Path):
    command = ScriptRunConfig(str(workspace_dir), command="python train.py --epochs 2").to_step()
    assert isinstance(command, CommandStep) and command.command == ["python", "train.py", "--epochs", "2"]
    script = ScriptRunConfig(str(workspace_dir), script="train.py", arguments=["--epochs", 2]).to_step()
    assert type(script).__name__ == "PythonScriptStep" and script.script_name == "train.py"
