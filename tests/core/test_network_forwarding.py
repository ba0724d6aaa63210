"""A workspace that forwards the submitting process's network settings (airflow.forward_network): the
plan carries the proxy and CA bundle, and a step on a worker without them fetches its web datasets
through them. Real sockets (a CONNECT proxy, an HTTPS server under a throwaway CA), a real step
process, no Airflow (StepExecution.run is the lifecycle a task runs)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from airflow_azml.compiler import compile_pipeline
from airflow_azml.core import Dataset, Workspace
from airflow_azml.core.network import FORWARD_ENV, NETWORK_ENVS, applied_network, client_network
from airflow_azml.data.dataset_consumption_config import DatasetConsumptionConfig
from airflow_azml.pipeline.core import Pipeline
from airflow_azml.pipeline.steps import PythonScriptStep
from tests.conftest import write
from tests.support.steps import run_only_step
from tests.support.web import LocalWeb

READ = """
from airflow_azml.core import Run
frame = Run.get_context().input_datasets["table"].to_pandas_dataframe()
Run.get_context().log("rows", len(frame))
"""


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in (*NETWORK_ENVS, FORWARD_ENV, "AZML_AIRFLOW_URL"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture
def web(tmp_path: Path):
    site = LocalWeb(tmp_path / "web")
    site.site.put("/demo/Titanic.csv", b"a,b\n1,2\n3,4\n")
    yield site
    site.close()


def _workspace(folder: Path, forward: bool | None) -> Workspace:
    airflow = {"base_url": "http://airflow.azml-test.invalid:8080"}
    if forward is not None:
        airflow["forward_network"] = forward
    (folder / "config.json").write_text(json.dumps({"workspace_name": "net-ws", "airflow": airflow}))
    return Workspace.from_config(folder)


def _plan(ws: Workspace, web: LocalWeb, src: Path) -> dict:
    write(src / "read.py", READ)
    table = DatasetConsumptionConfig(
        "table", Dataset.Tabular.from_delimited_files(web.proxied_url("/demo/Titanic.csv"))
    )
    step = PythonScriptStep("read.py", name="read", source_directory=str(src), inputs=[table])
    return compile_pipeline(Pipeline(ws, [step]), "net_forward")


def _run_step(plan: dict) -> dict:
    return run_only_step(plan)


def test_the_plan_carries_the_client_network_only_when_the_workspace_asks(tmp_path, clean_env, web):
    for name, value in web.proxy_env().items():
        clean_env.setenv(name, value)
    assert "network" not in _workspace(tmp_path, None).to_spec()["config"]
    assert "network" not in _workspace(tmp_path, False).to_spec()["config"]
    network = _workspace(tmp_path, True).to_spec()["config"]["network"]
    assert network == client_network() and network["HTTPS_PROXY"] == web.proxy_env()["HTTPS_PROXY"]
    # the environment switch does the same for a workspace without the setting
    clean_env.setenv(FORWARD_ENV, "1")
    assert _workspace(tmp_path, None).to_spec()["config"]["network"] == network
    # a local (embedded) run inherits the environment: nothing to forward
    (tmp_path / "config.json").write_text(json.dumps({"workspace_name": "net-ws"}))
    assert "network" not in Workspace.from_config(tmp_path).to_spec()["config"]


def test_a_proxy_password_is_not_forwarded(clean_env):
    clean_env.setenv("HTTPS_PROXY", "http://me:secret@proxy.corp:3128")
    clean_env.setenv("NO_PROXY", "localhost,10.0.0.0/8")
    assert client_network() == {
        "HTTPS_PROXY": "http://me@proxy.corp:3128",
        "NO_PROXY": "localhost,10.0.0.0/8",
    }


def test_applied_settings_are_restored_and_a_missing_ca_bundle_is_left_out(tmp_path, clean_env):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-")
    clean_env.setenv("NO_PROXY", "worker-own")
    forwarded = {
        "HTTPS_PROXY": "http://p:1",
        "NO_PROXY": "fwd",
        "SSL_CERT_FILE": str(tmp_path / "absent.pem"),
        "REQUESTS_CA_BUNDLE": str(bundle),
        "PATH": "/nowhere",  # not a network setting: never applied
    }
    path = os.environ["PATH"]
    with applied_network(forwarded):
        assert os.environ["HTTPS_PROXY"] == "http://p:1" and os.environ["NO_PROXY"] == "fwd"
        assert os.environ["REQUESTS_CA_BUNDLE"] == str(bundle) and "SSL_CERT_FILE" not in os.environ
        assert os.environ["PATH"] == path
    assert "HTTPS_PROXY" not in os.environ and os.environ["NO_PROXY"] == "worker-own"
    assert "REQUESTS_CA_BUNDLE" not in os.environ


def test_a_worker_without_a_proxy_fetches_through_the_forwarded_one(workspace_dir, clean_env, web):
    for name, value in web.proxy_env().items():  # the submitting notebook's environment
        clean_env.setenv(name, value)
    forwarded = _plan(_workspace(workspace_dir, True), web, workspace_dir / "steps")
    plain = _plan(_workspace(workspace_dir, False), web, workspace_dir / "steps")
    for name in NETWORK_ENVS:  # the worker's environment: no proxy, no CA bundle
        clean_env.delenv(name, raising=False)

    result = _run_step(forwarded)
    assert result["status"] == "Finished"
    assert web.site.tunnels  # the step (its inputs and its script) went through the forwarded proxy
    assert not any(os.environ.get(name) for name in NETWORK_ENVS)  # the task process is as it was

    with pytest.raises(Exception, match="Could not fetch .*Titanic.csv"):
        _run_step(plain)  # the same worker without the setting has no route to the data host
