"""The v1 run API on real runs through the embedded Airflow: child step runs, their outputs
(StepRunOutput -> PortDataReference), files, logs and details, a run found again by id, and a
pipeline published from a run."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_azml.core import Experiment, Workspace
from airflow_azml.exceptions import ActivityFailedException, UserErrorException
from airflow_azml.pipeline.core import Pipeline, PipelineData, PipelineRun, PublishedPipeline
from airflow_azml.pipeline.core.run_outputs import OutputNotFoundError, StepRunOutput
from airflow_azml.pipeline.steps import PythonScriptStep
from tests.conftest import write

PREP = """
import os, sys, tempfile
from airflow_azml.core import Run
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
open(os.path.join(out, "rows.csv"), "w").write("a,b\\n1,2\\n")
run = Run.get_context()
summary = os.path.join(tempfile.mkdtemp(), "summary.txt")
open(summary, "w").write("2 rows\\n")
run.upload_file("outputs/summary.txt", summary)
print("prepared 2 rows")
print("a warning on stderr", file=sys.stderr)
"""

TRAIN = """
import os, sys
rows = open(os.path.join(sys.argv[1], "rows.csv")).read().splitlines()
if os.environ.get("AML_PARAMETER_fail") == "yes":
    raise RuntimeError("training blew up on %d rows" % len(rows))
os.makedirs(sys.argv[2], exist_ok=True)
open(os.path.join(sys.argv[2], "model.txt"), "w").write("rows=%d\\n" % len(rows))
print("trained")
"""


def _pipeline(workspace_dir: Path, fail: bool) -> tuple[Workspace, Pipeline]:
    ws = Workspace.from_config(workspace_dir)
    src = workspace_dir / "steps"
    write(src / "prep.py", PREP)
    write(src / "train.py", TRAIN)
    prepared = PipelineData("prepared", datastore=ws.get_default_datastore())
    model = PipelineData("model", pipeline_output_name="trained_model")
    _prep = PythonScriptStep(  # pulled in through its output
        "prep.py", name="prep", source_directory=str(src), arguments=[prepared], outputs=[prepared]
    )
    train = PythonScriptStep(
        "train.py",
        source_directory=str(src),
        arguments=[prepared, model],
        inputs=[prepared],
        outputs=[model],
        params={"fail": "yes" if fail else "no"},
        allow_reuse=False,
    )
    return ws, Pipeline(ws, [train])


@pytest.mark.slow
def test_finished_run_children_outputs_files_details_and_publish(
    embedded_airflow_home, workspace_dir, tmp_path, capsys
):
    ws, pipeline = _pipeline(workspace_dir, fail=False)
    run = Experiment(ws, "run_api").submit(pipeline)
    assert run.wait_for_completion(show_output=False) == "Finished"

    children = run.get_children()
    assert [(s.name, s.get_status()) for s in children] == [("prep", "Finished"), ("train.py", "Finished")]
    prep, train = children

    outputs = prep.get_outputs()
    assert list(outputs) == ["prepared"] and isinstance(outputs["prepared"], StepRunOutput)
    ref = outputs["prepared"].get_port_data_reference()
    assert ref.datastore_name == "workspaceblobstore"
    assert ref.path_on_datastore.startswith("azureml/") and ref.path_on_datastore.endswith("/prepared")
    local = Path(prep.get_output("prepared").get_port_data_reference().download(str(tmp_path / "dl")))
    assert local == tmp_path / "dl" / ref.path_on_datastore
    assert (local / "rows.csv").read_text() == "a,b\n1,2\n"
    assert ref.data_reference.path_on_datastore == ref.path_on_datastore
    assert ref.as_download("again").data_reference_name == "again"

    # v1 looks outputs up among the step's declared outputs, by the PipelineData's name
    found = run.find_step_run("train.py")
    assert len(found) == 1
    model = found[0].get_output_data("model")
    assert Path(model.download(str(tmp_path / "m")), "model.txt").read_text() == "rows=2\n"
    assert run.get_pipeline_output("trained_model").path_on_datastore == model.path_on_datastore
    with pytest.raises(KeyError) as err:
        train.get_output_data("modle")
    assert isinstance(err.value, OutputNotFoundError)
    assert "has no output named 'modle'" in str(err.value) and "Did you mean 'model'" in str(err.value)

    # files: what the script uploaded and its logs
    names = prep.get_file_names()
    assert {"outputs/summary.txt", "logs/stdout.txt", "logs/stderr.txt", "logs/job_log.txt"} <= set(names)
    assert names == sorted(names)
    one = prep.download_file("outputs/summary.txt", str(tmp_path / "one.txt"))
    assert Path(one).read_text() == "2 rows\n"
    (tmp_path / "into").mkdir()
    assert (
        Path(prep.download_file("outputs/summary.txt", str(tmp_path / "into")))
        == tmp_path / "into" / "summary.txt"
    )
    kept = prep.download_files(prefix="outputs", output_directory=str(tmp_path / "all"))
    assert kept == [str(tmp_path / "all" / "outputs" / "summary.txt")]
    bare = prep.download_files(
        prefix="outputs/", output_directory=str(tmp_path / "bare"), append_prefix=False
    )
    assert bare == [str(tmp_path / "bare" / "summary.txt")]
    with pytest.raises(UserErrorException, match="has no file 'outputs/sumary.txt'"):
        prep.download_file("outputs/sumary.txt")

    details = prep.get_details()
    assert details["runId"] == prep.id and details["status"] == "Finished"
    assert details["startTimeUtc"].endswith("Z") and details["endTimeUtc"] >= details["startTimeUtc"]
    assert details["properties"]["azureml.pipelinerunid"] == run.id
    assert details["outputDatasets"]["prepared"]["path"] == ref.path_on_datastore
    assert {"logs/stdout.txt", "logs/stderr.txt"} <= set(details["logFiles"])
    with_logs = prep.get_details_with_logs()
    assert "prepared 2 rows" in with_logs["logFiles"]["logs/stdout.txt"]
    assert "a warning on stderr" in with_logs["logFiles"]["STDERR"]
    assert prep.get_stdout_log() == with_logs["logFiles"]["STDOUT"]
    assert "INFO Running step prep: " in prep.get_job_log()  # the worker's side: why it ran, and so on
    assert run.get_details()["status"] == "Finished" and "error" not in run.get_details()
    capsys.readouterr()
    assert prep.wait_for_completion() == "Finished"
    assert "StepRun(prep) Status: Finished" in capsys.readouterr().out

    # the same run, found again from its id alone (as a later process or a REST client would)
    again = PipelineRun(Experiment(ws, "run_api"), run.id)
    assert again.get_status() == "Finished"
    assert [s.name for s in again.get_children()] == ["prep", "train.py"]
    assert (
        again.find_step_run("prep")[0].get_output_data("prepared").path_on_datastore == ref.path_on_datastore
    )

    published = run.publish_pipeline(name="from_run", description="published from a run", version="1")
    assert (published.id, published.version, published.description) == (
        "from_run-v1",
        "1",
        "published from a run",
    )
    stored = PublishedPipeline.get(ws, "from_run-v1").plan
    assert stored["dag_id"] == "from_run-v1" and list(stored["steps"]) == list(run._plan["steps"])

    # a reused step shows the files and script output of the run it reused
    second = Experiment(ws, "run_api").submit(pipeline)
    assert second.wait_for_completion(show_output=False) == "Finished"
    reused = second.find_step_run("prep")[0]
    assert reused.get_status() == "Reused"
    assert "outputs/summary.txt" in reused.get_file_names()
    assert (
        Path(reused.download_file("outputs/summary.txt", str(tmp_path / "reused.txt"))).read_text()
        == "2 rows\n"
    )
    assert reused.get_stdout_log() == prep.get_stdout_log()
    assert f"Reused: step prep of run {run.id}" in reused.get_job_log()
    assert reused.get_output_data("prepared").path_on_datastore == ref.path_on_datastore


@pytest.mark.slow
def test_failed_step_says_why_it_has_no_output(embedded_airflow_home, workspace_dir, tmp_path):
    ws, pipeline = _pipeline(workspace_dir, fail=True)
    run = Experiment(ws, "run_api_fail").submit(pipeline)
    assert run.wait_for_completion(show_output=False, raise_on_error=False) == "Failed"
    train = run.find_step_run("train.py")[0]
    assert train.get_status() == "Failed"
    output = train.get_output("model")  # declared, so known, though never produced
    ref = output.get_port_data_reference()  # where it would have been, as v1 knows it beforehand
    assert ref.datastore_name == "workspaceblobstore"
    assert ref.path_on_datastore.startswith("azureml/") and ref.path_on_datastore.endswith("/model")
    assert list(train.get_outputs()) == ["model"]
    with pytest.raises(UserErrorException) as err:
        ref.download(str(tmp_path / "dl"))
    text = str(err.value)
    assert "has no data for its output 'model' yet" in text and "the step is Failed" in text
    assert "training blew up on 2 rows" in text
    assert not (tmp_path / "dl").exists()
    details = train.get_details()
    assert "training blew up" in details["error"]["error"]["message"]
    assert "training blew up" in run.get_details()["error"]["error"]["message"]
    assert "RuntimeError: training blew up" in train.get_details_with_logs()["logFiles"]["STDERR"]
    assert "ERROR Step train.py failed: " in train.get_job_log()


def test_run_id_that_never_ran_is_refused(workspace_dir):
    ws = Workspace.from_config(workspace_dir)
    with pytest.raises(UserErrorException, match="No run 'manual__nope' of experiment 'ghost'"):
        PipelineRun(Experiment(ws, "ghost"), "manual__nope")


def test_run_known_only_by_its_records(workspace_dir):
    """A run of a scheduler or another machine (no status file here) is followed through the run
    records its steps wrote on the default datastore."""
    from airflow_azml.execution.records import RunRecords

    ws = Workspace.from_config(workspace_dir)
    records = RunRecords(
        ws.get_default_datastore().store, "elsewhere", "scheduled__2026-01-01T00:00:00+00:00"
    )
    records.write_step("prep", {"name": "prep", "task_id": "prep", "status": "Finished", "outputs": {}})
    records.write_step("train", {"name": "train", "task_id": "train", "status": "Running", "outputs": {}})
    run = PipelineRun(Experiment(ws, "elsewhere"), records.run_id)
    assert run.get_status() == "Running"
    assert [(s.name, s.get_status()) for s in run.get_children()] == [
        ("prep", "Finished"),
        ("train", "Running"),
    ]
    train = run.get_children()[1]
    records.write_step("train", {"name": "train", "task_id": "train", "status": "Failed", "error": "boom"})
    assert train.get_status() == "Running", "a StepRun is what was read; waiting reads it again"
    assert train.wait_for_completion(show_output=False, raise_on_error=False) == "Failed"
    with pytest.raises(ActivityFailedException, match="boom"):
        train.wait_for_completion(show_output=False)
    assert run.get_status() == "Failed"
    assert "boom" in run.get_details()["error"]["error"]["message"]
    with pytest.raises(UserErrorException, match="was started by another process"):
        run.cancel()
