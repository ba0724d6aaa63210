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
from airflow_azml.pipeline.core import Pipeline, PipelineData
from airflow_azml.pipeline.steps import PythonScriptStep
from airflow_azml.provider.local.embedded import airflow_home
from tests.conftest import write
from tests.support.azurite import ACCOUNT_KEY
from tests.support.processes import python_json

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


def _connection_row(name: str) -> tuple:
    """(conn_type, host, login, extra) as Airflow reads them (the DB holds password and extra encrypted)."""
    from airflow_azml.provider.local.embedded import embedded_env

    script = (
        "import json, sys\nfrom airflow.models import Connection\nfrom airflow.utils.session import create_session\n"
        "with create_session() as s:\n"
        "    c = s.query(Connection).filter(Connection.conn_id == sys.argv[1]).one()\n"
        "    print(json.dumps([c.conn_type, c.host, c.login, c.extra_dejson]))\n"
    )
    return tuple(python_json(script, name, env=embedded_env(airflow_home() / "dags")))


def test_service_principals_gen1_and_gen2(embedded_airflow_home, azml_home, tmp_path, monkeypatch) -> None:
    """v1's ADLS registrations; a bare AIRFLOW_HOME (a notebook runner's) still means the embedded Airflow."""
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "not_a_deployment"))
    ws = Workspace()
    gen1 = Datastore.register_azure_data_lake(
        workspace=ws,
        datastore_name="MyAdlsDatastore",
        subscription_id="0000-sub",
        resource_group="rg",
        store_name="adlsstore",
        tenant_id="tenant-1",
        client_id="client-1",
        client_secret="gen1-secret",
    )
    gen2 = Datastore.register_azure_data_lake_gen2(
        workspace=ws,
        datastore_name="myadlsgen2datastore",
        filesystem="test",
        account_name="gen2acct",
        tenant_id="tenant-2",
        client_id="client-2",
        client_secret="gen2-secret",
    )
    assert (gen1.datastore_type, gen2.datastore_type) == ("AzureDataLake", "AzureDataLakeGen2")
    spec = json.dumps(ws.to_spec())
    assert "gen1-secret" not in spec and "gen2-secret" not in spec
    kind, host, login, extra = _connection_row("azml_MyAdlsDatastore")
    assert (kind, login, extra) == (
        "azure_data_lake",
        "client-1",
        {"tenant": "tenant-1", "account_name": "adlsstore"},
    )  # AzureDataLakeHook's fields
    assert _connection_row("azml_myadlsgen2datastore") == (
        "adls",
        "https://gen2acct.blob.core.windows.net",
        "client-2",
        {"account_name": "gen2acct", "tenant_id": "tenant-2"},
    )
    assert not (tmp_path / "not_a_deployment" / "airflow.db").exists()
    # the Azure provider's file system reads that connection as a service principal
    from airflow.providers.microsoft.azure.fs.adls import get_fs

    from airflow_azml.core.datastore_remote import connection_for

    conn = connection_for(
        "adls_gen2", {"account_name": "gen2acct", "tenant_id": "t", "client_id": "c", "client_secret": "s"}
    )
    monkeypatch.setenv("AIRFLOW_CONN_GEN2_SP", json.dumps(conn))
    fs = get_fs("gen2_sp")
    assert (fs.account_name, fs.client_id, fs.client_secret, fs.tenant_id) == ("gen2acct", "c", "s", "t")
    # Gen1 is retired: registering works, moving data says why it cannot
    with pytest.raises(DatastoreError, match="retired on 2024-02-29.*register_azure_data_lake_gen2"):
        Datastore(Workspace(), "MyAdlsDatastore").upload(str(tmp_path), show_progress=False)


def test_placeholders_from_sample_code_fail_at_once(azml_home) -> None:
    ws = Workspace()
    with pytest.raises(DatastoreError) as caught:
        Datastore.register_azure_data_lake_gen2(
            workspace=ws,
            datastore_name="myadlsgen2datastore",
            filesystem="test",
            account_name="<my-account-name>",
            tenant_id="<my-tenant-id>",
            client_id="real-client",
            client_secret="<my-client-secret>",
        )
    message = str(caught.value)
    assert "account_name='<my-account-name>'" in message and "tenant_id='<my-tenant-id>'" in message
    assert (
        "client_secret" in message and "<my-client-secret>" not in message
    )  # a secret's value is never shown
    assert "client_id" not in message.split("Give")[0] and "conn_id=" in message
    with pytest.raises(DatastoreError, match=r"store_name='<my-datastore-name>' is a placeholder"):
        Datastore.register_azure_data_lake(  # subscription_id is not used here: its placeholder is not named
            ws, "MyAdlsDatastore", store_name="<my-datastore-name>", subscription_id="<my-sub>", conn_id="x"
        )
