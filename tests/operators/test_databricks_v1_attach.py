"""v1's Databricks code as written: attach with workspace URL + token, libraries, v1's cluster defaults.

The attach writes a real Airflow connection (embedded metadata DB); the pipeline runs through
Airflow (Experiment.submit -> dag.test) and the provider's hook talks to the fake Databricks
server, which checks the bearer token and records the exact runs/submit body.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from airflow_azml.core import Datastore, Experiment, Workspace
from airflow_azml.core.compute import ComputeTarget, DatabricksCompute
from airflow_azml.core.compute_target import ComputeTargetException
from airflow_azml.core.runconfig import EggLibrary, JarLibrary, MavenLibrary, PyPiLibrary, RCranLibrary
from airflow_azml.data.data_reference import DataReference
from airflow_azml.exceptions import DatastoreError
from airflow_azml.execution.records import run_slug
from airflow_azml.pipeline.core import Pipeline, PipelineData, PipelineParameter
from airflow_azml.pipeline.steps import DatabricksStep
from tests.fakes.databricks_server import SUCCESS, FakeDatabricks


@pytest.fixture
def fake() -> Any:
    with FakeDatabricks(token="dapi-v1-token", states=[SUCCESS]) as server:
        yield server


@pytest.mark.slow
def test_attach_with_v1_arguments_then_libraries_reach_the_request(
    embedded_airflow_home, workspace_dir: Path, fake: FakeDatabricks, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv("AIRFLOW_CONN_AZML_DBX_V1", raising=False)
    ws = Workspace.from_config(workspace_dir)
    try:
        compute = DatabricksCompute(workspace=ws, name="dbx_v1")
    except ComputeTargetException:
        config = DatabricksCompute.attach_configuration(
            resource_group="db-rg",
            workspace_name=f"http://127.0.0.1:{fake.port}",
            access_token="dapi-v1-token",
        )
        compute = ComputeTarget.attach(ws, "dbx_v1", config)
        compute.wait_for_completion(True)
    assert compute.conn_id == "azml_dbx_v1"
    assert "dapi-v1-token" not in repr(ws.to_spec())

    ws.get_default_datastore().upload_files([str(_write(workspace_dir / "in.txt"))], target_path="dbtest")
    data = DataReference(ws.get_default_datastore(), path_on_datastore="dbtest", data_reference_name="input")
    step = DatabricksStep(
        name="DBPythonInDBFS",
        inputs=[data],
        num_workers=1,
        python_script_path="dbfs:/azml/demo/train.py",
        python_script_params=["arg1", PipelineParameter("my_param", default_value="p1")],
        run_name="DB_Python_demo",
        maven_libraries=[
            MavenLibrary("org.example:dep:1.0", repo="https://repo.example", exclusions=["a:b"])
        ],
        pypi_libraries=[PyPiLibrary("scikit-learn==1.5.0", repo="https://pypi.example/simple")],
        egg_libraries=[EggLibrary("dbfs:/eggs/lib.egg")],
        jar_libraries=[JarLibrary("dbfs:/jars/app.jar")],
        rcran_libraries=[RCranLibrary("forecast", repo="https://cran.example")],
        compute_target=compute,
    )
    run = Experiment(ws, "DB_Python_demo").submit(Pipeline(workspace=ws, steps=[step]))
    assert run.wait_for_completion(show_output=False) == "Finished"
    input_uri = (ws.get_default_datastore().root / "dbtest").as_uri()
    assert fake.submitted() == [
        {
            "spark_python_task": {
                "python_file": "dbfs:/azml/demo/train.py",
                "parameters": ["arg1", "--my_param", "p1", "-input", input_uri],
            },
            "new_cluster": {
                "spark_version": "15.4.x-scala2.12",
                "node_type_id": "Standard_D3_v2",
                "num_workers": "1",
            },
            "libraries": [
                {
                    "maven": {
                        "coordinates": "org.example:dep:1.0",
                        "repo": "https://repo.example",
                        "exclusions": ["a:b"],
                    }
                },
                {"pypi": {"package": "scikit-learn==1.5.0", "repo": "https://pypi.example/simple"}},
                {"egg": "dbfs:/eggs/lib.egg"},
                {"jar": "dbfs:/jars/app.jar"},
                {"cran": {"package": "forecast", "repo": "https://cran.example"}},
            ],
            "run_name": "DB_Python_demo",
        }
    ]
    assert {r.token for r in fake.requests} == {"dapi-v1-token"}, "the connection attach wrote was used"


@pytest.mark.slow
def test_data_on_dbfs_reaches_the_job_as_dbfs_uris(
    embedded_airflow_home, workspace_dir: Path, fake, monkeypatch
):
    monkeypatch.setenv("AIRFLOW_CONN_DBX_FAKE", fake.connection_json())
    ws = Workspace.from_config(workspace_dir)
    compute = ComputeTarget.attach(ws, "dbx", DatabricksCompute.attach_configuration(conn_id="dbx_fake"))
    try:
        dbfs = Datastore.get(workspace=ws, datastore_name="dbfs_datastore")
    except Exception:
        dbfs = Datastore.register_dbfs(ws, datastore_name="dbfs_datastore")
    raw = DataReference(datastore=dbfs, path_on_datastore="FileStore/raw", data_reference_name="raw")
    scored = PipelineData("scored", datastore=dbfs)
    step = DatabricksStep(
        name="score_on_dbfs",
        inputs=[raw],
        outputs=[scored],
        notebook_path="/Shared/score",
        existing_cluster_id="0101-abc",
        compute_target=compute,
    )
    run = Experiment(ws, "dbfs_data").submit(Pipeline(workspace=ws, steps=[step]))
    assert run.wait_for_completion(show_output=False) == "Finished"
    (body,) = fake.submitted()
    assert body["notebook_task"]["base_parameters"] == {
        "raw": "dbfs:/FileStore/raw",
        "scored": f"dbfs:/azureml/{run_slug(run.id)}/score_on_dbfs/scored",
    }
    with pytest.raises(DatastoreError, match="only DatabricksStep jobs read and write it"):
        dbfs.upload_files([str(_write(workspace_dir / "x.txt"))])


def _write(path: Path) -> Path:
    path.write_text("1,a\n2,b\n")
    return path
