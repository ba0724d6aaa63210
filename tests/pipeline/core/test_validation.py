"""Bad pipelines are refused when built, with messages that name the step/data and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_azml.core import Dataset, Workspace
from airflow_azml.data import DataPath, DataPathComputeBinding, OutputFileDatasetConfig
from airflow_azml.exceptions import PipelineValidationError, UserErrorException
from airflow_azml.pipeline.core import Pipeline, PipelineData, PipelineParameter, StepSequence
from airflow_azml.pipeline.steps import PythonScriptStep
from tests.conftest import write


@pytest.fixture
def ws(workspace_dir: Path) -> Workspace:
    write(workspace_dir / "src" / "a.py", "print('a')\n")
    return Workspace.from_config(workspace_dir)


def step(name: str, ws_dir: Path, **kw) -> PythonScriptStep:
    return PythonScriptStep("a.py", name=name, source_directory=str(ws_dir / "src"), **kw)


def test_two_producers_of_one_pipeline_data(ws, workspace_dir):
    data = PipelineData("shared")
    a = step("a", workspace_dir, outputs=[data])
    b = step("b", workspace_dir, outputs=[data])
    with pytest.raises(PipelineValidationError) as err:
        Pipeline(ws, [a, b])
    assert err.value.problems == [
        "Data 'shared' is an output of 2 steps (a, b); each PipelineData/OutputFileDatasetConfig must have "
        "exactly one producer."
    ]


def test_data_in_arguments_but_not_declared(workspace_dir, ws):
    data = PipelineData("processed")
    with pytest.raises(
        UserErrorException,
        match=r"Step 'prep': \$AZUREML_DATAREFERENCE_processed is used in "
        r"arguments but is not declared in the step's inputs or outputs",
    ):
        step("prep", workspace_dir, arguments=["--out", data])


def test_raw_dataset_in_arguments_needs_a_name(workspace_dir, ws):
    raw = Dataset.File.from_files(path=[(ws.get_default_datastore(), "raw/")])
    with pytest.raises(UserErrorException, match=r"as_named_input\('name'\)"):
        step("prep", workspace_dir, arguments=["--in", raw])


@pytest.mark.parametrize("bad", ["has space", "dash-name", "dot.name", ""])
def test_invalid_data_names(bad):
    with pytest.raises(UserErrorException, match="use only letters, digits and underscores"):
        PipelineData(bad)


def test_empty_string_parameter_default():
    with pytest.raises(UserErrorException, match="empty-string default"):
        PipelineParameter("p", "")


def test_missing_script_and_unknown_compute_are_listed_together(ws, workspace_dir):
    missing = PythonScriptStep(
        "nope.py", name="train", source_directory=str(workspace_dir / "src"), compute_target="gpu-cluster"
    )
    with pytest.raises(PipelineValidationError) as err:
        Pipeline(ws, [missing])
    problems = err.value.problems
    assert len(problems) == 2
    assert problems[0].startswith("Step 'train': unknown compute target 'gpu-cluster'.")
    assert "Known targets: local, cpu." in problems[0]
    assert problems[1].startswith("Step 'train': script 'nope.py' not found in source_directory")


def test_did_you_mean_for_compute_target(ws, workspace_dir):
    with pytest.raises(PipelineValidationError, match="Did you mean 'cpu'"):
        Pipeline(ws, [step("a", workspace_dir, compute_target="cpuu")])


def test_cycle_names_the_steps(ws, workspace_dir):
    a, b = step("a", workspace_dir), step("b", workspace_dir)
    pipeline = Pipeline(ws, [a, b])
    assert pipeline.validate() == []
    a.run_after(b)
    b.run_after(a)
    problems = pipeline.validate()
    assert len(problems) == 1
    assert problems[0].startswith("The steps form a cycle: ")
    assert "a" in problems[0] and "b" in problems[0]


def test_duplicate_step_names(ws, workspace_dir):
    with pytest.raises(PipelineValidationError, match=r"Steps \['x'\] share the task id 'x'"):
        Pipeline(ws, [step("x", workspace_dir), step("x", workspace_dir)])


def test_consumer_of_data_nobody_produces(ws, workspace_dir):
    orphan = PipelineData("orphan")
    with pytest.raises(PipelineValidationError, match="reads 'orphan', which no step produces"):
        Pipeline(ws, [step("c", workspace_dir, inputs=[orphan])])


def test_same_parameter_name_two_defaults(ws, workspace_dir):
    a = step("a", workspace_dir, arguments=[PipelineParameter("n", 1)])
    b = step("b", workspace_dir, arguments=[PipelineParameter("n", 2)])
    with pytest.raises(PipelineValidationError, match="'n' is defined twice with different defaults"):
        Pipeline(ws, [a, b])


def test_datapath_input_must_have_a_binding(ws, workspace_dir):
    param = PipelineParameter("path", DataPath(ws.get_default_datastore(), "raw"))
    with pytest.raises(UserErrorException, match="DataPathComputeBinding"):
        step("a", workspace_dir, inputs=[(param, "mount")])
    ok = step(
        "b",
        workspace_dir,
        inputs=[(param, DataPathComputeBinding())],
        arguments=[(param, DataPathComputeBinding())],
    )
    assert ok._args == [{"$input": "path"}]


def test_output_dataset_in_arguments_is_added_to_outputs(ws, workspace_dir):
    out = OutputFileDatasetConfig(name="features")
    s = step("a", workspace_dir, arguments=["--out", out])
    assert [o.name for o in s.outputs] == ["features"]
    assert s._args == ["--out", {"$output": "features"}]


def test_named_dataset_in_arguments_is_added_to_inputs(ws, workspace_dir):
    raw = Dataset.File.from_files(path=[(ws.get_default_datastore(), "raw/")])
    s = step("a", workspace_dir, arguments=["--in", raw.as_named_input("raw").as_mount()])
    assert [(i.name, i.source, i.mode) for i in s.inputs] == [("raw", "dataset", "mount")]


def test_step_sequence_orders_groups(ws, workspace_dir):
    a, b, c, d = (step(n, workspace_dir) for n in "abcd")
    pipeline = Pipeline(ws, StepSequence(steps=[a, [b, c], d]))
    assert pipeline.upstream() == {"a": [], "b": ["a"], "c": ["a"], "d": ["a", "b", "c"]}


def test_upstream_steps_are_pulled_in(ws, workspace_dir):
    first = PipelineData("first")
    _a = step("a", workspace_dir, outputs=[first])
    b = step("b", workspace_dir, inputs=[first])
    assert sorted(s.name for s in Pipeline(ws, [b]).steps) == ["a", "b"]
