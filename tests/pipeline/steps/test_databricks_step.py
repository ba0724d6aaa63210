"""DatabricksStep as built: the v1 rules about which parameters go together, and the job spec."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_azml.compiler import compile_pipeline
from airflow_azml.core import Workspace
from airflow_azml.core.compute import ComputeTarget, DatabricksCompute
from airflow_azml.core.runconfig import RunConfiguration
from airflow_azml.exceptions import PipelineValidationError, UserErrorException
from airflow_azml.pipeline.core import Pipeline, PipelineParameter
from airflow_azml.pipeline.steps import DatabricksStep
from airflow_azml.pipeline.steps.databricks_step import (
    EggLibrary,
    JarLibrary,
    MavenLibrary,
    PyPiLibrary,
    RCranLibrary,
)
from tests.conftest import write

NB = {"notebook_path": "/Shared/nb", "existing_cluster_id": "c1"}
NEW = {"spark_version": "13.3.x-scala2.12", "node_type": "Standard_D3_v2", "num_workers": 2}


@pytest.fixture
def ws(workspace_dir: Path) -> Workspace:
    ws = Workspace.from_config(workspace_dir)
    ComputeTarget.attach(ws, "databricks", DatabricksCompute.attach_configuration(conn_id="my_dbx"))
    return ws


def job(step: DatabricksStep) -> dict:
    return step.plan_fields()["databricks"]


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        (
            {"existing_cluster_id": "c1"},
            "give exactly one of notebook_path, python_script_path, python_script_name or "
            "main_class_name (got none of them)",
        ),
        ({**NB, "python_script_path": "dbfs:/x.py"}, "(got notebook_path, python_script_path)"),
        (
            {**NB, "python_script_params": ["a"]},
            "python_script_params goes with python_script_path or python_script_name",
        ),
        (
            {"python_script_path": "dbfs:/x.py", "existing_cluster_id": "c1", "notebook_params": {"a": 1}},
            "notebook_params goes with notebook_path",
        ),
        (
            {"python_script_path": "dbfs:/x.py", "existing_cluster_id": "c1", "jar_params": ["a"]},
            "jar_params goes with main_class_name",
        ),
        (
            {"python_script_name": "x.py", "existing_cluster_id": "c1"},
            "python_script_name needs source_directory",
        ),
        ({**NB, "source_directory": "."}, "source_directory is only used with python_script_name"),
        (
            {**NB, "spark_version": "13.3", "num_workers": 2},
            "existing_cluster_id cannot be combined with new-cluster parameters (spark_version, num_workers)",
        ),
        (
            {**NB, "spark_conf": {"a": "b"}, "spark_env_variables": {"X": "1"}, "instance_pool_id": "p"},
            "(instance_pool_id, spark_conf, spark_env_variables)",
        ),
        (
            {"notebook_path": "/nb"},
            "without existing_cluster_id the step creates a cluster and needs either num_workers or both "
            "min_workers and max_workers.",
        ),
        (
            {"notebook_path": "/nb", **NEW, "instance_pool_id": "p"},
            "needs exactly one of node_type or instance_pool_id",
        ),
        ({"notebook_path": "/nb", **NEW, "min_workers": 1, "max_workers": 3}, "either num_workers or both"),
        (
            {"notebook_path": "/nb", **{**NEW, "num_workers": None}, "min_workers": 1},
            "either num_workers or both",
        ),
        (
            {"notebook_path": "/nb", **NEW, "permit_cluster_restart": True},
            "permit_cluster_restart only applies with existing_cluster_id",
        ),
        (
            {"main_class_name": "com.x.Main", "existing_cluster_id": "c1"},
            "needs the jar that holds it in jar_libraries",
        ),
        (
            {**NB, "pypi_libraries": ["x"], "runconfig": RunConfiguration()},
            "give libraries through pypi_libraries or through runconfig, not both",
        ),
        ({**NB, "timeout_seconds": 0}, "timeout_seconds must be a positive int"),
        ({**NB, "notebook_params": {"a": [1]}}, "notebook_params['a'] holds [1]"),
        ({**NB, "maven_libraries": [3]}, "maven_libraries holds 3"),
    ],
)
def test_invalid_combinations_are_refused_naming_the_parameters(kw, message):
    with pytest.raises(UserErrorException) as err:
        DatabricksStep(name="dbx", **kw).plan_fields()
    assert message in str(err.value)
    assert "'dbx'" in str(err.value)


def test_notebook_on_existing_cluster_with_parameters(ws):
    p = PipelineParameter("alpha", default_value=0.5)
    step = DatabricksStep(
        name="nb",
        notebook_params={"alpha": p, "mode": "full"},
        run_name="nightly",
        timeout_seconds=600,
        compute_target="databricks",
        permit_cluster_restart=False,
        **NB,
    )
    assert job(step) == {
        "notebook_task": {
            "notebook_path": "/Shared/nb",
            "base_parameters": {"alpha": {"$param": "alpha"}, "mode": "full"},
        },
        "existing_cluster_id": "c1",
        "libraries": [],
        "run_name": "nightly",
        "timeout_seconds": 600,
    }
    plan = compile_pipeline(Pipeline(ws, [step]), "nb_plan")
    spec = plan["steps"]["nb"]
    assert spec["operator"] == "airflow_azml.provider.operators.databricks.DatabricksStepOperator"
    assert spec["kind"] == "databricks"
    assert plan["parameters"]["alpha"]["default"] == 0.5
    assert "timeout_seconds" not in spec  # the Airflow task is not cut at the Databricks timeout


def test_new_cluster_with_everything_and_all_library_kinds():
    step = DatabricksStep(
        name="py",
        python_script_path="dbfs:/jobs/x.py",
        python_script_params=["--a", 1],
        spark_version="13.3",
        instance_pool_id="pool",
        min_workers=1,
        max_workers=5,
        spark_conf={"k": "v"},
        spark_env_variables={"E": "1"},
        init_scripts=["dbfs:/init.sh"],
        cluster_log_dbfs_path="dbfs:/logs",
        maven_libraries=[MavenLibrary("g:a:1", repo="https://m", exclusions=["x:y"])],
        pypi_libraries=[PyPiLibrary("pandas", repo="https://p")],
        egg_libraries=[EggLibrary("dbfs:/e.egg")],
        jar_libraries=[JarLibrary("dbfs:/j.jar")],
        rcran_libraries=[RCranLibrary("ggplot2")],
    )
    assert job(step) == {
        "spark_python_task": {"python_file": "dbfs:/jobs/x.py", "parameters": ["--a", 1]},
        "new_cluster": {
            "spark_version": "13.3",
            "instance_pool_id": "pool",
            "autoscale": {"min_workers": 1, "max_workers": 5},
            "spark_conf": {"k": "v"},
            "spark_env_vars": {"E": "1"},
            "init_scripts": [{"dbfs": {"destination": "dbfs:/init.sh"}}],
            "cluster_log_conf": {"dbfs": {"destination": "dbfs:/logs"}},
        },
        "libraries": [
            {"maven": {"coordinates": "g:a:1", "repo": "https://m", "exclusions": ["x:y"]}},
            {"pypi": {"package": "pandas", "repo": "https://p"}},
            {"egg": "dbfs:/e.egg"},
            {"jar": "dbfs:/j.jar"},
            {"cran": {"package": "ggplot2"}},
        ],
        "run_name": "py",
    }


def test_libraries_from_a_runconfig():
    rc = RunConfiguration()
    rc.environment.databricks = type(
        "DatabricksSection", (), {"pypi_libraries": [PyPiLibrary("numpy")], "jar_libraries": ["dbfs:/a.jar"]}
    )()
    step = DatabricksStep(
        name="jar", main_class_name="com.x.Main", jar_params=["1"], runconfig=rc, existing_cluster_id="c1"
    )
    assert job(step)["libraries"] == [{"pypi": {"package": "numpy"}}, {"jar": "dbfs:/a.jar"}]
    assert job(step)["spark_jar_task"] == {"main_class_name": "com.x.Main", "parameters": ["1"]}


def test_python_script_name_is_checked_at_build_time_and_marked_for_upload(ws, workspace_dir):
    (workspace_dir / "src").mkdir()
    step = DatabricksStep(
        name="py",
        python_script_name="job.py",
        source_directory=str(workspace_dir / "src"),
        compute_target="databricks",
        **{k: v for k, v in NB.items() if k != "notebook_path"},
    )
    with pytest.raises(PipelineValidationError, match="script 'job.py' not found in source_directory"):
        Pipeline(ws, [step])
    write(workspace_dir / "src" / "job.py", "print(1)\n")
    plan = compile_pipeline(Pipeline(ws, [step]), "py_plan")
    assert plan["steps"]["py"]["databricks"]["spark_python_task"]["python_file"] == {"$upload": "job.py"}
    assert plan["steps"]["py"]["source_directory"] == str(workspace_dir / "src")


def test_compute_target_must_be_databricks(ws):
    step = DatabricksStep(name="nb", compute_target="cpu", **NB)
    with pytest.raises(PipelineValidationError, match="compute target 'cpu' is of type 'AmlCompute'"):
        Pipeline(ws, [step])
