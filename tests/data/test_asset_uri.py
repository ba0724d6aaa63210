"""Stable asset names for datastore paths and tables (pure: no Airflow, no I/O)."""

from __future__ import annotations

import pytest

from airflow_azml.data.asset_uri import (
    datastore_asset,
    logical_output_path,
    run_output_path,
    table_asset,
)

BLOB = {"type": "azure_blob", "account_name": "acct", "container_name": "data", "conn_id": "azml_blob"}


def test_blob_and_adls_gen2_name_container_and_account():
    ref = datastore_asset(BLOB, "/azureml/train/prep/out/")
    assert ref.uri == ref.name == "abfs://data@acct.dfs.core.windows.net/azureml/train/prep/out"
    assert (ref.namespace, ref.path) == ("abfs://data@acct.dfs.core.windows.net", "azureml/train/prep/out")
    gen2 = datastore_asset({**BLOB, "type": "adls_gen2"}, "azureml/train/prep/out")
    assert gen2 == ref


def test_sovereign_cloud_and_emulator_endpoints():
    china = datastore_asset({**BLOB, "endpoint": "core.chinacloudapi.cn"}, "x")
    assert china.name == "abfs://data@acct.dfs.core.chinacloudapi.cn/x"
    azurite = datastore_asset({**BLOB, "endpoint": "http://127.0.0.1:10000/devstoreaccount1/"}, "x")
    assert azurite.name == "abfs://data@127.0.0.1:10000/devstoreaccount1/x"


def test_blob_without_account_or_container_says_how_to_fix():
    with pytest.raises(
        ValueError, match=r"'raw'.*account_name/container_name.*register_azure_blob_container"
    ):
        datastore_asset({"type": "azure_blob"}, "x", datastore="raw")


def test_local_folder_is_a_file_uri_and_non_ascii_is_encoded():
    ref = datastore_asset({"type": "local", "path": "/srv/ds/"}, "dir with space/été.csv")
    assert ref.uri == ref.name == "file:///srv/ds/dir%20with%20space/%C3%A9t%C3%A9.csv"
    assert ref.uri.isascii()
    assert (ref.namespace, ref.path) == ("file", "/srv/ds/dir%20with%20space/%C3%A9t%C3%A9.csv")


def test_gen1_dbfs_and_unknown_datastores():
    assert datastore_asset({"type": "adls_gen1", "store_name": "lake"}, "a/b").uri == (
        "adl://lake.azuredatalakestore.net/a/b"
    )
    assert datastore_asset({"type": "dbfs"}, "/mnt/x/").uri == "dbfs:/mnt/x"
    ws = {"subscription_id": "sub", "resource_group": "rg", "workspace_name": "ws"}
    assert datastore_asset(None, "p", datastore="later", workspace=ws).uri == (
        "azureml://subscriptions/sub/resourcegroups/rg/workspaces/ws/datastores/later/paths/p"
    )
    assert datastore_asset(None, "p", datastore="later").uri == "azureml://datastores/later/paths/p"


def test_sql_tables():
    pg = table_asset({"type": "postgres", "server_name": "srv", "database_name": "db"}, "sales")
    assert pg.uri == "postgres://srv.postgres.database.azure.com:5432/db/public/sales"
    assert (pg.namespace, pg.path) == ("postgres://srv.postgres.database.azure.com:5432", "db.public.sales")
    sql = table_asset(
        {"type": "azure_sql", "server_name": "Host.Example.com", "database_name": "db", "port": 1444},
        "[etl].[t]",
    )
    assert sql.uri == "mssql://host.example.com:1444/db/etl/t"
    my = table_asset({"type": "mysql", "server_name": "m", "database_name": "db"}, "t")
    assert my.uri == "mysql://m.mysql.database.azure.com:3306/db/t"
    with pytest.raises(ValueError, match=r"'files'.*not a SQL datastore"):
        table_asset({"type": "local", "path": "/x"}, "t", datastore="files")
    with pytest.raises(ValueError, match="holds tables"):
        datastore_asset({"type": "postgres"}, "x", datastore="pg")


def test_logical_path_replaces_the_run_with_the_pipeline():
    pd = {"kind": "pipeline_data", "name": "out"}
    assert run_output_path(pd, "manual__2026", "prep") == "azureml/manual__2026/prep/out"
    assert logical_output_path(pd, "train_dag", "prep") == "azureml/train_dag/prep/out"
    ofdc = {"kind": "output_dataset", "name": "clean", "destination": "/cleaned/{run-id}/{output-name}/"}
    assert run_output_path(ofdc, "r1", "prep") == "cleaned/r1_prep/clean"
    assert logical_output_path(ofdc, "train_dag", "prep") == "cleaned/train_dag_prep/clean"
    fixed = {"kind": "output_dataset", "name": "clean", "destination": "curated/{output-name}"}
    assert logical_output_path(fixed, "d", "prep") == run_output_path(fixed, "r1", "prep") == "curated/clean"
