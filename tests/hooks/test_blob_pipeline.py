"""A pipeline passing PipelineData through an Azurite Blob datastore, run through Airflow for real.

``Experiment.submit`` -> the embedded runner (``dag.test``) -> step operators on a Blob
datastore reached through an ``AIRFLOW_CONN_*`` connection set in ``os.environ`` (the runner
inherits it). Azurite has no DFS endpoint, so ADLS Gen2-only semantics (hierarchical
namespace, atomic directory rename, ACLs) are not exercised; see test_object_store.py.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from airflow_azml.core import Experiment, Workspace
from airflow_azml.pipeline.core import Pipeline, PipelineData
from airflow_azml.pipeline.steps import DataTransferStep, PythonScriptStep
from airflow_azml.provider.hooks.object_store import COMMITTED_MARKER, ObjectStore
from tests.conftest import write
from tests.support.azurite import blob_datastore

pytestmark = pytest.mark.slow

PRODUCE = """\
import os, sys
out = sys.argv[1]
os.makedirs(os.path.join(out, "part"), exist_ok=True)
for i in range(3):
    with open(os.path.join(out, "part", f"{i}.csv"), "w") as fh:
        fh.write(f"id,value\\n{i},{i * 10}\\n")
"""
CONSUME = """\
import json, os, stat, sys
src, dl, out = sys.argv[1], sys.argv[2], sys.argv[3]
files = sorted(os.path.relpath(os.path.join(d, f), src) for d, _, fs in os.walk(src) for f in fs)
total = 0
for rel in files:
    total += int(open(os.path.join(src, rel)).read().splitlines()[1].split(",")[1])
writable = any(os.stat(os.path.join(src, r)).st_mode & stat.S_IWUSR for r in files)
dl_files = sorted(os.path.relpath(os.path.join(d, f), dl) for d, _, fs in os.walk(dl) for f in fs)
os.makedirs(out, exist_ok=True)
json.dump({"files": files, "total": total, "mount": src, "writable": writable, "download": dl_files},
          open(os.path.join(out, "summary.json"), "w"))
"""


@pytest.fixture
def blob_workspace(workspace_dir: Path, blob_conn: str, container: str) -> Workspace:
    cfg = json.loads((workspace_dir / "config.json").read_text())
    cfg["datastores"] = {"blobstore": blob_datastore(container, blob_conn)}
    (workspace_dir / "config.json").write_text(json.dumps(cfg))
    return Workspace.from_config(workspace_dir)


def test_pipeline_data_flows_through_blob_datastore(
    embedded_airflow_home, blob_workspace, workspace_dir, blob_conn, container, tmp_path
):
    ws = blob_workspace
    assert os.environ[f"AIRFLOW_CONN_{blob_conn.upper()}"]  # the runner subprocess inherits it
    blob = ws.datastores["blobstore"]
    src = workspace_dir / "steps"
    write(src / "produce.py", PRODUCE)
    write(src / "consume.py", CONSUME)
    raw = PipelineData("raw", datastore=blob)
    copied_ref = blob.path("copies/raw", data_reference_name="copied")
    produce = PythonScriptStep(
        "produce.py",
        name="produce",
        arguments=[raw],
        outputs=[raw],
        source_directory=str(src),
        compute_target="cpu",
    )
    transfer = DataTransferStep(
        "copy_raw",
        source_data_reference=raw,
        destination_data_reference=copied_ref,
        source_reference_type="directory",
    )
    copied = transfer.get_output()
    summary = PipelineData("summary", datastore=blob)
    dl = copied.as_download(input_name="copied_dl")
    consume = PythonScriptStep(
        "consume.py",
        name="consume",
        arguments=[raw.as_mount(), dl, summary],
        inputs=[raw.as_mount(), dl],
        outputs=[summary],
        source_directory=str(src),
        compute_target="cpu",
    )
    run = Experiment(ws, "blob_pipeline").submit(Pipeline(ws, [consume, transfer, produce]))
    assert run.wait_for_completion(show_output=False) == "Finished"

    store = ObjectStore(blob_conn, container)
    (consume_run,) = run.find_step_run("consume")
    out = consume_run.get_output_data("summary")
    assert out.datastore_name == "blobstore"
    result = json.loads(store.read_bytes(f"{out.path_on_datastore}/summary.json"))
    assert result["files"] == ["part/0.csv", "part/1.csv", "part/2.csv"]
    assert result["total"] == 30
    assert result["download"] == ["part/0.csv", "part/1.csv", "part/2.csv"]
    # mount mode on a remote store: a read-only local cache entry, not the blob path
    assert "/cache/objects/" in result["mount"] and result["writable"] is False
    # every published folder carries its manifest; nothing is left under the hidden upload prefix
    produced = run.find_step_run("produce")[0].get_output_data("raw").path_on_datastore
    assert store.exists(f"{produced}/{COMMITTED_MARKER}")
    assert store.list_files("copies/raw") == [f"copies/raw/part/{i}.csv" for i in range(3)]
    assert store.list_files(".azml/incoming") == []
    (transfer_run,) = run.find_step_run("copy_raw")
    assert transfer_run.record["transfer"]["files"] == 3
    # no credential in the compiled plan the runner got
    plan_text = "\n".join(p.read_text() for p in (embedded_airflow_home / "dags").rglob("blob_pipeline.json"))
    assert "AccountKey" not in plan_text and blob_conn in plan_text


def test_escaping_datapath_parameter_is_refused_at_run_time(
    embedded_airflow_home, blob_workspace, workspace_dir, blob_conn, container
):
    """A DataPath given at submit time that climbs out of the container: the step fails, nothing is written."""
    from airflow_azml.data.datapath import DataPath, DataPathComputeBinding
    from airflow_azml.exceptions import ActivityFailedException
    from airflow_azml.pipeline.core import PipelineParameter

    ws = blob_workspace
    blob = ws.datastores["blobstore"]
    blob.store.write_bytes("inputs/ok/a.csv", b"id\n1\n")
    write(workspace_dir / "steps" / "consume.py", CONSUME)
    param = PipelineParameter("source", default_value=DataPath(blob, "inputs/ok"))
    binding = (param, DataPathComputeBinding(mode="mount"))
    result = PipelineData("result", datastore=blob)
    step = PythonScriptStep(
        "consume.py",
        name="read",
        arguments=[binding, binding, result],
        inputs=[binding],
        outputs=[result],
        source_directory=str(workspace_dir / "steps"),
    )
    before = blob.store.list_files("")
    run = Experiment(ws, "blob_escape").submit(
        Pipeline(ws, [step]),
        pipeline_parameters={
            "source": {"datastore": "blobstore", "path_on_datastore": "../other-container/x"}
        },
    )
    with pytest.raises(ActivityFailedException):
        run.wait_for_completion(show_output=False)
    (step_run,) = run.find_step_run("read")
    assert "contains a '..' segment" in step_run.record["error"]
    assert "Nothing was read or written" in step_run.record["error"]
    assert blob.store.list_files("") == before
    assert ObjectStore(blob_conn, container).list_files("azureml") == []
