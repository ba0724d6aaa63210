"""NotebookRunnerStep (azureml.contrib.notebook): a notebook run by papermill as a pipeline step."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from airflow_azml.compiler import compile_pipeline
from airflow_azml.contrib.notebook import (
    AzureMLNotebookHandler,
    NotebookRunConfig,
    NotebookRunnerStep,
    PapermillExecutionHandler,
)
from airflow_azml.core import Experiment, Workspace
from airflow_azml.exceptions import PipelineValidationError, UserErrorException
from airflow_azml.pipeline.core import Pipeline, PipelineData, PipelineParameter
from airflow_azml.pipeline.steps import PythonScriptStep
from airflow_azml.runtime.notebook import notebook_text
from tests.conftest import write

PREP = """
import argparse, os
p = argparse.ArgumentParser(); p.add_argument("--out"); a = p.parse_args()
os.makedirs(a.out, exist_ok=True)
open(os.path.join(a.out, "rows.txt"), "w").write("1\\n2\\n3\\n")
"""

PARAMS_CELL = """arg1 = "Azure"
processed_data = None
notebook_processed_data = None
my_pipeline_param = None
"""

BODY = """import os, scrapbook as sb
from airflow_azml.core import Run
rows = open(os.path.join(processed_data, "rows.txt")).read().split()
run = Run.get_context()
run.log("rows", len(rows))
run.log("param_type", type(my_pipeline_param).__name__)
sb.glue("total", sum(map(int, rows)) * my_pipeline_param)
sb.glue("history", [1, 2, 3])
os.makedirs(notebook_processed_data, exist_ok=True)
open(os.path.join(notebook_processed_data, "out.txt"), "w").write(arg1)
print("arg1 is", arg1, "env", os.environ.get("AML_PARAMETER_my_pipeline_param"))
"""


def _notebook(path: Path, *cells: str, params: str = PARAMS_CELL) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(params, metadata={"tags": ["parameters"]})]
    nb.cells += [nbformat.v4.new_code_cell(c) for c in cells]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


def _config(folder: Path, **kw) -> NotebookRunConfig:
    handler = AzureMLNotebookHandler(timeout=120, progress_bar=False, log_output=True)
    return NotebookRunConfig(
        source_directory=str(folder), notebook="train.ipynb", handler=handler, parameters={"arg1": "ML"}, **kw
    )


def test_config_and_handler_checks(tmp_path):
    cfg = NotebookRunConfig(source_directory=str(tmp_path), notebook="nb/train.ipynb")
    assert cfg.output_notebook == "nb/train.output.ipynb"  # v1's default name
    assert cfg.handler.to_spec()["history"] is True
    assert PapermillExecutionHandler(timeout=5).to_spec()["timeout"] == 5.0
    with pytest.raises(UserErrorException, match="not a Jupyter notebook"):
        NotebookRunConfig(str(tmp_path), "train.py")
    with pytest.raises(UserErrorException, match="inside source_directory"):
        NotebookRunConfig(str(tmp_path), "train.ipynb", output_notebook="../out.ipynb")
    with pytest.raises(UserErrorException, match="parameters must be JSON values"):
        NotebookRunConfig(str(tmp_path), "train.ipynb", parameters={"x": object()})
    with pytest.raises(UserErrorException, match="timeout must be a positive number"):
        AzureMLNotebookHandler(timeout=-1)
    with pytest.raises(UserErrorException, match="needs notebook_run_config"):
        NotebookRunnerStep(name="nb")


def test_plan_carries_notebook_parameters(workspace_dir):
    ws = Workspace.from_config(workspace_dir)
    _notebook(workspace_dir / "nb" / "train.ipynb", "pass")
    processed, out = PipelineData("processed_data"), PipelineData("notebook_processed_data")
    step = NotebookRunnerStep(
        name="training_notebook_step",
        notebook_run_config=_config(workspace_dir / "nb"),
        params={"my_pipeline_param": PipelineParameter("pipeline_param", 4), "fixed": "x"},
        inputs=[processed],
        outputs=[out],
        compute_target="cpu",
        output_notebook_pipeline_data_name="notebook_result",
    )
    prep = PythonScriptStep(
        "prep.py", arguments=["--out", processed], outputs=[processed], source_directory=str(workspace_dir)
    )
    write(workspace_dir / "prep.py", PREP)
    plan = compile_pipeline(Pipeline(ws, [prep, step]), "nb_plan")["steps"]["training_notebook_step"]
    assert plan["script_name"] == "train.ipynb" and plan["kind"] == "python_script"
    assert [o["name"] for o in plan["outputs"]] == ["notebook_processed_data", "notebook_result"]
    assert plan["outputs"][1]["pipeline_output_name"] == "notebook_result"
    args = plan["arguments"]
    assert args[args.index("--azml-output-dir") + 1] == {"$output": "notebook_result"}
    assert json.loads(args[args.index("--azml-parameters") + 1]) == {"arg1": "ML", "fixed": "x"}
    assert ["--azml-param", "processed_data", "path", {"$input": "processed_data"}] == args[-12:-8]
    assert ["--azml-param", "my_pipeline_param", "int", {"$param": "pipeline_param"}] == args[-4:]
    assert plan["params"]["my_pipeline_param"] == {"$param": "pipeline_param"}
    assert plan["notebook"]["output_notebook"] == "train.output.ipynb"


def test_missing_notebook_fails_when_the_pipeline_is_built(workspace_dir):
    ws = Workspace.from_config(workspace_dir)
    step = NotebookRunnerStep(name="nb", notebook_run_config=_config(workspace_dir / "nowhere"))
    with pytest.raises(PipelineValidationError, match="script 'train.ipynb' not found"):
        Pipeline(ws, [step])


def test_notebook_modules_do_not_import_airflow():
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'airflow' or name.startswith('airflow.'): raise ImportError(name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "from airflow_azml.contrib.notebook import NotebookRunnerStep, NotebookRunConfig\n"
        "import airflow_azml.runtime.notebook, airflow_azml.runtime.launch\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('airflow', 'papermill', 'pandas')))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


@pytest.mark.slow
def test_notebook_step_runs_through_airflow(embedded_airflow_home, workspace_dir, azml_home):
    ws = Workspace.from_config(workspace_dir)
    write(workspace_dir / "prep" / "prep.py", PREP)
    _notebook(workspace_dir / "nb" / "train.ipynb", BODY)
    processed, out = (
        PipelineData("processed_data", is_directory=True),
        PipelineData("notebook_processed_data"),
    )
    prep = PythonScriptStep(
        "prep.py",
        arguments=["--out", processed],
        outputs=[processed],
        source_directory=str(workspace_dir / "prep"),
    )
    step = NotebookRunnerStep(
        name="training_notebook_step",
        notebook_run_config=_config(workspace_dir / "nb"),
        params={"my_pipeline_param": PipelineParameter("pipeline_param", 4)},
        inputs=[processed],
        outputs=[out],
        output_notebook_pipeline_data_name="notebook_result",
    )
    run = Experiment(ws, "nb_steps").submit(
        Pipeline(ws, [prep, step]), pipeline_parameters={"pipeline_param": 10}
    )
    assert run.wait_for_completion(show_output=False) == "Finished"
    step_run = run.find_step_run("training_notebook_step")[0]
    metrics = step_run.get_metrics()
    assert metrics["rows"] == 3 and metrics["param_type"] == "int"
    assert metrics["total"] == 60 and metrics["history"] == [1, 2, 3]  # glued with scrapbook
    got = Path(step_run.get_output_data("notebook_result").download(str(workspace_dir / "got")))
    executed = got / "train.output.ipynb" if got.is_dir() else got
    text = notebook_text(executed)
    assert "my_pipeline_param = 10" in text and 'arg1 = "ML"' in text  # papermill's injected parameters
    assert "arg1 is ML env 10" in text
    data = Path(step_run.get_output_data("notebook_processed_data").download(str(workspace_dir / "data")))
    assert (data / "out.txt").read_text() == "ML"
    assert "==== executed notebook train.output.ipynb ====" in step_run.get_stdout_log()


@pytest.mark.slow
def test_failing_notebook_keeps_its_output_with_compat(embedded_airflow_home, workspace_dir, azml_home):
    from airflow_azml import compat
    from airflow_azml.execution.records import RunRecords

    compat.enable()
    try:
        ws = Workspace.from_config(workspace_dir)
        _notebook(
            workspace_dir / "nb" / "train.ipynb",
            "from azureml.core import Run\nRun.get_context().log('before', 1)",
            "raise ValueError('broken cell')",
            params="arg1 = 'x'",
        )
        step = NotebookRunnerStep(name="nb", notebook_run_config=_config(workspace_dir / "nb"))
        run = Experiment(ws, "nb_fail").submit(Pipeline(ws, [step]))
        assert run.wait_for_completion(show_output=False, raise_on_error=False) == "Failed"
    finally:
        compat.disable()
    step_run = run.find_step_run("nb")[0]
    metrics = step_run.get_metrics()  # logged through azureml.core in the kernel (compat on there too)
    assert metrics["before"] == 1
    assert metrics["outputs/train.output.ipynb"]["kind"] == "file"  # the executed notebook, a run file
    assert "ValueError: broken cell" in step_run.get_stdout_log()
    records = RunRecords(ws.get_default_datastore().store, "nb_fail", run.id)
    saved = records.read_text(f"{records.prefix}/nb/files/outputs/train.output.ipynb")
    assert "broken cell" in saved
