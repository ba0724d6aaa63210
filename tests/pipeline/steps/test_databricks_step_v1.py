"""DatabricksStep as v1 code writes it: v1's cluster defaults, runconfig sections, placeholders, import paths."""

from __future__ import annotations

import pytest

from airflow_azml import compat
from airflow_azml.core import databricks
from airflow_azml.core.databricks import DatabricksCluster, DatabricksSection, JarLibrary, PyPiLibrary
from airflow_azml.core.runconfig import RunConfiguration
from airflow_azml.exceptions import UserErrorException
from airflow_azml.pipeline.core import PipelineParameter
from airflow_azml.pipeline.steps import DatabricksStep, databricks_step


def job(step: DatabricksStep) -> dict:
    return step.plan_fields()["databricks"]


def test_a_new_cluster_gets_v1s_defaults():
    step = DatabricksStep(name="nb", notebook_path="/Shared/nb", num_workers=1)
    assert job(step)["new_cluster"] == {
        "spark_version": databricks_step.DEFAULT_SPARK_VERSION,
        "node_type_id": "Standard_D3_v2",
        "num_workers": 1,
    }
    pooled = DatabricksStep(
        name="p", notebook_path="/nb", instance_pool_id="pool-1", min_workers=1, max_workers=2
    )
    assert job(pooled)["new_cluster"] == {
        "spark_version": databricks_step.DEFAULT_SPARK_VERSION,
        "instance_pool_id": "pool-1",
        "autoscale": {"min_workers": 1, "max_workers": 2},
    }


def test_params_given_as_a_set_are_taken_as_v1_took_them():
    p = PipelineParameter("my_pipeline_param", default_value="x")
    step = DatabricksStep(
        name="jar",
        main_class_name="com.example.Main",
        jar_params={"arg1", p, "arg2"},
        jar_libraries=[JarLibrary("dbfs:/jars/main.jar")],
        num_workers=1,
    )
    params = job(step)["spark_jar_task"]["parameters"]
    assert sorted(map(str, params)) == sorted(["arg1", "arg2", str({"$param": "my_pipeline_param"})])
    assert job(step)["libraries"] == [{"jar": "dbfs:/jars/main.jar"}]


def test_cluster_and_libraries_from_the_runconfig_databricks_section():
    rc = RunConfiguration()
    rc.environment.databricks = DatabricksSection(
        pypi_libraries=[PyPiLibrary("pandas==2.2.3")],
        cluster=DatabricksCluster(existing_cluster_id="0101-abc"),
    )
    step = DatabricksStep(name="nb", notebook_path="/Shared/nb", runconfig=rc)
    assert job(step)["existing_cluster_id"] == "0101-abc" and "new_cluster" not in job(step)
    assert job(step)["libraries"] == [{"pypi": {"package": "pandas==2.2.3"}}]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"notebook_path": "<my-databricks-notebook-path>"},
            "notebook_path is the placeholder '<my-databricks-notebook-path>': give the notebook's path in the "
            "Databricks workspace",
        ),
        (
            {"python_script_path": "<my-databricks-python-script-path>"},
            "python_script_path is the placeholder '<my-databricks-python-script-path>': give the script's DBFS path",
        ),
        (
            {
                "main_class_name": "com.x.Main",
                "jar_libraries": [JarLibrary("<my-databricks-jar-lib-path>")],
            },
            "jar_libraries is the placeholder '<my-databricks-jar-lib-path>': give the jar's DBFS path",
        ),
    ],
)
def test_a_samples_placeholder_is_refused_naming_the_setting(kwargs: dict, message: str):
    with pytest.raises(UserErrorException) as err:
        DatabricksStep(name="s", num_workers=1, **kwargs)
    assert message in str(err.value) and "DatabricksStep 's'" in str(err.value)


def test_library_classes_import_from_v1s_paths():
    from airflow_azml.core.runconfig import JarLibrary as FromRunconfig

    assert FromRunconfig is databricks.JarLibrary is databricks_step.JarLibrary
    compat.enable()
    try:
        from azureml.core.databricks import MavenLibrary  # type: ignore[import-not-found]
        from azureml.core.runconfig import JarLibrary as V1Jar  # type: ignore[import-not-found]
    finally:
        compat.disable()
    assert V1Jar is databricks.JarLibrary and MavenLibrary is databricks.MavenLibrary
