"""DatastoreXComBackend through Airflow for real: a TaskFlow DAG passing a DataFrame.

The DAG runs with ``dag.test()`` in the embedded Airflow (``start_local_run``) with
``AIRFLOW__CORE__XCOM_BACKEND`` set in the environment, and the workspace's default datastore
on Azurite Blob. Checked: the DataFrame arrives intact, the DB row holds only a reference, the
Parquet object sits under ``.azml/xcom/<dag>/<run>/<task>/``, small values stay in the DB.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from pathlib import Path

import pytest

from airflow_azml.core import Workspace
from airflow_azml.provider.local.embedded import start_local_run
from airflow_azml.provider.xcom.backend import REF_KEY, XCOM_PREFIX
from tests.conftest import write
from tests.support.azurite import AzuriteServer, blob_datastore, require_azurite

DAG = """
import pandas as pd
from airflow.sdk import dag, task

@dag(dag_id="{dag_id}", schedule=None)
def frames():
    @task
    def make():
        return pd.DataFrame({{"id": range(5000), "name": [f"row-{{i}}" for i in range(5000)]}})

    @task
    def small():
        return {{"rows": 5000}}

    @task
    def check(frame, meta):
        assert isinstance(frame, pd.DataFrame), type(frame)
        assert len(frame) == meta["rows"] and frame["name"].iloc[4999] == "row-4999"
        big = list(range(2000))
        return big

    @task
    def check_list(values):
        assert values == list(range(2000))

    check_list(check(make(), small()))

the_dag = frames()
"""


@pytest.mark.slow
def test_taskflow_dataframe_goes_through_the_blob_datastore(embedded_airflow_home, tmp_path, monkeypatch):
    require_azurite()
    with AzuriteServer() as azurite:
        azurite.create_container("xcoms")
        for key, value in azurite.airflow_conn_env("xcom_blob", "wasb").items():
            monkeypatch.setenv(key, value)
        config = write(
            tmp_path / "ws" / "config.json",
            json.dumps(
                {
                    "workspace_name": "xcom",
                    "default_datastore": "blob",
                    "datastores": {"blob": blob_datastore("xcoms", "xcom_blob")},
                }
            ),
        )
        monkeypatch.setenv("AZML_WORKSPACE_CONFIG", str(config))
        monkeypatch.setenv("AIRFLOW__CORE__XCOM_BACKEND", "airflow_azml.provider.xcom.DatastoreXComBackend")
        monkeypatch.setenv("AIRFLOW__AZML__XCOM_THRESHOLD", "4096")
        dag_id = f"xcom_frames_{uuid.uuid4().hex[:6]}"
        dag_file = write(tmp_path / "dags" / "frames.py", DAG.format(dag_id=dag_id))
        handle = start_local_run(dag_file, dag_id, {}, wait=True)
        status = handle.status()
        assert status["state"] == "success", handle.log_file.read_text()[-4000:]

        store = Workspace.from_config(config).get_default_datastore().store
        stored = store.list_files(f"{XCOM_PREFIX}/{dag_id}")
        assert any(p.endswith("/make/return_value.parquet") for p in stored), stored
        assert any(p.endswith("/check/return_value.json") for p in stored), stored
        assert not any("/small/" in p for p in stored)  # small values stay in the DB
        rows = _xcom_rows(Path(embedded_airflow_home) / "airflow.db", dag_id)
        make_row = json.loads(rows["make"])
        assert REF_KEY in make_row and make_row["format"] == "parquet" and len(rows["make"]) < 400
        assert json.loads(rows["small"]) == {"rows": 5000}


def _xcom_rows(db: Path, dag_id: str) -> dict[str, str]:
    con = sqlite3.connect(db)
    try:
        got = con.execute(
            "SELECT task_id, value FROM xcom WHERE dag_id = ? AND key = 'return_value'", (dag_id,)
        )
        return {t: (v.decode() if isinstance(v, bytes) else v) for t, v in got.fetchall()}
    finally:
        con.close()
