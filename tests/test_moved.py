"""The Airflow side moved into ``airflow_azml.provider``; the old import paths keep working."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_azml._moved import MOVED

PACKAGE = Path(__file__).resolve().parents[1] / "airflow_azml"


def _fresh(code: str) -> str:
    """Run ``code`` in a new interpreter (nothing imported yet) and return what it printed."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_old_submodule_path_is_the_new_module_itself():
    out = _fresh(
        "import airflow_azml.operators.step as old\n"
        "import airflow_azml.provider.operators.step as new\n"
        "from airflow_azml.operators.step import AzmlStepOperator\n"
        "print(old is new, AzmlStepOperator is new.AzmlStepOperator, AzmlStepOperator.__module__)\n"
        "import sys; print(sorted(m for m in sys.modules if m.endswith('operators.step')))"
    )
    assert out.splitlines() == [
        "True True airflow_azml.provider.operators.step",
        "['airflow_azml.operators.step', 'airflow_azml.provider.operators.step']",
    ]


def test_old_paths_in_airflow_settings_resolve():
    # an xcom_backend setting and a plugin entry point written before the move
    out = _fresh(
        "from airflow.sdk._shared.module_loading import import_string\n"
        "b = import_string('airflow_azml.xcom.DatastoreXComBackend')\n"
        "from airflow_azml.provider.xcom import DatastoreXComBackend\n"
        "p = import_string('airflow_azml.plugins.AzmlPlugin')\n"
        "print(b is DatastoreXComBackend, p.__module__)"
    )
    assert out == "True airflow_azml.provider.plugins"


@pytest.mark.parametrize("name", MOVED)
def test_every_moved_name_resolves(name: str):
    import importlib

    assert importlib.import_module(f"airflow_azml.{name}") is importlib.import_module(
        f"airflow_azml.provider.{name}"
    )


def test_unknown_old_submodule_fails_as_a_missing_module():
    with pytest.raises(ModuleNotFoundError, match="no_such_module"):
        __import__("airflow_azml.operators.no_such_module")


def test_nothing_in_the_package_imports_through_an_old_path():
    old = tuple(f"airflow_azml.{name}" for name in MOVED)
    found = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            found += [
                f"{path.relative_to(PACKAGE)}:{node.lineno} {n}"
                for n in names
                if n in old or n.startswith(tuple(o + "." for o in old))
            ]
    assert found == []


def _run_module(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", name, *args], capture_output=True, text=True, timeout=120, cwd=PACKAGE.parent
    )


def test_python_m_of_an_old_path_runs_the_new_module_as_main():
    # a command line written before the move: python -m airflow_azml.local.runner ...
    old = _run_module("airflow_azml.local.runner", "--help")
    new = _run_module("airflow_azml.provider.local.runner", "--help")
    assert old.returncode == 0, old.stderr
    assert "--dag-file" in old.stdout
    assert old.stdout == new.stdout


def test_python_m_of_an_unknown_old_path_says_no_module():
    done = _run_module("airflow_azml.local.no_such_module")
    assert done.returncode == 1
    assert "No module named 'airflow_azml.provider.local.no_such_module'" in done.stderr
