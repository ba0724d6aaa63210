"""Azurite (npm ``azurite`` 3.37.0, blob service only) as the test suite's Azure storage.

What works against Azurite's blob endpoint (checked here or while writing this module):

- azure-storage-blob: create containers, upload, download, list, metadata, etags.
- An Airflow connection from ``AIRFLOW_CONN_<ID>`` JSON, ``conn_type`` "wasb" or "adls", whose
  extra holds ``connection_string`` (devstoreaccount1 key, ``BlobEndpoint=http://127.0.0.1:PORT/
  devstoreaccount1``). Either type serves both ``WasbHook(wasb_conn_id=ID)`` and
  ``airflow.sdk.ObjectStoragePath("abfs://ID@container/key")`` (adlfs underneath): read, write,
  iterdir, exists. Outside a task this needs no Airflow metadata database — the connection comes
  from the environment; AIRFLOW_HOME only receives a ``logs`` folder.
- adlfs on the flat namespace: ``mkdir`` of a container, pipe/cat/open, ls/find/glob, info,
  ``isdir`` of a prefix, copy, rm (recursive), xattrs (blob metadata), single-file ``mv``.

What does not work, because Azurite has no DFS (ADLS Gen2) endpoint:

- azure-storage-file-datalake directory operations: ``create_directory``,
  ``rename_directory``, ``get_access_control`` / ACLs, directory properties. (Creating a file
  system works only because the SDK sends that call to the blob endpoint.)
- Atomic rename of a directory: adlfs ``mv(recursive=True)`` of a prefix copies the blobs and
  then fails to delete the source "directory" (FileNotFoundError), leaving both copies.
  Code that commits outputs must not rely on a directory rename.
- Empty directories: ``makedirs`` creates nothing visible; a prefix exists only while a blob
  is under it.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.azurite import (
    ACCOUNT_KEY,
    AzuriteError,
    AzuriteServer,
    require_azurite,
)
from tests.support.processes import python_json

CONTAINER = "azml"
KEY = "runs/r1/hello.txt"
PAYLOAD = b"hello from azurite\n"

_READ_THROUGH_AIRFLOW = r"""
import json, os, sys
from airflow.providers.microsoft.azure.hooks.wasb import WasbHook
from airflow.sdk import ObjectStoragePath

conn_id, container, key = sys.argv[1:4]
path = ObjectStoragePath(f"abfs://{conn_id}@{container}/{key}")
written = ObjectStoragePath(f"abfs://{conn_id}@{container}/from-airflow/x.txt")
written.write_text("written by ObjectStoragePath")
hook = WasbHook(wasb_conn_id=conn_id)
print(json.dumps({
    "object_storage_path": path.read_bytes().decode(),
    "wasb_hook": hook.read_file(container, key),
    "wasb_sees_write": hook.check_for_blob(container, "from-airflow/x.txt"),
    "home": sorted(os.listdir(os.environ["AIRFLOW_HOME"])),
}))
"""


@pytest.fixture(scope="module")
def container(azurite: AzuriteServer) -> Iterator[str]:
    client = azurite.create_container(CONTAINER)
    client.upload_blob(KEY, PAYLOAD, overwrite=True)
    yield CONTAINER


def test_blob_round_trip_with_azure_storage_blob(azurite: AzuriteServer, container: str) -> None:
    client = azurite.blob_service_client().get_container_client(container)

    assert client.download_blob(KEY).readall() == PAYLOAD
    assert [b.name for b in client.list_blobs(name_starts_with="runs/")] == [KEY]
    assert azurite.create_container(container).container_name == container  # idempotent


def test_addresses_and_connection_forms(azurite: AzuriteServer) -> None:
    endpoint = f"http://127.0.0.1:{azurite.port}/devstoreaccount1"
    assert azurite.blob_endpoint == endpoint
    assert azurite.connection_string == (
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
        f"AccountKey={ACCOUNT_KEY};BlobEndpoint={endpoint};"
    )
    env = azurite.airflow_conn_env("azml_test", conn_type="adls")
    assert list(env) == ["AIRFLOW_CONN_AZML_TEST"]
    assert json.loads(env["AIRFLOW_CONN_AZML_TEST"]) == {
        "conn_type": "adls",
        "extra": {"connection_string": azurite.connection_string},
    }
    with pytest.raises(ValueError, match="conn_type must be one of"):
        azurite.airflow_connection("s3")


@pytest.mark.parametrize("conn_type", ["adls", "wasb"])
def test_airflow_reads_blob_through_object_storage_path_and_wasb_hook(
    azurite: AzuriteServer, container: str, conn_type: str, tmp_path: Path
) -> None:
    home = tmp_path / "airflow_home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(AIRFLOW_HOME=str(home), AIRFLOW__CORE__LOAD_EXAMPLES="False")
    env.update(azurite.airflow_conn_env("azml_test", conn_type=conn_type))

    result = python_json(
        _READ_THROUGH_AIRFLOW, "azml_test", container, KEY, env=env, cwd=tmp_path, timeout=180
    )
    assert result["object_storage_path"] == PAYLOAD.decode()
    assert result["wasb_hook"] == PAYLOAD.decode()
    assert result["wasb_sees_write"] is True
    assert "airflow.db" not in result["home"]  # connections from the environment need no DB


def test_adls_gen2_directory_operations_are_not_available(azurite: AzuriteServer, container: str) -> None:
    from azure.core.exceptions import HttpResponseError
    from azure.storage.filedatalake import DataLakeServiceClient

    file_system = DataLakeServiceClient.from_connection_string(
        azurite.connection_string
    ).get_file_system_client(container)
    with pytest.raises(HttpResponseError):
        file_system.create_directory("gen2-only")


def test_pause_stalls_requests_and_resume_serves_them(azurite: AzuriteServer, container: str) -> None:
    from azure.core.exceptions import ServiceResponseError

    blob = azurite.blob_service_client(retry_total=0, read_timeout=1).get_blob_client(container, KEY)
    azurite.pause()
    try:
        with pytest.raises(ServiceResponseError):
            blob.download_blob().readall()
    finally:
        azurite.resume()
    assert blob.download_blob().readall() == PAYLOAD


def test_stop_ends_the_process_group_and_removes_the_data_folder() -> None:
    require_azurite()
    server = AzuriteServer().start()
    pid, location = server.pid, server.location
    assert server.startup_seconds is not None and server.startup_seconds < 20
    assert (location / "__blobstorage__").is_dir()

    server.pause()  # stop() must also end a paused server
    began = time.monotonic()
    server.stop()

    assert time.monotonic() - began < 5
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)
    assert not location.exists()
    server.stop()  # idempotent


def test_kept_location_survives_a_restart(tmp_path: Path) -> None:
    require_azurite()
    with AzuriteServer(location=tmp_path) as first:
        first.create_container("kept").upload_blob("k", b"v")
    with AzuriteServer(location=tmp_path) as second:
        assert second.blob_service_client().get_blob_client("kept", "k").download_blob().readall() == b"v"
    assert tmp_path.is_dir()


def test_busy_port_is_a_clear_error(azurite: AzuriteServer) -> None:
    with pytest.raises(AzuriteError, match=f"EADDRINUSE, 127.0.0.1:{azurite.port} is already in use"):
        AzuriteServer(port=azurite.port).start()
