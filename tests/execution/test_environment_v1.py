"""v1 environments as real v1 code writes them: curated names, conda/pip/Dockerfile definitions,
registration, azureml-* packages (never installed: they are this package), and pins from v1's
Python 3.8 images that cannot install on the worker's Python (refused before anything is built,
with the nearest version that would install). The pin check asks the real package index."""

from __future__ import annotations

import logging
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_azml.core import Environment, Experiment, Workspace
from airflow_azml.core.conda_dependencies import CondaDependencies
from airflow_azml.core.runconfig import RunConfiguration, runconfig_spec
from airflow_azml.exceptions import UserErrorException
from airflow_azml.execution.environments import EnvironmentCache, interpreter_for, requirements_from_spec
from airflow_azml.pipeline.core import Pipeline
from airflow_azml.pipeline.steps import PythonScriptStep
from tests.conftest import write

CURATED = "AzureML-sklearn-0.24-ubuntu18.04-py37-cpu"
AZUREML_PIP = ["azureml-core==1.48.0", "azureml-defaults", "azureml-dataset-runtime[fuse,pandas]"]
OLD_PINS = ["scikit-learn==0.22.2", "numpy==1.19.5"]  # what v1's Python 3.8 images ran
PY311 = sys.version_info[:2] == (3, 11)


def test_azureml_packages_are_never_installed(azml_home):
    reqs = requirements_from_spec(
        {"pip": [*AZUREML_PIP, "inflection==0.5.1"], "conda": ["azureml-pipeline", "six"]}, "train"
    )
    assert reqs.lines == ["inflection==0.5.1", "six"]
    for name in [*AZUREML_PIP, "azureml-pipeline"]:
        assert any(name in n and "airflow-azml provides the azureml modules" in n for n in reqs.notes), name
    only_sdk = {"name": "s", "environment": {"pip": AZUREML_PIP, "conda": ["azureml-defaults"]}}
    assert interpreter_for(only_sdk) == sys.executable, "nothing left to install: the worker's Python"
    assert not (azml_home / "envs").exists()


def test_pins_from_python38_images_fail_before_building(azml_home):
    deps = CondaDependencies.create(conda_packages=["scikit-learn=0.22.2"], pip_packages=["numpy==1.19.5"])
    reqs = requirements_from_spec(runconfig_spec(RunConfiguration(conda_dependencies=deps)), "train")
    cache = EnvironmentCache()
    with pytest.raises(UserErrorException) as err:
        cache.ensure(reqs, "train")
    msg = str(err.value)
    assert (
        f"Step 'train': its environment cannot be built on this worker's Python {platform.python_version()}"
        in msg
    )
    assert "'scikit-learn==0.22.2' (from conda_packages (scikit-learn=0.22.2))" in msg
    assert "'numpy==1.19.5' (from pip_packages)" in msg
    assert "no build for this Python (its wheels are for cp36, cp37, cp38" in msg
    assert "nearest version that installs here is scikit-learn==" in msg and "numpy==" in msg
    if PY311:  # the first releases with wheels for CPython 3.11
        assert "scikit-learn==1.1.3" in msg and "numpy==1.23.2" in msg
    assert not cache.path_for(reqs).exists() and not list(cache.root.glob("*/bin")), "nothing was built"


def test_curated_environment_maps_to_the_worker_python(workspace_dir, caplog):
    ws = Workspace.from_config(workspace_dir)
    caplog.set_level(logging.INFO)
    env = Environment.get(ws, CURATED)
    assert env.name == CURATED and env.curated and env.python.user_managed_dependencies
    assert "no Azure ML image here" in caplog.text and CURATED in caplog.text
    assert Environment.get(ws, "AzureML-Minimal").curated
    spec = runconfig_spec(env)
    assert spec["curated"] == CURATED and spec["pip"] == [] and spec["conda"] == []
    caplog.clear()
    assert (
        interpreter_for({"name": "s", "environment": spec}, logging.getLogger("test_env")) == sys.executable
    )
    assert f"uses the curated environment '{CURATED}'" in caplog.text and sys.executable in caplog.text
    mine = env.clone("my-sklearn")  # v1's way to add packages to a curated environment
    mine.python.conda_dependencies.add_pip_package("inflection==0.5.1")
    assert (mine.name, mine.curated, mine.version) == ("my-sklearn", False, None)
    assert runconfig_spec(mine)["pip"] == ["inflection==0.5.1"] and "curated" not in runconfig_spec(mine)
    assert env.python.conda_dependencies.pip_packages == [], "the curated environment itself is unchanged"


def test_register_get_and_list(workspace_dir, tmp_path):
    ws = Workspace.from_config(workspace_dir)
    base = write(tmp_path / "base.txt", "six  # pinned below\n")
    reqs = write(
        tmp_path / "requirements.txt", "# training\n-r base.txt\ninflection==0.5.1\nazureml-defaults\n"
    )
    env = Environment.from_pip_requirements("train-env", str(reqs))
    assert env.python.conda_dependencies.pip_packages == [
        f"-r {base}",
        "inflection==0.5.1",
        "azureml-defaults",
    ]
    assert requirements_from_spec(runconfig_spec(env), "t").lines == ["six", "inflection==0.5.1"]
    env.environment_variables["MODE"] = "train"
    assert env.register(ws).version == "1"
    assert Environment.from_pip_requirements("train-env", str(reqs)).register(ws).version == "2"  # no MODE
    again = Environment.get(ws, "train-env", version="2")
    assert again.register(ws).version == "2", "the same definition is not registered twice"
    first = Environment.get(ws, "train-env", version="1")
    assert first.environment_variables == {"MODE": "train"} and first.version == "1"
    assert Environment.get(ws, "train-env").version == "2"
    assert list(Environment.list(ws)) == ["train-env"]
    with pytest.raises(UserErrorException, match="has no version '7'"):
        Environment.get(ws, "train-env", version="7")
    with pytest.raises(
        UserErrorException, match="No environment named 'train-evn'.*Did you mean 'train-env'"
    ):
        Environment.get(ws, "train-evn")


def test_conda_specification_and_dockerfile(tmp_path):
    conda = write(
        tmp_path / "env.yml",
        "name: x\nchannels: [conda-forge]\ndependencies:\n- python=3.8\n- scikit-learn\n- pip\n"
        "- pip:\n  - azureml-defaults\n  - inflection\n",
    )
    env = Environment.from_conda_specification("conda-env", str(conda))
    deps = env.python.conda_dependencies
    assert (deps.conda_packages, deps.pip_packages, deps.python_version) == (
        ["scikit-learn"],
        ["azureml-defaults", "inflection"],
        "3.8",
    )
    assert deps.channels == ["conda-forge"] and "azureml-defaults" in deps.serialize_to_string()
    dockerfile = write(tmp_path / "Dockerfile", "FROM mcr.microsoft.com/azureml/openmpi3.1.2-ubuntu18.04\n")
    from_file = Environment.from_dockerfile("docker-env", str(dockerfile), conda_specification=str(conda))
    assert from_file.docker.base_dockerfile.startswith("FROM mcr.microsoft.com")
    assert from_file.python.conda_dependencies.conda_packages == ["scikit-learn"]
    spec = runconfig_spec(Environment.from_dockerfile("inline", "FROM python:3.8\nRUN pip install x\n"))
    assert spec["dockerfile"] is True and "curated" not in spec


@pytest.mark.slow
def test_v1_environments_through_airflow(embedded_airflow_home, workspace_dir, tmp_path):
    """A curated environment plus azureml-* packages runs in the worker's Python; old pins fail the
    step before its script starts, naming the pin and the nearest installable version."""
    ws = Workspace.from_config(workspace_dir)
    src = workspace_dir / "steps"
    marker = tmp_path / "script-started"
    write(
        src / "show.py",
        f"import sys\nopen({str(marker)!r}, 'a').write('x')\nprint('python', sys.executable)\n",
    )
    curated = Environment.get(ws, "AzureML-Minimal")
    for pkg in AZUREML_PIP:
        curated.python.conda_dependencies.add_pip_package(pkg)
    rc_ok = RunConfiguration()
    rc_ok.environment = curated
    rc_old = RunConfiguration(
        conda_dependencies=CondaDependencies.create(pip_packages=["azureml-core", *OLD_PINS])
    )
    ok = PythonScriptStep("show.py", name="ok", source_directory=str(src), runconfig=rc_ok, allow_reuse=False)
    old = PythonScriptStep(
        "show.py", name="old", source_directory=str(src), runconfig=rc_old, allow_reuse=False
    )
    run = Experiment(ws, "envs_v1").submit(Pipeline(ws, [ok, old]), continue_on_step_failure=True)
    assert run.wait_for_completion(show_output=False, raise_on_error=False) == "Failed"
    steps = {s.name: s for s in run.get_steps()}
    assert steps["ok"].get_status() == "Finished"
    assert f"python {sys.executable}" in steps["ok"].get_stdout_log()
    assert steps["old"].get_status() == "Failed"
    error = steps["old"].get_details()["error"]["error"]["message"]
    assert "'numpy==1.19.5' (from pip_packages)" in error and "nearest version that installs here" in error
    assert "'numpy==1.19.5' (from pip_packages)" in steps["old"].get_job_log()
    assert "uses the curated environment 'AzureML-Minimal'" in steps["ok"].get_job_log()
    assert marker.read_text() == "x", "only the 'ok' step's script started"
    log = Path(run._backend.handle.log_file).read_text()
    assert "uses the curated environment 'AzureML-Minimal'" in log
    assert "'azureml-core==1.48.0' (pip_packages) is not installed" in log


def _wheel(folder: Path, name: str = "azmlprobe", version: str = "0.1") -> Path:
    """A minimal pure-Python wheel (a package mirror's file), made here."""
    import zipfile

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}-{version}-py3-none-any.whl"
    info = f"{name}-{version}.dist-info"
    files = {
        f"{name}.py": "VALUE = 42\n",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    with zipfile.ZipFile(path, "w") as zf:
        for arc, text in files.items():
            zf.writestr(arc, text)
        zf.writestr(f"{info}/RECORD", "".join(f"{arc},,\n" for arc in [*files, f"{info}/RECORD"]))
    return path


def test_pip_index_settings_reach_the_environment_build(azml_home, tmp_path, monkeypatch):
    """A worker set up for pip (PIP_FIND_LINKS / PIP_NO_INDEX, as with a corporate mirror) builds from
    that source, never from PyPI: the proxy here refuses every connection."""
    _wheel(tmp_path / "mirror")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path / "mirror"))
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    python = interpreter_for(
        {"name": "s", "environment": {"pip": ["azmlprobe", "azureml-defaults"], "conda": []}}
    )
    assert python != sys.executable
    out = subprocess.run(
        [python, "-c", "import azmlprobe; print(azmlprobe.VALUE)"], capture_output=True, text=True
    )
    assert out.stdout.strip() == "42", out.stderr


def test_unreachable_index_is_said_as_such(azml_home, monkeypatch):
    monkeypatch.setenv(
        "HTTPS_PROXY", "http://127.0.0.1:9"
    )  # nothing listens there: the index cannot be reached
    monkeypatch.delenv("PIP_FIND_LINKS", raising=False)
    reqs = requirements_from_spec({"pip": ["azml-probe-not-cached-7c1e"], "conda": []}, "train")
    with pytest.raises(UserErrorException) as err:
        EnvironmentCache().ensure(reqs, "train")
    msg = str(err.value)
    assert "could not be reached through the proxy http://127.0.0.1:9 (HTTPS_PROXY)" in msg
    assert "UV_INDEX_URL / PIP_INDEX_URL" in msg


def test_requirements_the_worker_already_has_build_nothing(azml_home, caplog, monkeypatch):
    """v1 samples ask for pandas or numpy that the worker has: no environment, no network."""
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    caplog.set_level(logging.INFO, logger="test_env")
    deps = CondaDependencies()
    deps.add_pip_package("pandas")
    deps.add_conda_package("numpy>=1.20")
    deps.add_pip_package("azureml-sdk")
    spec = runconfig_spec(RunConfiguration(conda_dependencies=deps))
    assert (
        interpreter_for({"name": "prep", "environment": spec}, logging.getLogger("test_env"))
        == sys.executable
    )
    assert "the worker's Python already has pandas " in caplog.text and "no environment built" in caplog.text
    assert not (azml_home / "envs").exists()
