"""A plan's lineage: every step output is an asset (outlet of its step, inlet of its consumers),
named by its datastore and logical location, computed from the plan alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_azml.compiler import compile_pipeline
from airflow_azml.compiler.lineage import plan_lineage
from airflow_azml.core import Workspace
from airflow_azml.data.output_dataset_config import OutputFileDatasetConfig
from airflow_azml.data.sql_data_reference import SqlDataReference
from airflow_azml.pipeline.core import Pipeline, PipelineData
from airflow_azml.pipeline.steps import DataTransferStep, PythonScriptStep

BLOB = "abfs://data@acct.dfs.core.windows.net"
PG = "postgres://pgsrv.postgres.database.azure.com:5432/sales"


@pytest.fixture
def ws(workspace_dir: Path) -> Workspace:
    cfg = json.loads((workspace_dir / "config.json").read_text())
    cfg["datastores"] = {
        "blob": {"type": "azure_blob", "account_name": "acct", "container_name": "data", "conn_id": "b"},
        "pg": {"type": "postgres", "server_name": "pgsrv", "database_name": "sales", "conn_id": "p"},
    }
    (workspace_dir / "config.json").write_text(json.dumps(cfg))
    (workspace_dir / "src").mkdir()
    for script in ("prep.py", "train.py"):
        (workspace_dir / "src" / script).write_text("print('step')\n")
    return Workspace.from_config(workspace_dir)


def _plan(ws: Workspace, tmp_path: Path) -> dict:
    blob, pg = ws.datastores["blob"], ws.datastores["pg"]
    raw = blob.path("raw/2024", data_reference_name="raw")
    prepared = PipelineData("prepared", datastore=blob)
    local_out = PipelineData("local_out")  # on the default (local) datastore
    clean = OutputFileDatasetConfig("clean", destination=(blob, "curated/{run-id}/{output-name}"))
    src = str(tmp_path / "project" / "src")
    prep = PythonScriptStep(
        "prep.py",
        name="prep",
        source_directory=src,
        arguments=["--raw", raw, "--out", prepared, "--local", local_out, "--clean", clean],
        inputs=[raw],
        outputs=[prepared, local_out, clean],
    )
    clean_in = clean.as_input("clean_in")
    train = PythonScriptStep(
        "train.py",
        name="train",
        source_directory=src,
        arguments=["--in", prepared, "--clean", clean_in],
        inputs=[prepared, clean_in],
    )
    export = DataTransferStep("export", prepared, blob.path("exports/prepared"))
    load = DataTransferStep(
        "load", blob.path("exports/prepared", "exported"), SqlDataReference(pg, sql_table="facts")
    )
    dump = DataTransferStep(
        "dump", SqlDataReference(pg, sql_table="crm.customers"), blob.path("dumps/customers.csv")
    )
    load.run_after(export)
    return compile_pipeline(Pipeline(ws, [prep, train, export, load, dump]), "lineage_dag")


def test_outputs_are_outlets_named_by_datastore_and_logical_location(ws, tmp_path):
    lineage = plan_lineage(_plan(ws, tmp_path))
    prep = lineage["prep"].outlets
    assert prep["prepared"].uri == f"{BLOB}/azureml/lineage_dag/prep/prepared"
    assert prep["clean"].uri == f"{BLOB}/curated/lineage_dag_prep/clean"
    local = prep["local_out"]
    assert local.uri.startswith("file:///") and local.uri.endswith("/azureml/lineage_dag/prep/local_out")
    # a DataTransferStep's output is its destination; a SQL destination is a table
    assert [r.uri for r in lineage["export"].outlets.values()] == [f"{BLOB}/exports/prepared"]
    assert {k: r.uri for k, r in lineage["load"].outlets.items()} == {"sql:facts": f"{PG}/public/facts"}
    assert [r.uri for r in lineage["dump"].outlets.values()] == [f"{BLOB}/dumps/customers.csv"]


def test_consumers_have_the_producers_outlets_as_inlets(ws, tmp_path):
    lineage = plan_lineage(_plan(ws, tmp_path))
    prep = lineage["prep"]
    assert prep.inlets["raw"].uri == f"{BLOB}/raw/2024"
    assert lineage["train"].inlets["prepared"] is prep.outlets["prepared"]
    assert lineage["train"].inlets["clean_in"] is prep.outlets["clean"]
    assert lineage["export"].inlets["prepared"] is prep.outlets["prepared"]
    # the fixed path one step writes is the asset the next one reads
    assert [lineage["load"].inlets["exported"]] == list(lineage["export"].outlets.values())
    assert lineage["dump"].inlets["sql:crm.customers"].uri == f"{PG}/crm/customers"
    assert lineage["dump"].inlets["sql:crm.customers"].path == "sales.crm.customers"


def test_lineage_is_stable_across_compiles_and_needs_no_io(ws, tmp_path, monkeypatch):
    first = plan_lineage(_plan(ws, tmp_path))
    import builtins

    def no_io(*args, **kwargs):
        raise AssertionError(f"lineage opened {args[:1]}")

    plan = _plan(ws, tmp_path)
    monkeypatch.setattr(builtins, "open", no_io)
    assert plan_lineage(plan) == first


def test_registered_datasets_and_datapath_parameters_are_inlets():
    plan = {
        "dag_id": "d",
        "workspace": {"config": {"workspace_name": "ws1", "datastores": {"blob": {"type": "dbfs"}}}},
        "parameters": {
            "where": {"type": "datapath", "default": {"datastore": "blob", "path_on_datastore": "in/x"}},
            "ds": {"type": "dataset", "default": {"name": "sales", "version": "2"}},
        },
        "steps": {
            "s": {
                "name": "s",
                "task_id": "s",
                "kind": "python_script",
                "outputs": [],
                "inputs": [
                    {"name": "raw", "source": "dataset", "dataset": {"name": "my_data", "version": "1"}},
                    {"name": "inline", "source": "dataset", "dataset": {"definition": {"paths": []}}},
                    {"name": "where", "source": "param", "param": "where"},
                    {"name": "ds", "source": "param", "param": "ds"},
                ],
            }
        },
    }
    inlets = {k: r.uri for k, r in plan_lineage(plan)["s"].inlets.items()}
    assert inlets == {
        "raw": "azureml://workspaces/ws1/datasets/my_data",
        "where": "dbfs:/in/x",
        "ds": "azureml://workspaces/ws1/datasets/sales",
    }
