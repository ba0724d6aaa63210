"""Credentials given to v1 calls reach a running Airflow: the connection is created there over REST.

v1 code registers a Blob container with an account key and attaches Databricks with a token; with
``AZML_AIRFLOW_*`` set, ``Experiment.submit`` runs on that Airflow, whose tasks read the connection
from its own metadata DB. So the call creates the connection there (POST /api/v2/connections, PATCH
when it exists): read back over REST, used by a pipeline that runs there, and no secret in any log.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_azml.core import Datastore, Experiment, Workspace
from airflow_azml.core.compute import ComputeTarget, DatabricksCompute
from airflow_azml.exceptions import DatastoreError
from airflow_azml.pipeline.core import Pipeline, PipelineData
from airflow_azml.pipeline.steps import DatabricksStep, PythonScriptStep
from tests.conftest import write
from tests.fakes.databricks_server import SUCCESS, FakeDatabricks
from tests.support.azurite import ACCOUNT_KEY, ACCOUNT_NAME, AzuriteServer
from tests.support.live_airflow import PASSWORDS, LiveAirflow
from tests.support.live_notebook import notebook_airflow

pytestmark = pytest.mark.slow

TOKEN = "dapi-live-secret-7f3a"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, embedded_airflow_home: Path) -> Iterator[LiveAirflow]:
    """A deployment whose dags folder holds only the loader, and this process pointed at it."""
    yield from notebook_airflow(tmp_path_factory.mktemp("remote_connections"))


def _connection(live: LiveAirflow, conn_id: str) -> dict:
    resp = live.api("GET", f"/api/v2/connections/{conn_id}")
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def _logs_hold(live: LiveAirflow, secret: str) -> list[str]:
    """The log files of the deployment (api-server, scheduler, task logs) that contain ``secret``."""
    found = []
    for path in (live.home / "logs").rglob("*"):
        if path.is_file() and secret in path.read_text(errors="replace"):
            found.append(str(path))
    return found


def test_blob_account_key_reaches_the_running_airflow(
    live: LiveAirflow, azurite: AzuriteServer, tmp_path: Path
) -> None:
    ws = Workspace.from_config()
    container = f"live{uuid.uuid4().hex[:8]}"
    azurite.create_container(container)
    hosts = []
    for endpoint in ("core.windows.net", azurite.blob_endpoint):  # the second call updates it (PATCH)
        ds = Datastore.register_azure_blob_container(
            ws,
            "liveblob",
            container_name=container,
            account_name=ACCOUNT_NAME,
            account_key=ACCOUNT_KEY,
            endpoint=endpoint,
        )
        conn = _connection(live, "azml_liveblob")
        hosts.append(conn["host"])
    assert hosts == [f"https://{ACCOUNT_NAME}.blob.core.windows.net", azurite.blob_endpoint]
    assert (conn["conn_type"], conn["login"]) == ("wasb", ACCOUNT_NAME)
    assert conn["password"] != ACCOUNT_KEY  # the API masks it; it is stored all the same

    write(
        tmp_path / "src" / "w.py",
        "import os, sys\nos.makedirs(sys.argv[1])\nopen(sys.argv[1] + '/a.txt', 'w').write('hi')\n",
    )
    out = PipelineData("out", datastore=ds)
    step = PythonScriptStep(
        "w.py", name="w", arguments=[out], outputs=[out], source_directory=str(tmp_path / "src")
    )
    run = Experiment(ws, f"remote_blob_{container}").submit(Pipeline(ws, [step]))
    assert run.wait_for_completion(show_output=False) == "Finished"
    blobs = [b.name for b in azurite.blob_service_client().get_container_client(container).list_blobs()]
    assert [b for b in blobs if b.endswith("/a.txt")], blobs
    assert _logs_hold(live, ACCOUNT_KEY) == []
    audit = live.api("GET", "/api/v2/eventLogs", params={"limit": 1000, "event_pattern": "connection"})
    assert audit.status_code == 200 and "azml_liveblob" in audit.text and ACCOUNT_KEY not in audit.text


def test_databricks_attach_reaches_the_running_airflow(live: LiveAirflow) -> None:
    ws = Workspace.from_config()
    with FakeDatabricks(token=TOKEN, states=[SUCCESS]) as fake:
        config = DatabricksCompute.attach_configuration(
            resource_group="rg", workspace_name=f"http://127.0.0.1:{fake.port}", access_token=TOKEN
        )
        compute = ComputeTarget.attach(ws, "livedbx", config)
        conn = _connection(live, "azml_livedbx")
        assert (conn["conn_type"], conn["host"], conn["schema"]) == (
            "databricks",
            f"127.0.0.1:{fake.port}",
            "http",
        )

        step = DatabricksStep(
            name="dbx",
            num_workers=1,
            python_script_path="dbfs:/azml/demo/train.py",
            python_script_params=["a1"],
            run_name="remote_dbx",
            compute_target=compute,
        )
        run = Experiment(ws, "remote_dbx").submit(Pipeline(workspace=ws, steps=[step]))
        assert run.wait_for_completion(show_output=False) == "Finished"
        submitted = fake.submitted()
    assert [s["spark_python_task"]["python_file"] for s in submitted] == ["dbfs:/azml/demo/train.py"]
    assert {r.token for r in fake.requests} == {TOKEN}
    assert _logs_hold(live, TOKEN) == []


def test_a_refused_connection_says_where_and_never_shows_the_secret(
    live: LiveAirflow, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = Workspace.from_config()
    secret = "k3y-" + uuid.uuid4().hex
    args = {"container_name": "c", "account_name": ACCOUNT_NAME, "account_key": secret}
    with pytest.raises(DatastoreError, match=r"conn_id='bad id!' is not a valid Airflow connection id"):
        Datastore.register_azure_blob_container(ws, "badid", conn_id="bad id!", **args)
    # a user without the right to write connections
    monkeypatch.setenv("AZML_AIRFLOW_USERNAME", "viewer1")
    monkeypatch.setenv("AZML_AIRFLOW_PASSWORD", PASSWORDS["viewer1"])
    with pytest.raises(DatastoreError, match="403") as denied:
        Datastore.register_azure_blob_container(ws, "viewerblob", **args)
    message = str(denied.value)
    assert live.base_url in message and "azml_viewerblob" in message and secret not in message
    assert denied.value.__cause__ is None and denied.value.__suppress_context__
    assert live.api("GET", "/api/v2/connections/azml_viewerblob").status_code == 404


def test_the_workspace_files_airflow_section_is_enough(
    live: LiveAirflow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No AZML_AIRFLOW_* variables: the workspace file names the Airflow (password from a variable)."""
    for name in ("AZML_AIRFLOW_URL", "AZML_AIRFLOW_USERNAME", "AZML_AIRFLOW_PASSWORD"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("LIVE_AF_PW", PASSWORDS["admin"])
    section = {"base_url": live.base_url, "username": "admin", "password_env": "LIVE_AF_PW"}
    (tmp_path / "config.json").write_text(json.dumps({"workspace_name": "ws", "airflow": section}))
    ws = Workspace.from_config(str(tmp_path))
    Datastore.register_azure_postgre_sql(
        ws,
        "livepg",
        server_name="127.0.0.1",
        database_name="postgres",
        user_id="postgres",
        user_password="pg-pw-x",
    )
    conn = _connection(live, "azml_livepg")
    assert (conn["conn_type"], conn["host"], conn["schema"], conn["login"], conn["port"]) == (
        "postgres",
        "127.0.0.1",
        "postgres",
        "postgres",
        5432,
    )
