"""ParallelRunStep / ParallelRunConfig: v1's surface and its checks, made when the pipeline is built."""

from __future__ import annotations

import pytest

from airflow_azml.compiler import compile_pipeline
from airflow_azml.core import Dataset, Environment, Workspace
from airflow_azml.exceptions import UserErrorException
from airflow_azml.pipeline.core import Pipeline, PipelineData, PipelineParameter
from airflow_azml.pipeline.steps import ParallelRunConfig, ParallelRunStep
from airflow_azml.pipeline.steps.parallel_run_step import parse_size
from tests.conftest import write


def _config(folder, **changes):
    args = dict(
        environment=Environment("batch"),
        entry_script="score.py",
        error_threshold=5,
        output_action="append_row",
        compute_target="cpu",
        node_count=1,
        source_directory=str(folder),
    )
    args.update(changes)
    return ParallelRunConfig(**args)


@pytest.fixture
def ws(workspace_dir):
    write(
        workspace_dir / "score.py", "def init():\n    pass\n\ndef run(mini_batch):\n    return mini_batch\n"
    )
    store = Workspace.from_config(workspace_dir).get_default_datastore()
    write(store.store.local_path("files/a.txt"), "a")
    write(store.store.local_path("rows/part.csv"), "x,y\n1,2\n")
    write(store.store.local_path("parts/u1/s1/a.wav"), "w")
    return Workspace.from_config(workspace_dir)


def _files(ws):
    return Dataset.File.from_files(path=(ws.get_default_datastore(), "files/*.txt"))


def _rows(ws):
    return Dataset.Tabular.from_delimited_files(path=(ws.get_default_datastore(), "rows/*.csv"))


def test_plan_of_a_file_step_with_parameters(ws, workspace_dir):
    size = PipelineParameter("batch_size_param", default_value="5")
    procs = PipelineParameter("process_count_param", default_value=2)
    cfg = _config(
        workspace_dir, mini_batch_size=size, process_count_per_node=procs, append_row_file_name="o.txt"
    )
    out = PipelineData("inferences", datastore=ws.get_default_datastore())
    step = ParallelRunStep(
        name="predict-digits",
        parallel_run_config=cfg,
        inputs=[_files(ws).as_named_input("images").as_mount()],
        output=out,
        side_inputs=[_rows(ws).as_named_input("lookup")],
        arguments=["--model_name", "m"],
        allow_reuse=False,
    )
    plan = compile_pipeline(Pipeline(ws, [step]), "prs")
    spec = plan["steps"]["predict-digits"]
    assert spec["kind"] == "parallel_run"
    assert spec["operator"] == "airflow_azml.provider.operators.parallel_run.ParallelRunStepOperator"
    assert spec["script_name"] == "score.py"
    assert [i["name"] for i in spec["inputs"]] == ["images", "lookup"]
    par = spec["parallel"]
    assert par["inputs"] == ["images"] and par["side_inputs"] == ["lookup"]
    assert par["input_kind"] == "file"
    assert par["mini_batch_size"] == {"$param": "batch_size_param"}
    assert par["process_count_per_node"] == {"$param": "process_count_param"}
    assert par["append_row_file_name"] == "o.txt" and par["run_max_try"] == 3
    assert set(plan["parameters"]) == {"batch_size_param", "process_count_param"}
    assert spec["arguments"] == ["--model_name", "m"] and spec["allow_reuse"] is False


def test_default_append_row_file_and_contrib_path(ws, workspace_dir):
    from airflow_azml.contrib.pipeline.steps import ParallelRunConfig as ContribConfig
    from airflow_azml.pipeline.steps.parallel_run_config import ParallelRunConfig as ModuleConfig

    assert ContribConfig is ParallelRunConfig is ModuleConfig
    step = ParallelRunStep(
        "iris", _config(workspace_dir, mini_batch_size="1KB"), [_rows(ws).as_named_input("iris")]
    )
    spec = compile_pipeline(Pipeline(ws, [step]), "prs")["steps"]["iris"]
    assert spec["parallel"]["append_row_file_name"] == "parallel_run_step.txt"
    assert spec["parallel"]["input_kind"] == "tabular"


@pytest.mark.parametrize(
    ("name", "hint"),
    [
        ("ab", "3 to 32"),
        ("Predict", "e.g. 'predict'"),
        ("a_b_c", "e.g. 'a-b-c'"),
        ("x" * 33, "3 to 32"),
        ("1abc", "starting"),
    ],
)
def test_step_name_rules(ws, workspace_dir, name, hint):
    with pytest.raises(UserErrorException, match="ParallelRunStep name") as err:
        ParallelRunStep(name, _config(workspace_dir), [_files(ws).as_named_input("f")])
    assert hint in str(err.value)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"error_threshold": -2}, "error_threshold must be an int >= -1"),
        ({"output_action": "append_rows"}, "'append_row'"),
        ({"node_count": 0}, "node_count must be an int >= 1"),
        ({"process_count_per_node": 0}, "process_count_per_node"),
        ({"run_invocation_timeout": 0}, "run_invocation_timeout"),
        ({"run_max_try": 0}, "run_max_try"),
        ({"allowed_failed_percent": 120}, "from 0 to 100"),
        ({"logging_level": "LOUD"}, "logging_level"),
        ({"mini_batch_size": "ten"}, "is not a size"),
        ({"partition_keys": ["user"], "mini_batch_size": 5}, "not both"),
        ({"partition_keys": []}, "non-empty list"),
        ({"append_row_file_name": "a/b.txt"}, "plain file name"),
        ({"entry_script": ""}, "needs entry_script"),
        ({"node_count": PipelineParameter("n", 1.5)}, "int default"),
    ],
)
def test_config_checks(workspace_dir, changes, message):
    with pytest.raises(UserErrorException, match=message):
        _config(workspace_dir, **changes)


def test_input_checks(ws, workspace_dir):
    cfg = _config(workspace_dir)
    with pytest.raises(UserErrorException, match="inputs is empty"):
        ParallelRunStep("empty", cfg, [])
    with pytest.raises(UserErrorException, match="mix FileDataset and TabularDataset"):
        ParallelRunStep("mixed", cfg, [_files(ws).as_named_input("f"), _rows(ws).as_named_input("t")])
    with pytest.raises(UserErrorException, match="is a size, but the inputs are FileDatasets"):
        ParallelRunStep(
            "sized", _config(workspace_dir, mini_batch_size="1MB"), [_files(ws).as_named_input("f")]
        )
    # v1 samples give a file count as a string: mini_batch_size="5"
    counted = ParallelRunStep(
        "counted", _config(workspace_dir, mini_batch_size="5"), [_files(ws).as_named_input("f")]
    )
    assert counted.parallel_run_config.mini_batch_size == "5"
    with pytest.raises(UserErrorException, match="must be a ParallelRunConfig"):
        ParallelRunStep("noconf", {"entry_script": "x"}, [_files(ws).as_named_input("f")])


def test_partition_keys_must_be_keys_of_the_dataset(ws, workspace_dir):
    parted = Dataset.File.from_files(
        path=(ws.get_default_datastore(), "parts/*/*/*.wav"),
        partition_format="parts/{user}/{season}/{genre}.wav",
    )
    ok = ParallelRunStep(
        "by-user", _config(workspace_dir, partition_keys=["user", "genre"]), [parted.as_named_input("p")]
    )
    assert ok.parallel_run_config.partition_keys == ["user", "genre"]
    with pytest.raises(UserErrorException, match=r"\['usr'\] are not keys of input 'p'.*user"):
        ParallelRunStep("typo", _config(workspace_dir, partition_keys=["usr"]), [parted.as_named_input("p")])
    with pytest.raises(UserErrorException, match="not keys of input 'f'"):
        ParallelRunStep(
            "nokeys", _config(workspace_dir, partition_keys=["user"]), [_files(ws).as_named_input("f")]
        )


def test_missing_entry_script_found_when_built(ws, workspace_dir):
    step = ParallelRunStep(
        "lost", _config(workspace_dir, entry_script="nope.py"), [_files(ws).as_named_input("f")]
    )
    with pytest.raises(UserErrorException, match="script 'nope.py' not found in source_directory"):
        Pipeline(ws, [step])


def test_parse_size():
    assert (
        parse_size("1KB") == 1024 and parse_size("10MB") == 10 * 1024**2 and parse_size("2gb") == 2 * 1024**3
    )
    assert parse_size(512) == 512 and parse_size("1.5k") == 1536
    for bad in ("0KB", "-1", "many", 0, True):
        with pytest.raises(UserErrorException):
            parse_size(bad)
