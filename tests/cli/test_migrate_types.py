"""``azml migrate`` follows v1 types: what constructors, factories and methods return (from the v1
map), through assignments, attribute chains, loops over returned lists and dict items, across the
cells of a notebook, so a member used on a v1 object is checked like an import."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from airflow_azml import v1map
from airflow_azml.migrate import process_file
from airflow_azml.migrate_rules import entry_rule

CELLS = [
    "from azureml.core import Workspace, Experiment, Dataset\n"
    "from azureml.pipeline.core import Pipeline, PipelineData, NoSuchThing\n"
    "from azureml.pipeline.steps import PythonScriptStep, NoSuchStep\n",
    "ws = Workspace.from_config()\n"
    "data = Dataset.Tabular.from_delimited_files(path=[(ws.get_default_datastore(), 'a/*.csv')])\n"
    "data.bogus_tabular\n",
    "pipeline = Pipeline(workspace=ws, steps=[])\npipeline_run = Experiment(ws, 'exp').submit(pipeline)\n",
    "for step in pipeline_run.get_steps():\n"
    "    step.bogus_step\n"
    "    for name, output in step.get_outputs().items():\n"
    "        output.bogus_output\n",
    "first = pipeline_run.find_step_run('prep')[0]\n"
    "[s.bogus_listed for s in pipeline_run.get_steps()]\n"
    "with open('x') as handle:\n"
    "    first.bogus_first\n",
    "NoSuchStep(name='tune').anything\nimport os\nos.path.join('a', 'b').bogus_not_v1\n",
]


def notebook(tmp_path: Path, cells: list[str]) -> Path:
    path = tmp_path / "flow.ipynb"
    document = {"cells": [{"cell_type": "code", "source": source, "metadata": {}} for source in cells]}
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def found(path: Path) -> list[tuple[Any, ...]]:
    report = process_file(path)
    assert report.errors == []
    return [(f.cell, f.line, f.category, f.name) for f in report.findings]


def test_members_are_checked_through_assignments_loops_and_cells(tmp_path: Path) -> None:
    findings = found(notebook(tmp_path, CELLS))
    unknown = [(cell, line, name) for cell, line, category, name in findings if category == "unknown"]
    assert unknown == [
        (2, 3, "TabularDataset.bogus_tabular"),  # Dataset.Tabular -> TabularDatasetFactory -> TabularDataset
        (4, 2, "StepRun.bogus_step"),  # for step in run.get_steps()
        (4, 4, "StepRunOutput.bogus_output"),  # for name, output in step.get_outputs().items()
        (5, 2, "StepRun.bogus_listed"),  # a comprehension over a returned list
        (5, 4, "StepRun.bogus_first"),  # find_step_run(...)[0], across a with block
    ]
    assert (1, 2, "unsupported", "NoSuchThing") in findings  # an azureml name the map does not know
    assert (1, 3, "unsupported", "NoSuchStep") in findings
    assert not [f for f in findings if f[0] == 6 and f[2] != "unsupported"]  # no cascade from NoSuchStep
    assert not [f for f in findings if "bogus_not_v1" in f[3]]  # not a v1 object


def test_member_verdicts_are_the_maps(tmp_path: Path) -> None:
    """Each member used on a v1 object gets the verdict of its map entry."""
    table = v1map.load()
    members = table.members("azureml.pipeline.core.run.PipelineRun")
    names = ["get_steps", "get_children", "get_metrics", "publish_pipeline", "get_graph", "cancel"]
    source = "from azureml.pipeline.core import PipelineRun\nrun = PipelineRun.get(None, 'id')\n"
    source += "".join(f"run.{name}()\n" for name in names)
    (tmp_path / "runs.py").write_text(source)
    findings = {name: (category, line) for _, line, category, name in found(tmp_path / "runs.py")}
    for line, name in enumerate(names, start=3):
        rule = entry_rule(members[name])
        listed = rule.category != "unchanged" or bool(rule.advice)
        assert (f"PipelineRun.{name}" in findings) is listed, name
        if listed:
            assert findings[f"PipelineRun.{name}"] == (rule.category, line)


@pytest.fixture
def patched_map(monkeypatch: pytest.MonkeyPatch) -> v1map.V1Map:
    """The loaded map, with entries this test may change (restored afterwards)."""
    table = v1map.load()
    monkeypatch.setattr(table, "_members", {})
    return table


def test_parameters_and_argument_rules(tmp_path: Path, patched_map: v1map.V1Map, monkeypatch) -> None:
    key = "azureml.pipeline.core.pipeline_endpoint.PipelineEndpoint"
    publish = dict(patched_map.classes[key]["members"]["publish"])
    publish.update(
        status="supported",
        unsupported_params=["description"],
        note="does not take description",
        rules=[
            {
                "param": "pipeline",
                "when": "type:azureml.pipeline.core.pipeline.Pipeline",
                "status": "unsupported",
                "why": "publish the pipeline first",
            },
            {"param": "name", "when": "prefix:http", "status": "different", "why": "a name, not a URL"},
        ],
    )
    monkeypatch.setitem(patched_map.classes[key]["members"], "publish", publish)
    (tmp_path / "endpoint.py").write_text(
        "from azureml.pipeline.core import Pipeline, PipelineEndpoint\n"
        "p = Pipeline(None, [])\n"
        "PipelineEndpoint.publish(None, 'ep', 'description', p)\n"
        "PipelineEndpoint.publish(workspace=None, name='https://x', pipeline=p.publish('x'))\n"
    )
    findings = found(tmp_path / "endpoint.py")
    assert (3, "unsupported", "PipelineEndpoint.publish(pipeline=)") in [f[1:] for f in findings]
    assert (3, "unsupported", "PipelineEndpoint.publish(description=)") in [f[1:] for f in findings]
    assert (4, "change", "PipelineEndpoint.publish(name=)") in [f[1:] for f in findings]
    assert not [f for f in findings if f[1] == 4 and f[3].endswith("(pipeline=)")]  # a PublishedPipeline


def test_a_long_notebook_reads_the_map_once_and_finds_every_cell(tmp_path: Path) -> None:
    # what keeps a 240-cell notebook fast: the v1 map is read once per process, not per cell or file
    path = notebook(tmp_path, CELLS * 40)  # 240 cells
    v1map.load.cache_clear()
    first = found(path)
    again = found(path)
    assert v1map.load.cache_info().misses == 1
    assert first == again and len(first) > 240
    assert max(cell for cell, *_ in first) >= 240 - len(CELLS)  # the last copy of the cells too


def test_uses_of_what_we_do_not_have_and_placeholders(tmp_path: Path) -> None:
    """A value built from something we do not have makes its uses 'unknown' (once per cell and
    name), through lists, calls and with; a sample's placeholder is a 'change' where passed."""
    cells = [
        "from azureml.core import Datastore, Workspace\n"
        "from azureml.pipeline.core import Pipeline\n"
        "from azureml.pipeline.steps import NoSuchStep\n"
        "import os, pickle\n",
        "ws = Workspace.from_config()\n"
        "tune = NoSuchStep(name='tune')\n"
        "pipeline = Pipeline(ws, steps=[tune])\n"
        "with open(pipeline.path) as handle:\n"
        "    model = pickle.load(handle)\n",
        "model.predict([1])\nmodel.score([1])\n",
        "secret = os.getenv('KEY', '<my-account-key>')\n"
        "Datastore.register_azure_blob_container(ws, 'b', container_name='<my-container>', account_key=secret)\n",
    ]
    findings = found(notebook(tmp_path, cells))
    by_cell = {
        cell: [(line, category, name) for c, line, category, name in findings if c == cell]
        for cell in (2, 3, 4)
    }
    assert by_cell[2] == [
        (3, "unknown", "Pipeline"),
        (4, "unknown", "pipeline.path"),
    ]  # cannot be built either
    assert by_cell[3] == [(1, "unknown", "model.predict")]  # once per cell and name
    assert by_cell[4] == [
        (2, "change", "Datastore.register_azure_blob_container"),  # the secret sits in the code
        (2, "change", "Datastore.register_azure_blob_container(container_name=)"),
        (2, "change", "Datastore.register_azure_blob_container(account_key=)"),
    ]
    advice = {f.name: f.advice for f in process_file(tmp_path / "flow.ipynb").findings}
    assert advice["model.predict"].startswith("model comes from NoSuchStep, which airflow-azml does not have")
    assert advice["Datastore.register_azure_blob_container(account_key=)"].startswith(
        "a placeholder left from sample"
    )


def test_a_marked_setting_travels_to_the_step(tmp_path: Path, patched_map: v1map.V1Map, monkeypatch) -> None:
    key = "azureml.core.runconfig.MpiConfiguration"
    init = dict(patched_map.classes[key]["members"]["__init__"])
    init["rules"] = [
        {"param": "node_count", "when": "gt:1", "status": "different", "why": "one node", "carry": "multi"}
    ]
    monkeypatch.setitem(patched_map.classes[key]["members"], "__init__", init)
    (tmp_path / "dist.py").write_text(
        "from azureml.core import ScriptRunConfig\n"
        "from azureml.core.runconfig import MpiConfiguration\n"
        "from azureml.pipeline.steps import CommandStep\n"
        "single = ScriptRunConfig(source_directory='.', distributed_job_config=MpiConfiguration(node_count=1))\n"
        "config = ScriptRunConfig(source_directory='.', distributed_job_config=MpiConfiguration(node_count=2))\n"
        "CommandStep(name='one', runconfig=single)\n"
        "CommandStep(name='train', runconfig=config)\n"
    )
    changes = [
        (line, name) for _, line, category, name in found(tmp_path / "dist.py") if category == "change"
    ]
    assert changes == [(5, "MpiConfiguration(node_count=)"), (7, "CommandStep(config)")]


def test_json_report_keeps_its_shape(tmp_path: Path) -> None:
    """Tools read --json: the keys of a file report, a finding and the summary stay as they are."""
    notebook(tmp_path, CELLS)
    command = [sys.executable, "-m", "airflow_azml.cli", "migrate", "--json", "flow.ipynb"]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)
    document = json.loads(result.stdout)
    assert list(document) == ["files", "summary", "exit_code"]
    (report,) = document["files"]
    assert list(report) == ["path", "findings", "errors", "rewritten", "notes"]
    assert list(report["findings"][0]) == ["file", "line", "col", "category", "name", "advice", "cell"]
    summary = document["summary"]
    assert list(summary) == ["files", "unchanged", "change", "unsupported", "unknown", "errors", "rewritten"]
    assert summary["unknown"] == 5 and document["exit_code"] == result.returncode == 1


def test_members_airflow_azml_adds_are_not_unknown(tmp_path: Path) -> None:
    """``Pipeline.to_dag`` is ours, not v1's: using it is not something to migrate."""
    (tmp_path / "dag.py").write_text(
        "from airflow_azml.pipeline.core import Pipeline\n"
        "dag = Pipeline(None, []).to_dag('exp')\n"
        "Pipeline(None, []).no_such_member_anywhere\n"
    )
    assert [(line, category, name) for _, line, category, name in found(tmp_path / "dag.py")] == [
        (1, "unchanged", "Pipeline"),
        (3, "unknown", "Pipeline.no_such_member_anywhere"),
    ]


def test_private_attributes_and_modules_not_installed(tmp_path: Path) -> None:
    """v1 samples reach into private attributes and import what v1's images had: neither is promised."""
    (tmp_path / "helpers.py").write_text("X = 1\n")
    (tmp_path / "sample.py").write_text(
        "import os, helpers, surely_not_installed_xyz\n"
        "from surely_not_installed_xyz.sub import thing\n"
        "from azureml.core import Workspace\n"
        "ws = Workspace.from_config()\n"
        "ws._no_such_private_attribute\n"
        "ws.__class__\n"
    )
    assert [(line, category, name) for _, line, category, name in found(tmp_path / "sample.py")] == [
        (1, "unknown", "surely_not_installed_xyz"),  # once per file (per cell in a notebook)
        (3, "unchanged", "Workspace"),
        (5, "unknown", "Workspace._no_such_private_attribute"),
    ]
