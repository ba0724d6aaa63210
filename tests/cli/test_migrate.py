"""``azml migrate``: run the real command on v1 sample code and check every finding."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from airflow_azml import migrate_rules as rules

FIXTURES = Path(__file__).parent / "fixtures"
# HyperDrive is being added to airflow-azml: what the tool says about it is what the v1 map says.
HYPERDRIVE = rules.name_rule("azureml.train.hyperdrive", "HyperDriveConfig").category
HYPERDRIVE_STEP = rules.name_rule("azureml.pipeline.steps", "HyperDriveStep").category
DOCKER_ADVICE = "runs in the Airflow worker's Python environment"

# (line, column, category, name) for each file, as the tool must report them.
INTRO_PIPELINE = [
    (5, 8, "unchanged", "azureml.core"),
    (6, 26, "unchanged", "Experiment"),
    (6, 38, "unchanged", "Workspace"),
    (7, 34, "unchanged", "AmlCompute"),
    (7, 46, "unchanged", "ComputeTarget"),
    (8, 41, "unchanged", "ComputeTargetException"),
    (9, 45, "unchanged", "CondaDependencies"),
    (10, 36, "unchanged", "DEFAULT_CPU_IMAGE"),
    (10, 55, "unchanged", "RunConfiguration"),
    (11, 41, "unchanged", "DataReference"),
    (13, 5, "unchanged", "Pipeline"),
    (14, 5, "unchanged", "PipelineData"),
    (15, 5, "unchanged", "PipelineParameter"),
    (17, 36, "unchanged", "PythonScriptStep"),
    (18, 29, "unchanged", "RunDetails"),
    (20, 23, "unchanged", "VERSION"),
    (35, 19, "unchanged", "ComputeTarget.create"),
    (39, 1, "change", "run_config.environment.docker.enabled"),
    (40, 1, "change", "run_config.environment.docker.base_image"),
    (41, 92, "change", "CondaDependencies.create(conda_packages=)"),  # installed with pip at run time
    (58, 15, "change", "PythonScriptStep(run_config)"),  # ... which the steps built with it need
    (68, 15, "change", "PythonScriptStep(run_config)"),
    (76, 1, "change", "PipelineRun.wait_for_completion"),  # ... and the run of their pipeline
]
HYPERDRIVE_PIPELINE = [
    (3, 8, "unchanged", "azureml.core"),
    (4, 26, "unchanged", "Datastore"),
    (4, 37, "unchanged", "Model"),
    (4, 44, "unchanged", "Workspace"),
    (5, 41, "unchanged", "ServicePrincipalAuthentication"),
    (6, 34, "unchanged", "ComputeTarget"),
    (6, 49, "unchanged", "DatabricksCompute"),
    (7, 35, "unsupported", "Keyvault"),
    (8, 32, "unsupported", "InferenceConfig"),
    (9, 37, "unsupported", "AciWebservice"),
    (10, 35, "unchanged", "Pipeline"),
    (10, 45, "unchanged", "PipelineData"),
    (11, 36, HYPERDRIVE_STEP, "HyperDriveStep"),
    (11, 52, "unchanged", "PythonScriptStep"),
    (12, 31, "unchanged", "TensorFlow"),
    (14, 5, HYPERDRIVE, "BanditPolicy"),
    (15, 5, HYPERDRIVE, "HyperDriveConfig"),
    (16, 5, HYPERDRIVE, "PrimaryMetricGoal"),
    (17, 5, HYPERDRIVE, "RandomParameterSampling"),
    (18, 5, HYPERDRIVE, "choice"),
    (24, 6, "change", "Workspace.get"),
    (25, 12, "change", "Workspace"),
    (26, 8, "change", "Datastore.register_azure_blob_container"),
    (33, 10, "change", "DatabricksCompute.attach_configuration"),
    *([(53, 1, "unknown", "PythonScriptStep.run_after")] if HYPERDRIVE_STEP == "unsupported" else []),
    (55, 7, "unchanged", "Experiment"),
    (59, 73, "unchanged", "Environment"),
    (60, 17, "unknown", "AciWebservice.deploy_configuration"),  # a use of an import we do not have
    (61, 11, "unsupported", "Model.deploy"),
    (63, 1, "unsupported", "StepRun.register_model"),  # run -> find_step_run(...)[0] -> StepRun
]
# (cell, line, column, category, name): cell 1 is markdown, cell 4 a %%bash cell.
INTRO_NOTEBOOK = [
    (2, 2, 8, "unchanged", "azureml.core"),
    (2, 3, 26, "unchanged", "Experiment"),
    (2, 3, 38, "unchanged", "Workspace"),
    (2, 5, 23, "unchanged", "VERSION"),
    (5, 1, 35, "unchanged", "Pipeline"),
    (5, 3, 5, HYPERDRIVE_STEP, "HyperDriveStep"),
    (5, 4, 5, "unchanged", "PythonScriptStep"),
]


def azml_migrate(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m airflow_azml.cli migrate ARGS`` in ``cwd``."""
    command = [sys.executable, "-m", "airflow_azml.cli", "migrate", *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=60, check=False)


def report_json(cwd: Path, *args: str) -> tuple[dict[str, Any], int]:
    result = azml_migrate(cwd, "--json", *args)
    assert result.stderr == ""
    return json.loads(result.stdout), result.returncode


def file_report(document: dict[str, Any], path: str) -> dict[str, Any]:
    (report,) = [f for f in document["files"] if f["path"] == path]
    return report


def findings(document: dict[str, Any], path: str) -> list[dict[str, Any]]:
    return file_report(document, path)["findings"]


@pytest.fixture
def samples(tmp_path: Path) -> Path:
    """A private copy of the fixtures, safe to rewrite."""
    shutil.copytree(FIXTURES, tmp_path / "samples")
    return tmp_path / "samples"


def test_intro_pipeline_findings(samples: Path) -> None:
    document, status = report_json(samples, "intro_pipeline.py")
    found = findings(document, "intro_pipeline.py")
    assert [(f["line"], f["col"], f["category"], f["name"]) for f in found] == INTRO_PIPELINE
    assert {f["cell"] for f in found} == {None}
    assert {f["file"] for f in found} == {"intro_pipeline.py"}
    assert "routing" in found[16]["advice"]
    assert found[17]["advice"].startswith(DOCKER_ADVICE)
    assert status == document["exit_code"] == 1  # docker.enabled needs a change
    assert document["summary"] == {
        "files": 1,
        "unchanged": 17,
        "change": 6,
        "unsupported": 0,
        "unknown": 0,
        "errors": 0,
        "rewritten": 0,
    }


def test_hyperdrive_pipeline_findings(samples: Path) -> None:
    document, status = report_json(samples, "hyperdrive_pipeline.py")
    found = findings(document, "hyperdrive_pipeline.py")
    assert [(f["line"], f["col"], f["category"], f["name"]) for f in found] == HYPERDRIVE_PIPELINE
    advice = {f["name"]: f["advice"] for f in found}
    assert "Workspace.from_config()" in advice["Workspace.get"]
    assert "config.json" in advice["Workspace"]
    assert 'conn_id="..."' in advice["Datastore.register_azure_blob_container"]
    assert 'attach_configuration(conn_id="...")' in advice["DatabricksCompute.attach_configuration"]
    assert advice["Keyvault"].startswith(
        "no workspace key vault; instead: keep secrets in Airflow connections"
    )
    assert advice["AciWebservice"].startswith("not part of Azure ML SDK v1's pipeline API")
    if HYPERDRIVE_STEP == "unsupported":
        assert advice["HyperDriveStep"].startswith("no HyperDrive; instead: ")
    assert status == 1


def test_notebook_findings_per_cell(samples: Path) -> None:
    document, status = report_json(samples, "intro_notebook.ipynb")
    found = findings(document, "intro_notebook.ipynb")
    assert [(f["cell"], f["line"], f["col"], f["category"], f["name"]) for f in found] == INTRO_NOTEBOOK
    assert document["files"][0]["errors"] == []
    assert status == int(HYPERDRIVE_STEP != "unchanged")  # 0 once everything in it runs unchanged


def test_step_script_runs_unchanged_and_exits_0(samples: Path) -> None:
    result = azml_migrate(samples, "scripts/train.py")
    assert result.returncode == 0
    assert result.stdout.splitlines() == [
        "scripts/train.py",
        "  6:26  unchanged    Run",
        "",
        "1 file(s) scanned: 1 unchanged, 0 change, 0 unsupported, 0 unknown; 0 file(s) with errors; "
        "0 file(s) rewritten",
    ]


def test_text_report_groups_by_file_with_advice_and_summary(samples: Path) -> None:
    (samples / ".ipynb_checkpoints").mkdir()
    shutil.copy(samples / "intro_notebook.ipynb", samples / ".ipynb_checkpoints")
    (samples / "helpers.py").write_text("import os\n\nprint(os.sep)\n")
    result = azml_migrate(samples, ".")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    headers = [line for line in lines if line and not line.startswith(" ")]
    document, _ = report_json(samples, ".")
    summary = document["summary"]
    assert headers == [
        "hyperdrive_pipeline.py",
        "intro_notebook.ipynb",
        "intro_pipeline.py",
        "scripts/train.py",
        f"5 file(s) scanned: {summary['unchanged']} unchanged, {summary['change']} change, "
        f"{summary['unsupported']} unsupported, {summary['unknown']} unknown; 0 file(s) with errors; "
        "0 file(s) rewritten",
    ]
    assert (
        summary["change"] == 10 and summary["unsupported"] + summary["unknown"] >= 5
    )  # Keyvault, deploy, ...
    at = lines.index(f"  cell 5, 3:5   {HYPERDRIVE_STEP:<11}  HyperDriveStep")
    if HYPERDRIVE_STEP == "unsupported":
        assert lines[at + 1].startswith("                             -> no HyperDrive; instead: ")
    assert "  39:1   change       run_config.environment.docker.enabled" in lines


def test_rewrite_python_file_touches_only_import_tokens(samples: Path) -> None:
    original = (samples / "hyperdrive_pipeline.py").read_text()
    document, status = report_json(samples, "--rewrite-imports", "hyperdrive_pipeline.py")
    assert status == 1
    assert document["files"][0]["rewritten"] == 11
    rewritten = (samples / "hyperdrive_pipeline.py").read_text()
    expected = original.replace("import azureml.core as", "import airflow_azml.core as").replace(
        "from azureml.", "from airflow_azml."
    )
    assert rewritten == expected
    assert (samples / "hyperdrive_pipeline.py.bak").read_text() == original
    ast.parse(rewritten)
    assert sorted(p.name for p in samples.iterdir() if p.name.startswith(".")) == []  # no temp file

    # The rewritten file still says what has no equivalent, v1 names we do not have included.
    again, status = report_json(samples, "hyperdrive_pipeline.py")
    names = {(f["name"], f["category"]) for f in findings(again, "hyperdrive_pipeline.py")}
    assert ("HyperDriveStep", HYPERDRIVE_STEP) in names
    assert ("Workspace.get", "change") in names
    assert ("airflow_azml.core", "unchanged") in names
    assert ("Keyvault", "unsupported") in names
    assert status == 1


def test_rewrite_keeps_bare_import_and_says_why(samples: Path) -> None:
    original = (samples / "intro_pipeline.py").read_text()
    document, _ = report_json(samples, "--rewrite-imports", "--no-backup", "intro_pipeline.py")
    report = document["files"][0]
    assert report["rewritten"] == 9
    assert report["notes"] == [
        "line 5: `import azureml.core` left as is: it binds the name `azureml`; rename its uses "
        "by hand or keep airflow_azml.compat.enable()"
    ]
    rewritten = (samples / "intro_pipeline.py").read_text()
    assert rewritten == original.replace("from azureml.", "from airflow_azml.")
    assert "from airflow_azml.pipeline.core import (\n    Pipeline,\n" in rewritten
    assert not (samples / "intro_pipeline.py.bak").exists()


def test_rewrite_notebook_keeps_valid_json_and_other_bytes(samples: Path) -> None:
    path = samples / "intro_notebook.ipynb"
    original = path.read_text(encoding="utf-8")
    document, _ = report_json(samples, "--rewrite-imports", "intro_notebook.ipynb")
    assert document["files"][0]["rewritten"] == 3
    rewritten = path.read_text(encoding="utf-8")
    expected = original.replace('"from azureml.', '"from airflow_azml.')
    assert rewritten == expected  # indentation, key order, "Café ☕" and magics untouched
    notebook = json.loads(rewritten)
    assert notebook["cells"][4]["source"][:2] == [
        "from airflow_azml.pipeline.core import Pipeline\n",
        "from airflow_azml.pipeline.steps import (\n",
    ]
    assert notebook["cells"][1]["source"][0] == "%matplotlib inline\n"


def test_syntax_error_is_reported_and_never_rewritten(samples: Path) -> None:
    broken = samples / "broken.py"
    source = "from azureml.core import Workspace\nws = Workspace.get(\n"
    broken.write_text(source)
    document, status = report_json(samples, "--rewrite-imports", "broken.py", "scripts/train.py")
    report = file_report(document, "broken.py")
    assert report["errors"] == ["line 2: syntax error: '(' was never closed"]
    assert report["notes"] == ["not rewritten: the file does not parse"]
    assert report["findings"] == []
    assert report["rewritten"] == 0
    assert broken.read_text() == source
    assert not (samples / "broken.py.bak").exists()
    assert document["summary"]["errors"] == 1
    assert document["summary"]["rewritten"] == 1  # the other file still is
    assert status == 1


def test_notebook_with_an_unparsable_cell_is_never_rewritten(samples: Path) -> None:
    path = samples / "intro_notebook.ipynb"
    notebook = json.loads(path.read_text(encoding="utf-8"))
    notebook["cells"][2]["source"].append("\nfiles = !ls")
    original = json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"
    path.write_text(original, encoding="utf-8")
    document, status = report_json(samples, "--rewrite-imports", "intro_notebook.ipynb")
    report = document["files"][0]
    assert report["errors"] == ["cell 3, line 4: syntax error: invalid syntax"]
    assert len(report["findings"]) == len(INTRO_NOTEBOOK)  # the other cells are still read
    assert path.read_text(encoding="utf-8") == original
    assert status == 1


def test_rewrite_keeps_crlf_encoding_and_character_columns(tmp_path: Path) -> None:
    source = (
        '# café\r\nx = "éé"; from azureml.core import Workspace  # é\r\n'
        "from \\\r\n    azureml.pipeline.core import Pipeline\r\n"
        "import os, azureml.core as c\r\nprint(Workspace, Pipeline, os, c)\r\n"
    ).encode()
    (tmp_path / "crlf.py").write_bytes(source)
    document, _ = report_json(tmp_path, "--rewrite-imports", "crlf.py")
    found = [(f["line"], f["col"], f["name"]) for f in findings(document, "crlf.py")]
    assert found == [(2, 36, "Workspace"), (4, 34, "Pipeline"), (5, 12, "azureml.core")]
    assert (tmp_path / "crlf.py").read_bytes() == source.replace(b"azureml.", b"airflow_azml.")


def test_call_rules_look_at_arguments_and_migrated_imports(tmp_path: Path) -> None:
    source = """\
from azureml import core
from azureml.core import *
from azureml.core import Datastore, Environment
from azureml.core.compute import DatabricksCompute
from airflow_azml.core import Workspace
from airflow_azml.compat import enable

ws = Workspace.from_config()
Datastore.register_azure_blob_container(ws, "b", container_name="c", account_name="a", conn_id="w")
Datastore.register_azure_sql_database(ws, "sql", server_name="s", database_name="d", password="p")
DatabricksCompute.attach_configuration(conn_id="databricks")
env = Environment.from_docker_image("env", "python:3.11")
core.Workspace.create("ws")
enable()
"""
    (tmp_path / "rules.py").write_text(source)
    document, status = report_json(tmp_path, "rules.py")
    found = [(f["line"], f["col"], f["category"], f["name"]) for f in findings(document, "rules.py")]
    assert found == [
        (1, 21, "unchanged", "core"),
        (2, 26, "change", "azureml.core.*"),
        (3, 26, "unchanged", "Datastore"),
        (3, 37, "unchanged", "Environment"),
        (4, 34, "unchanged", "DatabricksCompute"),
        (5, 31, "unchanged", "Workspace"),
        (10, 1, "change", "Datastore.register_azure_sql_database"),
        (12, 7, "change", "Environment.from_docker_image"),
        (13, 1, "unchanged", "Workspace"),
        (13, 1, "change", "Workspace.create"),
    ]
    assert status == 1


def test_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    result = azml_migrate(tmp_path, "nowhere.py")
    assert result.returncode == 2
    assert "no such file or folder: nowhere.py" in result.stderr


def test_analyzer_imports_no_airflow() -> None:
    code = (
        "import sys; sys.modules['airflow'] = None\n"
        "import airflow_azml.migrate\n"
        "assert not any(m == 'airflow' or m.startswith('airflow.') for m in sys.modules"
        " if sys.modules[m] is not None)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
