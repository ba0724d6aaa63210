"""CommandStep: a command list (or a string split like a shell, never run by one) as a pipeline step."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from airflow_azml.compiler import compile_pipeline
from airflow_azml.core import Experiment, Workspace
from airflow_azml.core.runconfig import CondaDependencies, MpiConfiguration, RunConfiguration
from airflow_azml.exceptions import UserErrorException
from airflow_azml.execution.environments import resolve_command
from airflow_azml.pipeline.core import Pipeline, PipelineData, PipelineParameter
from airflow_azml.pipeline.steps import CommandStep
from tests.conftest import write

MAKE = """
import argparse, os
p = argparse.ArgumentParser(); p.add_argument("--out"); p.add_argument("--n", type=int)
a = p.parse_args()
os.makedirs(a.out, exist_ok=True)
open(os.path.join(a.out, "data.txt"), "w").write("".join(f"row{i}\\n" for i in range(a.n)))
print("wrote", a.n, "rows")
"""


def test_string_command_is_split_not_shelled(workspace_dir):
    step = CommandStep(
        "python train.py --msg 'two words' $HOME", name="s", source_directory=str(workspace_dir)
    )
    assert step.command == ["python", "train.py", "--msg", "two words", "$HOME"]
    assert CommandStep("ls -l").name == "ls"
    with pytest.raises(UserErrorException, match="cannot split"):
        CommandStep("echo 'unclosed")
    with pytest.raises(UserErrorException, match="empty"):
        CommandStep([])


def test_data_and_parameters_inside_the_command_list(workspace_dir):
    ws = Workspace.from_config(workspace_dir)
    out = PipelineData("out")
    n = PipelineParameter("n", 3)
    step = CommandStep(
        ["python", "make.py", "--out", out, "--n", n],
        name="make",
        outputs=[out],
        params={"greeting": PipelineParameter("greeting", "hi")},
        source_directory=str(workspace_dir),
    )
    plan = compile_pipeline(Pipeline(ws, [step]), "cmd_plan")["steps"]["make"]
    assert plan["kind"] == "command"
    assert plan["operator"] == "airflow_azml.provider.operators.step.CommandStepOperator"
    assert plan["arguments"] == ["python", "make.py", "--out", {"$output": "out"}, "--n", {"$param": "n"}]
    assert plan["params"] == {"greeting": {"$param": "greeting"}}
    with pytest.raises(UserErrorException, match="not declared in the step's inputs or outputs"):
        CommandStep(["cat", PipelineData("undeclared")])


def test_runconfig_distribution_and_program_checks(workspace_dir):
    rc = RunConfiguration()
    rc.distributed_job_config = MpiConfiguration(process_count_per_node=2)
    step = CommandStep(["python", "x.py"], name="d", runconfig=rc, source_directory=str(workspace_dir))
    assert step.plan_fields()["distribution"]["process_count_per_node"] == 2
    bad = CommandStep(["./missing.sh"], name="m", source_directory=str(workspace_dir))
    assert "'./missing.sh' not found" in bad.check(None)[0]
    with pytest.raises(UserErrorException, match="program 'no-such-program-zz' not found on the step's PATH"):
        resolve_command(["no-such-program-zz"], workspace_dir, dict(os.environ), "m")
    env = {"PATH": str(Path(sys.executable).parent)}
    assert resolve_command(["python", "-V"], workspace_dir, env, "m") == ["python", "-V"]


@pytest.mark.slow
def test_command_steps_through_airflow(embedded_airflow_home, workspace_dir, azml_home):
    write(workspace_dir / "cmd" / "make.py", MAKE)
    write(workspace_dir / "cmd" / "count.sh", '#!/bin/sh\nwc -l < "$1/data.txt" | tr -d " "\n')
    os.chmod(workspace_dir / "cmd" / "count.sh", 0o755)
    ws = Workspace.from_config(workspace_dir)
    src = str(workspace_dir / "cmd")
    out = PipelineData("out")
    make = CommandStep(
        ["python", "make.py", "--out", out, "--n", PipelineParameter("n", 3)],
        name="make",
        outputs=[out],
        source_directory=src,
    )
    count = CommandStep(["./count.sh", out], name="count", inputs=[out], source_directory=src)
    shell = CommandStep(
        ["bash", "-c", 'echo "greeting=$AML_PARAMETER_greeting rows=$(cat "$0"/data.txt | wc -l)"', out],
        name="shell",
        inputs=[out],
        source_directory=src,
        params={"greeting": PipelineParameter("greeting", "hi")},
    )
    literal = CommandStep("echo $HOME && ls", name="literal", source_directory=src)
    rc = RunConfiguration(conda_dependencies=CondaDependencies.create(pip_packages=["inflection==0.5.1"]))
    in_env = CommandStep(
        "python -c 'import inflection, sys; print(inflection.underscore(\"DeviceType\"), sys.prefix)'",
        name="in_env",
        runconfig=rc,
        source_directory=src,
    )
    run = Experiment(ws, "commands").submit(
        Pipeline(ws, [make, count, shell, literal, in_env]), pipeline_parameters={"n": 5, "greeting": "hello"}
    )
    assert run.wait_for_completion(show_output=False) == "Finished"
    logs = {s.name: s.get_stdout_log() for s in run.get_steps()}
    assert "wrote 5 rows" in logs["make"]
    assert logs["count"].strip() == "5"
    assert "greeting=hello rows=5" in logs["shell"]
    assert logs["literal"].strip() == "$HOME && ls", "no shell unless the user writes one"
    assert logs["in_env"].startswith("device_type " + str(azml_home / "envs"))
