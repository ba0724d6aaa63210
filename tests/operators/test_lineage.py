"""Step data as Airflow Assets: declared at parse time, one event per output of a successful run
(embedded Airflow, dag.test), and the same inputs/outputs for OpenLineage."""

from __future__ import annotations

import json
from pathlib import Path

import attrs
import pytest
from airflow.sdk import Asset

from airflow_azml.compiler import compile_pipeline
from airflow_azml.core import Experiment, Workspace
from airflow_azml.data.asset_uri import datastore_asset, table_asset
from airflow_azml.pipeline.core import Pipeline, PipelineData
from airflow_azml.pipeline.steps import PythonScriptStep
from airflow_azml.provider.local.embedded import airflow_home
from airflow_azml.provider.operators.lineage import _AssetMaker
from airflow_azml.provider.operators.render import render_dag
from tests.conftest import write
from tests.support.assets import embedded_asset_events
from tests.support.processes import wait_no_holders

BLOB = {"type": "azure_blob", "account_name": "acct", "container_name": "data"}
URIS = [
    datastore_asset(BLOB, "azureml/d/prep/out").uri,
    datastore_asset(BLOB, "").uri,
    datastore_asset({**BLOB, "endpoint": "http://127.0.0.1:10000/devstoreaccount1"}, "x/y.csv").uri,
    datastore_asset({"type": "local", "path": "/srv/ds"}, "a b/é.csv").uri,
    datastore_asset({"type": "local", "path": "/srv/ds"}, "").uri,
    datastore_asset({"type": "dbfs"}, "mnt/x").uri,
    datastore_asset({"type": "dbfs"}, "").uri,
    datastore_asset({"type": "adls_gen1", "store_name": "lake"}, "p").uri,
    datastore_asset(None, "p", datastore="later", workspace={"workspace_name": "w"}).uri,
    table_asset({"type": "postgres", "server_name": "pg", "database_name": "db"}, "t").uri,
    table_asset({"type": "azure_sql", "server_name": "sql", "database_name": "db"}, "s.t").uri,
]


@pytest.mark.parametrize("uri", URIS)
def test_our_uris_are_what_airflow_makes_of_them(uri):
    real = Asset(name=uri, uri=uri)
    assert real.uri == uri  # already in Airflow's sanitized form
    fast = _AssetMaker()(uri)
    assert type(fast) is Asset
    for field in attrs.fields(Asset):
        assert getattr(fast, field.name) == getattr(real, field.name), field.name
    assert fast == real and hash(fast) == hash(real)
    other = _AssetMaker()(uri)
    assert other.extra is not fast.extra and other.watchers is not fast.watchers  # nothing shared


def _pipeline(ws: Workspace, src: Path) -> Pipeline:
    write(src / "prep.py", PREP)
    write(src / "train.py", TRAIN)
    prepared = PipelineData("prepared")
    model = PipelineData("model")
    prep = PythonScriptStep(
        "prep.py", name="prep", source_directory=str(src), arguments=["--out", prepared], outputs=[prepared]
    )
    train = PythonScriptStep(
        "train.py",
        name="train",
        source_directory=str(src),
        arguments=["--in", prepared, "--out", model],
        inputs=[prepared],
        outputs=[model],
    )
    return Pipeline(ws, [prep, train])


PREP = """import argparse, os
p = argparse.ArgumentParser(); p.add_argument('--out'); a = p.parse_args()
os.makedirs(a.out, exist_ok=True)
open(os.path.join(a.out, 'rows.csv'), 'w').write('a,b\\n1,2\\n3,4\\n')
"""
TRAIN = """import argparse, os
p = argparse.ArgumentParser(); p.add_argument('--in', dest='src'); p.add_argument('--out'); a = p.parse_args()
os.makedirs(a.out, exist_ok=True)
open(os.path.join(a.out, 'model.txt'), 'w').write(str(len(open(os.path.join(a.src, 'rows.csv')).read())))
"""


def test_outputs_are_outlets_and_consumers_inlets(workspace_dir, monkeypatch):
    ws = Workspace.from_config(workspace_dir)
    plan = compile_pipeline(_pipeline(ws, workspace_dir / "src"), "lineage_ops")
    dag = render_dag(plan)
    prep, train = dag.get_task("prep"), dag.get_task("train")
    (prepared,) = prep.outlets
    assert prepared.uri.startswith("file:///") and prepared.uri.endswith("/azureml/lineage_ops/prep/prepared")
    assert train.inlets == [prepared] and train.inlets[0] is prepared
    assert [a.uri.rsplit("/", 1)[-1] for a in train.outlets] == ["model"]
    assert train.lineage.outlets["model"].uri == train.outlets[0].uri
    monkeypatch.setenv("AZML_LINEAGE", "0")
    plain = render_dag(plan)
    assert plain.get_task("prep").outlets == [] and plain.get_task("train").inlets == []
    assert plain.get_task("train").lineage is None


def test_openlineage_facets_name_the_same_inputs_and_outputs(workspace_dir):
    pytest.importorskip(
        "airflow.providers.openlineage", reason="apache-airflow-providers-openlineage not installed"
    )
    ws = Workspace.from_config(workspace_dir)
    dag = render_dag(compile_pipeline(_pipeline(ws, workspace_dir / "src"), "lineage_ol"))
    train = dag.get_task("train")
    for facets in (
        train.get_openlineage_facets_on_start(),
        train.get_openlineage_facets_on_complete(None),
        train.get_openlineage_facets_on_failure(None),
    ):
        assert [(d.namespace, d.name) for d in facets.inputs] == [
            ("file", train.inlets[0].uri[len("file://") :])
        ]
        assert [(d.namespace, d.name) for d in facets.outputs] == [
            ("file", train.outlets[0].uri[len("file://") :])
        ]


@pytest.mark.slow
def test_a_local_run_emits_one_event_per_output(embedded_airflow_home, workspace_dir):
    """dag.test (azml run, a local Experiment.submit) records the events too; a second, reused run
    and the REST API are in tests/system/test_rest_trigger.py (the live deployment)."""
    ws = Workspace.from_config(workspace_dir)
    pipeline = _pipeline(ws, workspace_dir / "src")
    run = Experiment(ws, "lineage_events").submit(pipeline)
    assert run.wait_for_completion(show_output=False) == "Finished"

    events = embedded_asset_events(embedded_airflow_home, "lineage_events")
    assert [(e["task"], e["run"]) for e in events] == [("prep", run.id), ("train", run.id)]
    dag = render_dag(compile_pipeline(pipeline, "lineage_events"))
    store = ws.get_default_datastore().store
    for e in events:
        (outlet,) = dag.get_task(e["task"]).outlets
        extra = e["extra"]
        assert e["uri"] == outlet.uri
        assert extra["pipeline_run_id"] == run.id and extra["step"] == e["task"] and extra["reused"] is False
        assert extra["step_run_id"].endswith(f"_{e['task']}")
        name = outlet.uri.rsplit("/", 1)[-1]
        assert extra["datastore"] == "workspaceblobstore" and extra["path"].endswith(f"/{e['task']}/{name}")
        assert extra["size"] > 0 and extra["files"] == 1
        assert extra["version"] == store.version(extra["path"])


@pytest.mark.slow
def test_openlineage_events_of_a_run_name_the_assets(
    embedded_airflow_home, workspace_dir, tmp_path, monkeypatch
):
    """With the OpenLineage provider configured (file transport), a run's events name the steps'
    inputs and outputs: the datasets of their Asset inlets and outlets."""
    pytest.importorskip(
        "airflow.providers.openlineage", reason="apache-airflow-providers-openlineage not installed"
    )
    events_file = tmp_path / "ol_events.jsonl"
    transport = {"type": "file", "log_file_path": str(events_file), "append": True}
    monkeypatch.setenv("AIRFLOW__OPENLINEAGE__TRANSPORT", json.dumps(transport))
    monkeypatch.setenv("AIRFLOW__OPENLINEAGE__NAMESPACE", "azml-test")
    ws = Workspace.from_config(workspace_dir)
    pipeline = _pipeline(ws, workspace_dir / "src")
    run = Experiment(ws, "lineage_ol_run").submit(pipeline)
    assert run.wait_for_completion(show_output=False) == "Finished"
    # the runner stops its listeners as Airflow's jobs do: OpenLineage's pool of DAG-run event workers
    # ends with the run instead of being orphaned (every process of the run holds its log open)
    assert wait_no_holders(str(airflow_home() / "azml_runs" / "lineage_ol_run-")) == []

    dag = render_dag(compile_pipeline(pipeline, "lineage_ol_run"))
    seen: dict[tuple[str, str], dict] = {}
    for line in events_file.read_text().splitlines():
        event = json.loads(line)
        job = event["job"]["name"]
        if job.startswith("lineage_ol_run.") and event["eventType"] in ("START", "COMPLETE"):
            seen[(job.split(".", 1)[1], event["eventType"])] = event
    for task_id in ("prep", "train"):
        task = dag.get_task(task_id)
        for kind in ("START", "COMPLETE"):
            event = seen[(task_id, kind)]
            assert [(d["namespace"], d["name"]) for d in event["inputs"]] == [
                (r.namespace, r.path) for r in task.lineage.inlets.values()
            ]
            assert [(d["namespace"], d["name"]) for d in event["outputs"]] == [
                (r.namespace, r.path) for r in task.lineage.outlets.values()
            ]
        (written,) = seen[(task_id, "COMPLETE")]["outputs"]
        stats = written["outputFacets"]["outputStatistics"]  # this run's output, as in its asset event
        assert stats["size"] > 0 and stats["fileCount"] == 1
