"""``azml gc``: retention of run records, stored XCom values, outputs and staging leftovers.

Layouts are the real ones (run records, XCom paths, output locations, reuse index entries,
dataset registrations) on a local datastore and an Azurite Blob datastore; the "no longer in
Airflow" rule is checked against the embedded Airflow DB after a real run.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path

import pytest

from airflow_azml.cli import main
from airflow_azml.cli.gc_collect import apply, collect, parse_age
from airflow_azml.core import Dataset, Experiment, Workspace
from airflow_azml.exceptions import UserErrorException
from airflow_azml.pipeline.core import Pipeline, PipelineData
from airflow_azml.pipeline.steps import PythonScriptStep
from tests.conftest import write
from tests.support.azurite import blob_datastore

DAY = 86400.0


def _run(store, dag: str, slug: str, started: float, outputs_on=None) -> None:
    """What one pipeline run leaves behind, at the paths the real code uses."""
    store.write_bytes(
        f".azml/runs/{dag}/{slug}/train.json", json.dumps({"start": started, "end": started + 5}).encode()
    )
    store.write_bytes(f".azml/runs/{dag}/{slug}/train/stdout.txt", b"log")
    store.write_bytes(f".azml/xcom/{dag}/{slug}/make/return_value.parquet", b"PAR1")
    store.write_bytes(f".azml/staging/{dag}/{slug}/train/try_1/model/partial.bin", b"x")
    for target in outputs_on or [store]:
        target.write_bytes(f"azureml/{slug}/train/model/model.pkl", b"m")
        target.write_bytes(f"azureml/{slug}/train/metrics/m.json", b"{}")
        target.write_bytes(f"dataset/{slug}_train/features/part-0.csv", b"a\n1\n")


def test_parse_age() -> None:
    assert parse_age("30d") == 30 * DAY and parse_age("12h") == 43200 and parse_age("90m") == 5400
    with pytest.raises(UserErrorException, match="e.g. 30d"):
        parse_age("30 days")


def test_gc_by_age_keeps_reuse_and_dataset_paths(workspace_dir: Path, azurite, monkeypatch, capsys) -> None:
    container = f"gc{uuid.uuid4().hex[:8]}"
    azurite.create_container(container)
    for key, value in azurite.airflow_conn_env("gc_blob", "wasb").items():
        monkeypatch.setenv(key, value)
    cfg = json.loads((workspace_dir / "config.json").read_text())
    cfg["datastores"] = {"blob": blob_datastore(container, "gc_blob")}
    (workspace_dir / "config.json").write_text(json.dumps(cfg))
    ws = Workspace.from_config(workspace_dir)
    local, blob = ws.get_default_datastore().store, ws.datastores["blob"].store
    now = time.time()
    _run(local, "etl", "manual__old", now - 40 * DAY, outputs_on=[local, blob])
    _run(local, "etl", "manual__new", now - 1 * DAY, outputs_on=[local, blob])
    # the reuse index (written by another component) still points at one old output ...
    local.write_bytes(
        ".azml/reuse/etl/train/abc.json",
        json.dumps(
            {
                "outputs": {
                    "model": {"datastore": "workspaceblobstore", "path": "azureml/manual__old/train/model"}
                }
            }
        ).encode(),
    )
    # ... and a registered dataset at another one (on the blob datastore)
    Dataset.File.from_files([(ws.datastores["blob"], "dataset/manual__old_train/features")]).register(
        ws, "feats"
    )
    blob.write_bytes(".azml/incoming/deadbeef/part", b"crashed upload")
    from airflow_azml.data.cache import cache_root

    stale, fresh = cache_root() / "stale_entry", cache_root() / "fresh_entry"
    for entry in (stale, fresh):
        write(entry / "data.csv", "a\n").chmod(0o444)
    os.utime(stale, (now - 40 * DAY, now - 40 * DAY))

    assert (
        main(["gc", "--older-than", "30d", "--dry-run", "--no-airflow", "--workspace", str(workspace_dir)])
        == 0
    )
    printed = capsys.readouterr().out
    assert "expired run etl/manual__old: older than the limit" in printed and "manual__new" not in printed
    assert local.exists(".azml/runs/etl/manual__old")  # dry run: nothing removed

    assert main(["gc", "--older-than", "30d", "--no-airflow", "--workspace", str(workspace_dir)]) == 0
    for gone in (
        ".azml/runs/etl/manual__old",
        ".azml/xcom/etl/manual__old",
        ".azml/staging/etl/manual__old",
        "azureml/manual__old/train/metrics",
    ):
        assert not local.exists(gone), gone
    assert local.exists("azureml/manual__old/train/model/model.pkl")  # reuse index
    assert blob.list_files("azureml/manual__old") == []
    assert blob.list_files("dataset/manual__old_train") == ["dataset/manual__old_train/features/part-0.csv"]
    assert blob.list_files(".azml/incoming") == [
        ".azml/incoming/deadbeef/part"
    ]  # young: may still be uploading
    assert local.exists(".azml/runs/etl/manual__new/train.json")
    assert blob.exists("azureml/manual__new/train/model/model.pkl")
    assert local.exists(".azml/datasets/feats/1.json") and local.exists(".azml/reuse/etl/train/abc.json")
    assert not stale.exists() and (fresh / "data.csv").exists()  # this worker's input cache
    later = collect(ws, parse_age("1d"), now=now + 2 * DAY, check_airflow=False)
    assert ("blob", ".azml/incoming/deadbeef") in later.delete
    apply(ws, later)
    assert blob.list_files(".azml/incoming") == []
    assert local.exists("azureml/manual__old/train/model/model.pkl")  # still referenced by the reuse index


STEP = "import os, sys\nos.makedirs(sys.argv[1], exist_ok=True)\nopen(os.path.join(sys.argv[1], 'a.txt'), 'w').write('a')\n"


@pytest.mark.slow
def test_gc_removes_runs_airflow_no_longer_has(embedded_airflow_home, workspace_dir: Path) -> None:
    ws = Workspace.from_config(workspace_dir)
    write(workspace_dir / "steps" / "s.py", STEP)
    out = PipelineData("out", datastore=ws.get_default_datastore())
    step = PythonScriptStep(
        "s.py",
        name="s",
        arguments=[out],
        outputs=[out],
        source_directory=str(workspace_dir / "steps"),
        allow_reuse=False,
    )
    dag = f"gc_live_{uuid.uuid4().hex[:6]}"
    run = Experiment(ws, dag).submit(Pipeline(ws, [step]))
    assert run.wait_for_completion(show_output=False) == "Finished"
    store = ws.get_default_datastore().store
    _run(store, dag, "manual__deleted_run", time.time() - 3 * 3600)  # records of a run Airflow no longer has
    _run(store, dag, "manual__starting", time.time() - 60)  # too young to judge: kept
    report = collect(ws, parse_age("30d"))
    assert "embedded Airflow DB" in report.airflow_check
    assert report.expired == {f"{dag}/manual__deleted_run": "no longer exists in Airflow"}
    apply(ws, report)
    assert not store.exists(f".azml/runs/{dag}/manual__deleted_run")
    assert not store.exists("azureml/manual__deleted_run")
    kept = run.find_step_run("s")[0].get_output_data("out").path_on_datastore
    assert store.exists(kept) and store.exists(f".azml/runs/{dag}/manual__starting")
