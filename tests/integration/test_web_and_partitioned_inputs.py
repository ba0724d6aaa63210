"""Web datasets, partitioned datasets and empty DataPaths as step inputs, through Airflow for real
(Experiment.submit -> dag.test), with the web behind a local CONNECT proxy and a throwaway CA."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_azml.core import Dataset, Experiment, Workspace
from airflow_azml.data import DataPath, DataPathComputeBinding
from airflow_azml.data.dataset_consumption_config import DatasetConsumptionConfig
from airflow_azml.pipeline.core import Pipeline, PipelineParameter
from airflow_azml.pipeline.steps import PythonScriptStep
from tests.conftest import write
from tests.support.web import LocalWeb

pytestmark = pytest.mark.slow

TITANIC = b"PassengerId,Survived,Name\n1,0,Ann\n2,1,Bob\n3,1,Cid\n"
IRIS = b"sepal,species\n5.1,setosa\n6.3,virginica\n"

READ_WEB = """
import argparse, os
from airflow_azml.core import Run, Dataset
p = argparse.ArgumentParser(); p.add_argument("--file"); p.add_argument("--table"); p.add_argument("--url")
a = p.parse_args()
run = Run.get_context()
path = run.input_datasets["file_ds"]
assert path == a.file and os.path.isfile(path), path  # one mounted file is the file itself
first = open(path).read().splitlines()[0]
frame = run.input_datasets["table_ds"].to_pandas_dataframe()
# user code in the step fetches too: the step process has the proxy and CA variables
again = Dataset.Tabular.from_delimited_files(a.url).to_pandas_dataframe()
run.log("rows", len(frame))
run.log("header", first)
run.log("again", len(again))
print("table id", a.table)
"""

READ_EVENTS = """
import os, sys
from airflow_azml.core import Run
run = Run.get_context()
frame = run.input_datasets["events"].to_pandas_dataframe()
run.log("users", ",".join(sorted(frame["userid"].unique())))
run.log("total", int(frame["amount"].sum()))
folder = sys.argv[sys.argv.index("--empty") + 1]
run.log("empty_listing", len(os.listdir(folder)))
"""


@pytest.fixture
def corporate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
        monkeypatch.delenv(name.lower(), raising=False)
    web = LocalWeb(tmp_path / "web")
    web.site.put("/demo/Titanic.csv", TITANIC)
    web.site.put("/iris/iris.csv", IRIS)
    for name, value in web.proxy_env().items():  # os.environ: the runner and the step inherit it
        monkeypatch.setenv(name, value)
    yield web
    web.close()


def _web_pipeline(ws: Workspace, web: LocalWeb, src: Path) -> Pipeline:
    titanic = web.proxied_url("/demo/Titanic.csv")
    file_param = PipelineParameter("file_ds_param", default_value=Dataset.File.from_files(titanic))
    table_param = PipelineParameter(
        "tabular_ds_param", default_value=Dataset.Tabular.from_delimited_files(titanic)
    )
    file_input = DatasetConsumptionConfig("file_ds", file_param).as_mount()
    table_input = DatasetConsumptionConfig("table_ds", table_param)
    step = PythonScriptStep(
        "read_web.py",
        name="read_web",
        source_directory=str(src),
        arguments=["--file", file_input, "--table", table_input, "--url", titanic],
        inputs=[file_input, table_input],
    )
    return Pipeline(ws, [step])


def test_web_datasets_are_fetched_by_the_step_and_reused_until_their_etag_changes(
    embedded_airflow_home, workspace_dir, corporate
):
    ws = Workspace.from_config(workspace_dir)
    write(workspace_dir / "steps" / "read_web.py", READ_WEB)
    pipeline = _web_pipeline(ws, corporate, workspace_dir / "steps")
    assert corporate.site.requests == []  # building the pipeline fetched nothing
    exp = Experiment(ws, "web_inputs")

    run = exp.submit(pipeline)
    assert run.wait_for_completion(show_output=False) == "Finished"
    (step,) = run.get_steps()
    assert step.get_metrics() == {"rows": 3, "header": "PassengerId,Survived,Name", "again": 3}
    assert "table id " in step.get_stdout_log()
    assert corporate.site.tunnels  # every fetch went through the proxy

    rerun = exp.submit(pipeline)
    assert rerun.wait_for_completion(show_output=False) == "Finished"
    assert rerun.get_steps()[0].get_status() == "Reused"

    corporate.site.put("/demo/Titanic.csv", TITANIC + b"4,0,Dee\n")
    changed = exp.submit(pipeline)
    assert changed.wait_for_completion(show_output=False) == "Finished"
    (step,) = changed.get_steps()
    assert step.get_metrics()["rows"] == 4
    reason = step.record["run_reason"]
    assert "Titanic.csv" in reason and "ETag" in reason

    iris = corporate.proxied_url("/iris/iris.csv")
    other = exp.submit(
        pipeline,
        pipeline_parameters={
            "file_ds_param": Dataset.File.from_files(iris),
            "tabular_ds_param": Dataset.Tabular.from_delimited_files(iris),
        },
    )
    assert other.wait_for_completion(show_output=False) == "Finished"
    assert other.get_steps()[0].get_metrics()["header"] == "sepal,species"
    # a dataset a run was submitted with keeps its id, as v1 saved it (REST bodies name it by id)
    assert Dataset.get_by_id(ws, Dataset.File.from_files(iris).id).to_path() == ["/iris.csv"]


def test_partitioned_filtered_input_and_an_empty_datapath(embedded_airflow_home, workspace_dir):
    ws = Workspace.from_config(workspace_dir)
    store = ws.get_default_datastore()
    for user, amount in (("alice", 3), ("bob", 4), ("carol", 5)):
        write(Path(store.root) / "events" / user / "2024" / "e.csv", f"amount\n{amount}\n{amount}\n")
    events = Dataset.Tabular.from_delimited_files(
        (store, "events"), partition_format="/{userid}/{year}/*.csv"
    )
    chosen = events.filter(events["userid"] != "bob")
    empty = (PipelineParameter("drop", DataPath(store, "not_uploaded_yet")), DataPathComputeBinding())
    write(workspace_dir / "steps" / "read_events.py", READ_EVENTS)
    step = PythonScriptStep(
        "read_events.py",
        name="read_events",
        source_directory=str(workspace_dir / "steps"),
        arguments=["--empty", empty],
        inputs=[chosen.as_named_input("events"), empty],
    )
    run = Experiment(ws, "partitioned_inputs").submit(Pipeline(ws, [step]))
    assert run.wait_for_completion(show_output=False) == "Finished"
    metrics = run.get_steps()[0].get_metrics()
    assert metrics == {"users": "alice,carol", "total": 16, "empty_listing": 0}
