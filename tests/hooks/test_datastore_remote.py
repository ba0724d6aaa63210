"""Registering remote datastores with v1 signatures: credentials become an Airflow connection.

The connection is written to the embedded Airflow DB (the session's ``embedded_airflow_home``);
the workspace spec (what goes into plans, logs and XCom) keeps only the connection id.
"""

from __future__ import annotations

import json
import sqlite3
import uuid

import pytest

from airflow_azml.core import Datastore, Experiment, Workspace
from airflow_azml.exceptions import DatastoreError
from airflow_azml.local.embedded import airflow_home
from airflow_azml.pipeline.core import Pipeline, PipelineData
from airflow_azml.pipeline.steps import PythonScriptStep
from tests.conftest import write
from tests.support.azurite import ACCOUNT_KEY

pytestmark = pytest.mark.slow


def _connections(name: str) -> list[tuple]:
    con = sqlite3.connect(airflow_home() / "airflow.db")
    try:
        return con.execute(
            "SELECT conn_id, conn_type, host, login FROM connection WHERE conn_id = ?", (name,)
        ).fetchall()
    finally:
        con.close()


def test_blob_account_key_goes_into_a_connection(embedded_airflow_home, azurite, azml_home) -> None:
    ws = Workspace()
    container = f"reg{uuid.uuid4().hex[:8]}"
    ds = Datastore.register_azure_blob_container(
        ws,
        "regblob",
        container_name=container,
        account_name="devstoreaccount1",
        account_key=ACCOUNT_KEY,
        endpoint=azurite.blob_endpoint,
        create_if_not_exists=True,
    )
    assert ds.conn_id == "azml_regblob" and Datastore(ws, "regblob") is ds
    spec_text = json.dumps(ws.to_spec())
    assert ACCOUNT_KEY not in spec_text and "azml_regblob" in spec_text
    assert _connections("azml_regblob") == [
        ("azml_regblob", "wasb", azurite.blob_endpoint, "devstoreaccount1")
    ]
    # create_if_not_exists made the container through that connection
    assert azurite.blob_service_client().get_container_client(container).exists()
    # a step on a worker reaches the datastore by conn_id alone (Airflow serves the connection from its DB)
    write(
        azml_home / "steps" / "w.py",
        "import sys, os\nos.makedirs(sys.argv[1])\nopen(sys.argv[1] + '/a.txt', 'w').write('hi')\n",
    )
    out = PipelineData("out", datastore=ds)
    step = PythonScriptStep(
        "w.py", name="w", arguments=[out], outputs=[out], source_directory=str(azml_home / "steps")
    )
    run = Experiment(ws, f"registered_{container}").submit(Pipeline(ws, [step]))
    assert run.wait_for_completion(show_output=False) == "Finished"
    path = run.find_step_run("w")[0].get_output_data("out").path_on_datastore
    blob = azurite.blob_service_client().get_blob_client(container, f"{path}/a.txt")
    assert blob.download_blob().readall() == b"hi"


def test_sql_credentials_and_missing_ones(embedded_airflow_home, azml_home) -> None:
    ws = Workspace()
    ds = Datastore.register_azure_postgre_sql(
        ws,
        "pgreg",
        server_name="127.0.0.1",
        database_name="postgres",
        username="postgres",
        password="not-in-the-spec",
    )
    assert "not-in-the-spec" not in json.dumps(ws.to_spec()) and ds.conn_id == "azml_pgreg"
    assert _connections("azml_pgreg") == [("azml_pgreg", "postgres", "127.0.0.1", "postgres")]
    with pytest.raises(DatastoreError, match="give conn_id="):
        Datastore.register_azure_data_lake_gen2(ws, "lake", filesystem="fs", account_name="acct")
    with pytest.raises(DatastoreError, match="unknown argument"):
        Datastore.register_azure_blob_container(ws, "b", "c", "acct", conn_id="x", acount_key="typo")
    lake = Datastore.register_azure_data_lake_gen2(
        ws, "lake", filesystem="fs", account_name="acct", conn_id="mine"
    )
    assert lake.to_spec() == {
        "type": "adls_gen2",
        "container_name": "fs",
        "account_name": "acct",
        "conn_id": "mine",
    }
