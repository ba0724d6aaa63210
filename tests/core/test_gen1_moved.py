"""v1 code for a retired ADLS Gen1 store runs unchanged once the workspace file says where its data lives
now: Datastore.get(ws, name) returns the declared datastore, and the Gen1 error teaches that route."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_azml.core import Datastore, Workspace
from airflow_azml.core.datastore import AzureDataLakeDatastore
from airflow_azml.exceptions import DatastoreError


def test_the_gen1_error_names_the_workspace_file_route():
    gen1 = AzureDataLakeDatastore(Workspace(), "MyAdlsDatastore", {"store_name": "adlsstore"})
    with pytest.raises(DatastoreError) as caught:
        gen1.store  # noqa: B018 - moving data is where Gen1 fails
    message = str(caught.value)
    assert "retired on 2024-02-29" in message and "register_azure_data_lake_gen2" in message
    assert '"datastores": {"MyAdlsDatastore": {"type": "adls_gen2"' in message


def test_a_datastore_declared_under_the_gen1_name_is_what_v1_code_gets(tmp_path: Path, azml_home):
    moved = tmp_path / "moved"
    (moved / "adla_sample").mkdir(parents=True)
    (moved / "adla_sample" / "sample_input.csv").write_text("1, Ann, 10\n")
    (tmp_path / "config.json").write_text(
        json.dumps({"datastores": {"MyAdlsDatastore": {"type": "local", "path": str(moved)}}})
    )
    ws = Workspace.from_config(tmp_path)
    store = Datastore.get(ws, "MyAdlsDatastore")  # the sample's try: branch; register_* is never reached
    assert store.datastore_type != "AzureDataLake"
    out = tmp_path / "down"
    store.download(str(out), prefix="adla_sample", show_progress=False)
    assert (out / "adla_sample" / "sample_input.csv").read_text() == "1, Ann, 10\n"
