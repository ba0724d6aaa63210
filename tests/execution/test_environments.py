"""Step environments: real virtual environments built with uv (or venv+pip), cached, locked, reused."""

from __future__ import annotations

import importlib.util
import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_azml.core import Experiment, Workspace
from airflow_azml.core.runconfig import CondaDependencies, RunConfiguration
from airflow_azml.exceptions import ActivityFailedException, UserErrorException
from airflow_azml.execution.environments import (
    EnvironmentCache,
    conda_to_pip,
    find_uv,
    interpreter_for,
    requirements_from_spec,
)
from airflow_azml.pipeline.core import Pipeline
from airflow_azml.pipeline.steps import EstimatorStep, PythonScriptStep
from airflow_azml.train.estimator import Estimator
from tests.conftest import write

# A tiny pure-Python package from PyPI that the worker's venv does not have: importing it
# inside a step proves the step ran in its own environment.
PKG, PKG_PIN = "inflection", "inflection==0.5.1"
MISSING = "azml-no-such-package-4f2a9c"

STEP_SCRIPT = """
import sys, inflection
from airflow_azml.core import Run
run = Run.get_context()
run.log("camel", inflection.camelize("device_type"))
print("prefix", sys.prefix)
print("inflection from", inflection.__file__)
"""


def _builds(azml_home: Path) -> list[dict]:
    path = azml_home / "envs" / "builds.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _runner_log(run) -> str:
    """The embedded runner's log of a local run (the Airflow task logs go there)."""
    return Path(run._backend.handle.log_file).read_text()


def test_worker_venv_lacks_the_probe_package():
    assert importlib.util.find_spec(PKG) is None, f"{PKG} must not be installed in the test venv"


@pytest.mark.parametrize(
    ("conda", "pip"),
    [
        ("numpy=1.26", "numpy==1.26"),
        ("conda-forge::scipy", "scipy"),
        ("scikit-learn=1.3=py311h", "scikit-learn==1.3"),
        ("pandas>=2", "pandas>=2"),
        ("pytest 7.4", "pytest==7.4"),
        ("python=3.11", None),
        ("pip", None),
    ],
)
def test_conda_specs_become_pip_requirements(conda, pip):
    assert conda_to_pip(conda) == pip


def test_requirements_merge_pip_conda_and_files(tmp_path):
    write(tmp_path / "base.txt", "# comment\ninflection==0.5.1  # pinned\n")
    write(tmp_path / "req.txt", "-r base.txt\ntoolz\n")
    reqs = requirements_from_spec(
        {"pip": ["six", f"-r {tmp_path / 'req.txt'}"], "conda": ["numpy=1.26", "python"]}, "s"
    )
    assert reqs.lines == ["six", "inflection==0.5.1", "toolz", "numpy==1.26"]
    assert reqs.origin["numpy==1.26"] == "conda_packages (numpy=1.26)"
    assert any("'numpy=1.26' is installed with pip as 'numpy==1.26'" in n for n in reqs.notes)
    same = requirements_from_spec({"pip": ["toolz", "numpy==1.26", "inflection==0.5.1", "six"]}, "t")
    assert same.key() == reqs.key()


def test_missing_requirements_file_is_named(tmp_path):
    with pytest.raises(UserErrorException, match="nope.txt"):
        requirements_from_spec({"pip": [f"-r {tmp_path / 'nope.txt'}"]}, "s")


def test_no_packages_means_the_workers_python(azml_home):
    assert interpreter_for({"name": "s", "environment": {"pip": [], "conda": []}}) == sys.executable
    assert not (azml_home / "envs").exists()


def test_uv_is_found():
    assert find_uv() is not None, "uv is a dependency of airflow-azml's environment builder"


def test_build_once_then_hit(azml_home, caplog):
    log = logging.getLogger("test_env")
    caplog.set_level(logging.INFO, logger="test_env")
    step = {"name": "s", "environment": {"pip": [PKG_PIN]}}
    python = interpreter_for(step, log)
    env_dir = Path(python).parent.parent
    assert env_dir.parent == azml_home / "envs"
    out = subprocess.run(
        [python, "-c", "import inflection, airflow_azml, sys; print(inflection.__file__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.startswith(str(env_dir))
    marker = (env_dir / ".azml-ready.json").stat().st_mtime_ns
    assert interpreter_for(step, log) == python
    assert (env_dir / ".azml-ready.json").stat().st_mtime_ns == marker
    assert len(_builds(azml_home)) == 1
    assert "reused (cache hit" in caplog.text


def test_concurrent_builds_of_one_set_build_once(azml_home):
    code = (
        "import logging,sys; logging.basicConfig(level=logging.INFO);"
        "from airflow_azml.execution.environments import interpreter_for;"
        f"print(interpreter_for({{'name': 's', 'environment': {{'pip': ['{PKG_PIN}']}}}}, logging.getLogger()))"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) for _ in range(3)
    ]
    outs = {p.communicate(timeout=120)[0].strip() for p in procs}
    assert all(p.returncode == 0 for p in procs)
    assert len(outs) == 1
    assert len(_builds(azml_home)) == 1


def test_missing_package_is_named(azml_home):
    cache = EnvironmentCache()
    reqs = requirements_from_spec({"pip": [PKG], "conda": [MISSING]}, "train")
    with pytest.raises(UserErrorException) as err:
        cache.ensure(reqs, "train")
    msg = str(err.value)
    assert f"package '{MISSING}'" in msg and "from conda_packages" in msg and "'train'" in msg
    assert not cache.path_for(reqs).exists(), "a failed build leaves no half environment behind"


def test_docker_image_is_noted_not_silent(azml_home, caplog):
    caplog.set_level(logging.INFO, logger="test_env")
    spec = {
        "name": "s",
        "environment": {"pip": [], "conda": [], "docker_image": "mcr.microsoft.com/azureml/x"},
    }
    assert interpreter_for(spec, logging.getLogger("test_env")) == sys.executable
    assert "mcr.microsoft.com/azureml/x" in caplog.text and "worker's Python environment" in caplog.text


@pytest.mark.slow
def test_estimator_step_runs_in_cached_env_through_airflow(embedded_airflow_home, workspace_dir, azml_home):
    write(workspace_dir / "train" / "train.py", STEP_SCRIPT)
    ws = Workspace.from_config(workspace_dir)
    est = Estimator(
        source_directory=str(workspace_dir / "train"),
        entry_script="train.py",
        pip_packages=[PKG_PIN],
        conda_packages=["python=3.11"],
    )
    deps = CondaDependencies.create(conda_packages=[PKG_PIN.replace("==", "=")])
    rc = RunConfiguration(conda_dependencies=deps)
    script = PythonScriptStep(
        "train.py",
        name="script",
        source_directory=str(workspace_dir / "train"),
        runconfig=rc,
        allow_reuse=False,
    )
    pipeline = Pipeline(ws, [EstimatorStep(name="est", estimator=est, allow_reuse=False), script])
    first = Experiment(ws, "envs").submit(pipeline)
    assert first.wait_for_completion(show_output=False) == "Finished"
    builds = _builds(azml_home)
    assert len(builds) == 1, "equal requirement sets share one environment"
    env_dir = azml_home / "envs" / builds[0]["key"]
    for step in first.get_steps():
        assert step.get_metrics() == {"camel": "DeviceType"}
        assert f"prefix {env_dir}" in step.get_stdout_log()
        assert f"inflection from {env_dir}" in step.get_stdout_log()
    marker = (env_dir / ".azml-ready.json").stat().st_mtime_ns

    second = Experiment(ws, "envs").submit(pipeline)
    assert second.wait_for_completion(show_output=False) == "Finished"
    assert len(_builds(azml_home)) == 1, "the second run must not rebuild the environment"
    assert (env_dir / ".azml-ready.json").stat().st_mtime_ns == marker
    assert all(s.get_metrics() == {"camel": "DeviceType"} for s in second.get_steps())
    first_log, second_log = _runner_log(first), _runner_log(second)
    assert "Building environment" in first_log and "built in" in first_log
    assert "Building environment" not in second_log
    assert second_log.count("reused (cache hit") == 2
    assert "conda package 'inflection=0.5.1' is installed with pip as 'inflection==0.5.1'" in second_log


@pytest.mark.slow
def test_missing_package_fails_the_step_naming_it(embedded_airflow_home, workspace_dir):
    write(workspace_dir / "train" / "train.py", "print('never runs')\n")
    ws = Workspace.from_config(workspace_dir)
    est = Estimator(
        source_directory=str(workspace_dir / "train"), entry_script="train.py", pip_packages=[MISSING]
    )
    run = Experiment(ws, "envs_missing").submit(Pipeline(ws, [EstimatorStep(name="est", estimator=est)]))
    with pytest.raises(ActivityFailedException) as err:
        run.wait_for_completion(show_output=False)
    assert f"package '{MISSING}'" in str(err.value)
    assert run.find_step_run("est")[0].get_status() == "Failed"
