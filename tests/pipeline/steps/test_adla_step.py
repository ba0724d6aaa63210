"""AdlaStep as built: v1 signature, build-time checks of the script, and its plan."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_azml.compiler import compile_pipeline
from airflow_azml.core import Workspace
from airflow_azml.core.compute import AdlaCompute, ComputeTarget
from airflow_azml.data.data_reference import DataReference
from airflow_azml.exceptions import PipelineValidationError, UserErrorException
from airflow_azml.pipeline.core import Pipeline, PipelineData, PipelineParameter
from airflow_azml.pipeline.steps import AdlaStep
from airflow_azml.pipeline.steps.adla_step import priority_weight
from tests.conftest import write
from tests.support.samples import V1_ADLA_SAMPLE

SAMPLE = V1_ADLA_SAMPLE


@pytest.fixture
def ws(workspace_dir: Path) -> Workspace:
    return Workspace.from_config(workspace_dir)


def sample_step(ws: Workspace, folder: Path, script: str = SAMPLE, **kw) -> AdlaStep:
    write(folder / "sample_script.usql", script)
    data = DataReference(
        ws.get_default_datastore(),
        data_reference_name="script_input",
        path_on_datastore="adla_sample/sample_input.csv",
    )
    kw.setdefault("inputs", [data])
    kw.setdefault("outputs", [PipelineData("script_output", datastore=ws.get_default_datastore())])
    return AdlaStep(
        script_name="sample_script.usql", name="extract_employee_names", source_directory=str(folder), **kw
    )


def test_plan_carries_script_params_parallelism_and_priority(ws, workspace_dir):
    param = PipelineParameter("min_count", default_value=3)
    step = sample_step(
        ws,
        workspace_dir / "sql",
        params={"limit": 5, "min": param},
        degree_of_parallelism=2,
        priority=10,
        runtime_version="1.0",
    )
    plan = compile_pipeline(Pipeline(ws, [step]), "adla_plan")
    spec = plan["steps"]["extract_employee_names"]
    assert spec["operator"] == "airflow_azml.provider.operators.adla.AdlaStepOperator"
    assert spec["kind"] == "adla"
    assert spec["script_name"] == "sample_script.usql"
    assert spec["params"] == {"limit": 5, "min": {"$param": "min_count"}}
    assert (spec["degree_of_parallelism"], spec["priority"], spec["runtime_version"]) == (2, 10, "1.0")
    assert plan["parameters"]["min_count"]["default"] == 3
    assert [i["name"] for i in spec["inputs"]] == ["script_input"]
    assert [o["name"] for o in spec["outputs"]] == ["script_output"]


def test_name_defaults_to_script_name(ws, workspace_dir):
    write(workspace_dir / "s" / "q.sql", "SELECT 1;")
    assert AdlaStep("q.sql", source_directory=str(workspace_dir / "s")).name == "q.sql"


def test_missing_placeholder_is_refused_at_build_time(ws, workspace_dir):
    script = SAMPLE.replace("@@script_output@@", "@@script_outptu@@")
    step = sample_step(ws, workspace_dir / "sql", script=script)
    with pytest.raises(PipelineValidationError) as err:
        Pipeline(ws, [step])
    (problem,) = err.value.problems
    assert "Step 'extract_employee_names'" in problem
    assert "@@script_outptu@@ (did you mean @@script_output@@?)" in problem
    assert "Known names: script_input, script_output" in problem


def test_usql_outside_the_subset_is_refused_at_build_time_naming_construct_and_line(ws, workspace_dir):
    script = SAMPLE.replace(
        "USING Extractors.Csv(skipFirstLine: true)", "USING new MyNamespace.MyExtractor()"
    )
    step = sample_step(ws, workspace_dir / "sql", script=script)
    with pytest.raises(PipelineValidationError) as err:
        Pipeline(ws, [step])
    (problem,) = err.value.problems
    assert "U-SQL construct 'USING new MyNamespace' at line 4 is not supported" in problem


def test_missing_script_is_refused_at_build_time(ws, workspace_dir):
    (workspace_dir / "empty").mkdir()
    step = AdlaStep("nothere.usql", name="x", source_directory=str(workspace_dir / "empty"))
    with pytest.raises(PipelineValidationError, match="script 'nothere.usql' not found"):
        Pipeline(ws, [step])


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"degree_of_parallelism": 0}, "degree_of_parallelism must be a positive int, got 0"),
        ({"priority": -1}, "priority must be a positive int, got -1"),
        ({"params": {"x": [1]}}, "params['x'] = [1]"),
    ],
)
def test_bad_arguments_are_refused(ws, workspace_dir, kw, message):
    with pytest.raises(UserErrorException, match=message.replace("[", r"\[").replace("]", r"\]")):
        sample_step(ws, workspace_dir / "sql", **kw)


def test_priority_becomes_airflow_priority_weight():
    assert priority_weight(1) == 1000
    assert priority_weight(1000) == 1
    assert priority_weight(5000) == 1
    assert priority_weight(900) > priority_weight(950)


def test_compute_target_must_be_adla(ws, workspace_dir):
    step = sample_step(ws, workspace_dir / "sql", compute_target="cpu")
    with pytest.raises(PipelineValidationError, match="compute target 'cpu' is of type 'AmlCompute'"):
        Pipeline(ws, [step])


def test_attached_adla_compute_is_accepted(ws, workspace_dir):
    target = ComputeTarget.attach(ws, "pg_sql", AdlaCompute.attach_configuration(conn_id="my_pg"))
    step = sample_step(ws, workspace_dir / "sql", compute_target=target)
    plan = compile_pipeline(Pipeline(ws, [step]), "adla_attach")
    assert plan["workspace"]["config"]["compute_targets"]["pg_sql"] == {
        "conn_id": "my_pg",
        "type": "ADLAnalytics",
    }
    assert plan["steps"]["extract_employee_names"]["compute_target"] == "pg_sql"
