"""DataTransferStep: build-time checks, and SQL <-> Blob copies through Airflow for real.

PostgreSQL is the server on this machine (a fresh database per test module); the Blob side is
Azurite. Azurite has no DFS endpoint, so copies to/from ADLS Gen2 are exercised only through
the blob endpoint (the same adlfs code path); HNS-specific behaviour is untested.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_azml.core import Experiment, Workspace
from airflow_azml.data.sql_data_reference import SqlDataReference
from airflow_azml.exceptions import ActivityFailedException, PathEscapeError, UserErrorException
from airflow_azml.pipeline.core import Pipeline, PipelineData
from airflow_azml.pipeline.steps import DataTransferStep
from tests.support.assets import embedded_asset_events
from tests.support.azurite import AzuriteServer, blob_datastore
from tests.support.postgres import PG, fresh_database


# -- build time (no storage, no Airflow) ---------------------------------------------------
@pytest.fixture
def ws(workspace_dir: Path) -> Workspace:
    cfg = json.loads((workspace_dir / "config.json").read_text())
    cfg["datastores"] = {
        "pg": {"type": "postgres", "server_name": "127.0.0.1", "database_name": "x", "conn_id": "pg_conn"}
    }
    (workspace_dir / "config.json").write_text(json.dumps(cfg))
    return Workspace.from_config(workspace_dir)


def test_build_time_errors_name_the_step(ws: Workspace) -> None:
    local, pg = ws.get_default_datastore(), ws.datastores["pg"]
    table = SqlDataReference(pg, sql_table="orders")
    cases = [
        (
            dict(
                source_data_reference=local.path("a"),
                destination_data_reference=local.path("b"),
                source_reference_type="folder",
            ),
            "source_reference_type='folder'",
        ),
        (
            dict(
                source_data_reference=table, destination_data_reference=SqlDataReference(pg, sql_table="t2")
            ),
            "SQL to SQL",
        ),
        (
            dict(
                source_data_reference=local.path("a"),
                destination_data_reference=SqlDataReference(pg, sql_query="x"),
            ),
            "needs sql_table",
        ),
        (
            dict(source_data_reference=pg.path("a"), destination_data_reference=local.path("b")),
            "use SqlDataReference",
        ),
        (dict(source_data_reference="a/b", destination_data_reference=local.path("b")), "must be a"),
        (dict(destination_data_reference=local.path("b")), "needs source_data_reference"),
    ]
    for kwargs, message in cases:
        with pytest.raises(UserErrorException, match=message) as info:
            DataTransferStep("copy it", **kwargs)
        assert "'copy it'" in str(info.value)


def test_sql_reference_checks() -> None:
    with pytest.raises(UserErrorException, match="exactly one of"):
        SqlDataReference("pg", sql_table="a", sql_query="select 1")
    with pytest.raises(UserErrorException, match="not a plain SQL identifier"):
        SqlDataReference("pg", sql_table="orders; drop table x")


def test_get_output_and_plan(ws: Workspace) -> None:
    local, pg = ws.get_default_datastore(), ws.datastores["pg"]
    step = DataTransferStep(
        "to_file", SqlDataReference(pg, sql_query="select 1 as a"), local.path("exports/a.csv")
    )
    out = step.get_output()
    assert isinstance(out, PipelineData) and out.datastore is local
    fields = step.plan_fields()
    assert (
        fields["source"]["sql_query"] == "select 1 as a" and fields["destination"]["path"] == "exports/a.csv"
    )
    assert fields["destination_reference_type"] is None  # decided at run time from the data (v1 rules)
    into_table = DataTransferStep("to_table", local.path("in.csv"), SqlDataReference(pg, sql_table="t"))
    with pytest.raises(UserErrorException, match="run_after"):
        into_table.get_output()
    pd_dest = PipelineData("copied", datastore=local)
    assert DataTransferStep("to_pd", local.path("x"), pd_dest).get_output() is pd_dest


def test_escaping_destination_is_refused_at_build_time(ws: Workspace) -> None:
    with pytest.raises(PathEscapeError, match="Nothing was read or written"):
        DataTransferStep("esc", ws.get_default_datastore().path("a"), ws.get_default_datastore().path("../b"))


# -- through Airflow -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pg_db() -> Iterator[str]:
    with fresh_database("azml_transfer") as name:
        yield name


def _sql(db: str, statement: str) -> list[tuple]:
    import psycopg2

    conn = psycopg2.connect(dbname=db, **PG)
    try:
        with conn.cursor() as cur:
            cur.execute(statement)
            rows = cur.fetchall() if cur.description else []
        conn.commit()
        return rows
    finally:
        conn.close()


@pytest.fixture
def sql_blob_ws(workspace_dir: Path, azurite: AzuriteServer, pg_db: str, monkeypatch) -> Workspace:
    container = f"c{uuid.uuid4().hex[:10]}"
    azurite.create_container(container)
    for key, value in azurite.airflow_conn_env("xfer_blob", "wasb").items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv(
        "AIRFLOW_CONN_XFER_PG",
        json.dumps(
            {"conn_type": "postgres", "host": "127.0.0.1", "port": 5432, "login": "postgres", "schema": pg_db}
        ),
    )
    cfg = json.loads((workspace_dir / "config.json").read_text())
    cfg["datastores"] = {
        "blob": blob_datastore(container, "xfer_blob"),
        "pg": {"type": "postgres", "server_name": "127.0.0.1", "database_name": pg_db, "conn_id": "xfer_pg"},
    }
    (workspace_dir / "config.json").write_text(json.dumps(cfg))
    _sql(pg_db, "DROP TABLE IF EXISTS orders, orders_loaded CASCADE")
    _sql(pg_db, "CREATE TABLE orders (id int primary key, item text, qty int)")
    _sql(pg_db, "INSERT INTO orders VALUES (1, 'apple', 3), (2, 'pear, green', 1), (3, 'fig', 7)")
    _sql(pg_db, "CREATE TABLE orders_loaded (id int, item text, qty int)")
    _sql(
        pg_db,
        "CREATE OR REPLACE FUNCTION big_orders(min_qty int) RETURNS SETOF orders "
        "LANGUAGE sql AS 'SELECT * FROM orders WHERE qty >= min_qty ORDER BY id'",
    )
    return Workspace.from_config(workspace_dir)


@pytest.mark.slow
def test_sql_and_blob_transfers_through_airflow(embedded_airflow_home, sql_blob_ws, pg_db, tmp_path):
    ws = sql_blob_ws
    blob, pg = ws.datastores["blob"], ws.datastores["pg"]
    incoming = tmp_path / "new_orders.csv"
    incoming.write_text('ID,item,qty\n10,kiwi,2\n11,"plum, red",5\n')
    blob.upload_files([str(incoming)], target_path="incoming", show_progress=False)
    proc_out = PipelineData("big_orders", datastore=blob)
    steps = [
        DataTransferStep(
            "table_to_csv", SqlDataReference(pg, sql_table="orders"), blob.path("exports/orders.csv")
        ),
        DataTransferStep(
            "proc_to_folder",
            SqlDataReference(pg, sql_stored_procedure="big_orders", sql_stored_procedure_params=[3]),
            proc_out,
        ),
        DataTransferStep(
            "query_to_parquet",
            SqlDataReference(pg, sql_query="SELECT item, qty FROM orders ORDER BY id"),
            blob.path("exports/orders.parquet"),
        ),
        DataTransferStep(
            "csv_to_table",
            blob.path("incoming/new_orders.csv", "incoming"),
            SqlDataReference(pg, sql_table="orders_loaded"),
        ),
    ]
    run = Experiment(ws, "sql_transfers").submit(Pipeline(ws, steps))
    assert run.wait_for_completion(show_output=False) == "Finished"
    store = blob.store
    rows = list(csv.reader(io.StringIO(store.read_bytes("exports/orders.csv").decode())))
    assert rows == [["id", "item", "qty"], ["1", "apple", "3"], ["2", "pear, green", "1"], ["3", "fig", "7"]]
    folder = run.find_step_run("proc_to_folder")[0].get_output_data("big_orders").path_on_datastore
    assert store.list_files(folder) == [f"{folder}/data.csv"]
    assert store.read_bytes(f"{folder}/data.csv").decode().splitlines() == [
        "id,item,qty",
        "1,apple,3",
        "3,fig,7",
    ]
    import pyarrow.parquet as pq

    local = tmp_path / "o.parquet"
    store.get("exports/orders.parquet", local)
    assert pq.read_table(local).to_pydict() == {"item": ["apple", "pear, green", "fig"], "qty": [3, 1, 7]}
    assert _sql(pg_db, "SELECT id, item, qty FROM orders_loaded ORDER BY id") == [
        (10, "kiwi", 2),
        (11, "plum, red", 5),
    ]
    assert run.find_step_run("table_to_csv")[0].record["transfer"]["rows"] == 3
    # each step's data is an Asset with one event per output (#16): blob paths and a SQL table
    events = {e["task"]: e for e in embedded_asset_events(embedded_airflow_home, "sql_transfers")}
    blob_root = f"abfs://{blob.container_name}@devstoreaccount1.dfs.core.windows.net"
    assert events["table_to_csv"]["uri"] == f"{blob_root}/exports/orders.csv"
    assert events["table_to_csv"]["extra"]["path"] == "exports/orders.csv"
    assert events["proc_to_folder"]["uri"] == f"{blob_root}/azureml/sql_transfers/proc_to_folder/big_orders"
    assert events["proc_to_folder"]["extra"]["path"] == folder
    assert events["proc_to_folder"]["extra"]["size"] == len(store.read_bytes(f"{folder}/data.csv"))
    assert events["proc_to_folder"]["extra"]["version"] == store.version(folder)
    loaded = events["csv_to_table"]
    assert loaded["uri"] == f"postgres://127.0.0.1:5432/{pg_db}/public/orders_loaded"
    assert (loaded["extra"]["table"], loaded["extra"]["rows"], loaded["extra"]["pipeline_run_id"]) == (
        "orders_loaded",
        2,
        run.id,
    )

    # a header that does not match the table's columns: a clear error, nothing appended
    bad = tmp_path / "bad.csv"
    bad.write_text("id,name\n99,x\n")
    blob.upload_files([str(bad)], target_path="incoming", show_progress=False)
    step = DataTransferStep(
        "bad_header", blob.path("incoming/bad.csv", "bad"), SqlDataReference(pg, sql_table="orders_loaded")
    )
    run2 = Experiment(ws, "sql_transfer_bad").submit(Pipeline(ws, [step]))
    with pytest.raises(ActivityFailedException):
        run2.wait_for_completion(show_output=False)
    error = run2.find_step_run("bad_header")[0].record["error"]
    assert "header ['id', 'name'] does not match" in error and "missing: ['item', 'qty']" in error
    assert _sql(pg_db, "SELECT count(*) FROM orders_loaded") == [(2,)]
