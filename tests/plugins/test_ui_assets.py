"""The pipeline view links each input and output to its Asset page (from the run record's asset URIs)."""

from __future__ import annotations

from airflow_azml.data.stores.local import LocalStore
from airflow_azml.execution.records import RunRecords
from airflow_azml.provider.plugins.ui_data import pipeline_view
from airflow_azml.provider.plugins.ui_render import render_page

DAG = "lineage_view"
TASKS = [
    {"task_id": "prep", "downstream_task_ids": ["load"], "operator_name": "PythonScriptStepOperator"},
    {"task_id": "load", "downstream_task_ids": [], "operator_name": "DataTransferStepOperator"},
]
PREPARED = "file:///data/azureml/lineage_view/prep/prepared"
RAW = "file:///data/raw"
TABLE = "postgres://db.example.com:5432/sales/public/facts"


def test_ports_carry_their_asset_and_link(tmp_path):
    store = LocalStore(tmp_path / "store")
    rec = RunRecords(store, DAG, "r1")
    prepared = {"datastore": "ws", "path": "azureml/r1/prep/prepared"}
    store.write_bytes(prepared["path"] + "/part-0.csv", b"a\n1\n")
    rec.write_step(
        "prep",
        {
            "name": "prep",
            "status": "Finished",
            "inputs": {"raw": {"datastore": "ws", "path": "raw"}},
            "outputs": {"prepared": prepared},
            "assets": {"inputs": {"raw": RAW}, "outputs": {"prepared": PREPARED}},
        },
    )
    rec.write_step(
        "load",
        {
            "name": "load",
            "status": "Finished",
            "inputs": {"prepared": prepared},
            "outputs": {},
            "assets": {"inputs": {"prepared": PREPARED}, "outputs": {"sql:facts": TABLE}},
        },
    )
    ids = {PREPARED: 7, TABLE: 9}  # RAW is not known to Airflow: no link

    def link(uri: str) -> str | None:
        return f"/af/assets/{ids[uri]}" if uri in ids else None

    view = pipeline_view(store, DAG, "r1", TASKS, {}, asset_link=link)
    steps = {s["task_id"]: s for s in view["steps"]}
    (raw,) = steps["prep"]["inputs"]
    assert (raw["asset_uri"], raw["asset_url"]) == (RAW, None)
    (out,) = steps["prep"]["outputs"]
    assert (out["path"], out["asset_uri"], out["asset_url"]) == (prepared["path"], PREPARED, "/af/assets/7")
    assert steps["load"]["inputs"][0]["asset_url"] == "/af/assets/7"  # the same asset, consumed
    # a SQL table has no datastore path: it is listed by its asset alone
    assert steps["load"]["outputs"] == [
        {
            "name": "sql:facts",
            "datastore": None,
            "path": None,
            "size": None,
            "asset_uri": TABLE,
            "asset_url": "/af/assets/9",
        }
    ]

    page = render_page(view)
    assert page.count('href="/af/assets/7"') == 2
    assert f'href="/af/assets/9" title="{TABLE}">asset</a>' in page
    assert f"<code>{TABLE}</code>" in page
