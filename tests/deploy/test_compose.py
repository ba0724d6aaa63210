"""Static checks of docker-compose.yaml and docker/Dockerfile (the distributed setup).

No container runs here. When the `docker compose` plugin is present, `docker compose config`
validates the file (it needs no running engine); the rest reads the YAML with PyYAML, which
resolves the `<<:` merge keys the same way Compose does.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yaml"
DOCKERFILE = REPO_ROOT / "docker" / "Dockerfile"
WORKSPACE_FILE = REPO_ROOT / "docker" / "workspace.json"
WORKSPACE_MOUNT = "/opt/airflow/workspace.json"

BACKING_SERVICES = {"postgres", "redis", "azurite"}
AIRFLOW_SERVICES = {
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker-cpu",
    "airflow-worker-gpu",
}
ONE_SHOT_SERVICES = {"airflow-init"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def _command(service: dict[str, Any]) -> list[str]:
    command = service.get("command", [])
    return shlex.split(command) if isinstance(command, str) else list(command)


def _option(argv: list[str], *names: str) -> str:
    for index, arg in enumerate(argv):
        if arg in names:
            return argv[index + 1]
    raise AssertionError(f"none of {names} in {argv}")


def _docker_compose_missing() -> str | None:
    if shutil.which("docker") is None:
        return "docker is not installed"
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        detail = (probe.stderr.strip() or probe.stdout.strip()).splitlines()
        return f"the docker compose plugin is not available ({detail[0] if detail else 'no output'})"
    return None


def test_docker_compose_accepts_the_file() -> None:
    reason = _docker_compose_missing()
    if reason:
        pytest.skip(reason)
    proc = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE_FILE), "config", "--quiet"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr


def test_every_service_exists(services: dict[str, dict[str, Any]]) -> None:
    missing = sorted((BACKING_SERVICES | AIRFLOW_SERVICES) - set(services))
    assert missing == []


def test_backing_services(services: dict[str, dict[str, Any]]) -> None:
    assert services["postgres"]["image"] == "postgres:16"
    assert services["postgres"]["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]
    assert services["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]

    azurite = services["azurite"]
    assert azurite["image"].startswith("mcr.microsoft.com/azure-storage/azurite")
    argv = _command(azurite)
    assert argv[0] == "azurite-blob"  # blob only: no queue or table service
    assert "--disableTelemetry" in argv
    assert _option(argv, "--blobHost") == "0.0.0.0"


def test_api_server_listens_on_8080(services: dict[str, dict[str, Any]]) -> None:
    api = services["airflow-apiserver"]
    argv = _command(api)
    assert argv[0] == "api-server"
    assert _option(argv, "--port", "-p") == "8080"
    assert "8080:8080" in api["ports"]
    assert "http://localhost:8080/api/v2/monitor/health" in api["healthcheck"]["test"]


def test_every_long_running_service_has_a_healthcheck(services: dict[str, dict[str, Any]]) -> None:
    without = sorted(
        name
        for name, service in services.items()
        if name not in ONE_SHOT_SERVICES and not service.get("healthcheck", {}).get("test")
    )
    assert without == []


@pytest.mark.parametrize("name", sorted(AIRFLOW_SERVICES))
def test_airflow_service_gets_the_shared_environment(services: dict[str, dict[str, Any]], name: str) -> None:
    service = services[name]
    env = service["environment"]

    assert service["build"]["dockerfile"] == "docker/Dockerfile"
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "false"
    assert env["AIRFLOW__CORE__PARALLELISM"] == "8"
    assert env["AIRFLOW__CORE__XCOM_BACKEND"] == "airflow_azml.provider.xcom.DatastoreXComBackend"
    assert env["AZML_WORKSPACE_CONFIG"] == WORKSPACE_MOUNT
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
    assert "8080" in env["AIRFLOW__API__BASE_URL"]

    database = urlsplit(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    assert (database.scheme, database.hostname, database.path) == (
        "postgresql+psycopg2",
        "postgres",
        "/airflow",
    )
    assert urlsplit(env["AIRFLOW__CELERY__BROKER_URL"]).scheme == "redis"
    assert urlsplit(env["AIRFLOW__CELERY__BROKER_URL"]).hostname == "redis"
    assert urlsplit(env["AIRFLOW__CELERY__RESULT_BACKEND"]).hostname == "postgres"

    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] == "admin:admin,viewer:viewer"
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"].startswith("/opt/airflow/config/")
    assert env["AIRFLOW_CONFIG"].startswith("/opt/airflow/config/")  # shared fernet key / JWT secret


def test_datastore_connection_points_at_azurite(services: dict[str, dict[str, Any]]) -> None:
    blob_port = _option(_command(services["azurite"]), "--blobPort")
    for name in sorted(AIRFLOW_SERVICES):
        conn = json.loads(services[name]["environment"]["AIRFLOW_CONN_AZML_BLOB"])
        assert conn["conn_type"] == "wasb", name
        fields = dict(p.split("=", 1) for p in conn["extra"]["connection_string"].split(";") if p)
        assert fields["AccountName"] == "devstoreaccount1"
        assert fields["BlobEndpoint"] == f"http://azurite:{blob_port}/devstoreaccount1"


@pytest.mark.parametrize("name", sorted(AIRFLOW_SERVICES))
def test_airflow_service_mounts_dags_logs_and_config(services: dict[str, dict[str, Any]], name: str) -> None:
    volumes = services[name]["volumes"]
    assert "./dags:/opt/airflow/dags" in volumes
    assert "./logs:/opt/airflow/logs" in volumes
    assert "./config:/opt/airflow/config" in volumes
    assert f"./docker/workspace.json:{WORKSPACE_MOUNT}:ro" in volumes


@pytest.mark.parametrize("name", sorted(AIRFLOW_SERVICES))
def test_airflow_service_waits_for_healthy_backends(services: dict[str, dict[str, Any]], name: str) -> None:
    depends_on = services[name]["depends_on"]
    for backing in sorted(BACKING_SERVICES):
        assert depends_on[backing] == {"condition": "service_healthy"}, (name, backing)
    if name not in ONE_SHOT_SERVICES:
        assert depends_on["airflow-init"] == {"condition": "service_completed_successfully"}


def test_init_migrates_the_database_and_creates_the_container(services: dict[str, dict[str, Any]]) -> None:
    script = "\n".join(_command(services["airflow-init"]))
    assert "airflow db migrate" in script
    assert "airflow config list" in script  # writes the shared airflow.cfg before anything starts
    assert re.search(r"WasbHook\(wasb_conn_id='azml_blob'\)\.create_container\('azml'\)", script)


def test_workers_listen_on_distinct_queues(services: dict[str, dict[str, Any]]) -> None:
    cpu, gpu = _command(services["airflow-worker-cpu"]), _command(services["airflow-worker-gpu"])
    assert cpu[:2] == gpu[:2] == ["celery", "worker"]
    cpu_queues = set(_option(cpu, "--queues", "-q").split(","))
    gpu_queues = set(_option(gpu, "--queues", "-q").split(","))

    assert cpu_queues == {"default", "cpu"}
    assert gpu_queues == {"gpu"}
    assert cpu_queues.isdisjoint(gpu_queues)

    cpu_host, gpu_host = _option(cpu, "--celery-hostname", "-H"), _option(gpu, "--celery-hostname", "-H")
    assert cpu_host != gpu_host
    for host, name in [(cpu_host, "airflow-worker-cpu"), (gpu_host, "airflow-worker-gpu")]:
        ping = services[name]["healthcheck"]["test"][-1]
        assert f'-d "{host.split("@")[0]}@$${{HOSTNAME}}"' in ping, name
        assert services[name]["environment"]["DUMB_INIT_SETSID"] == "0"


def test_workspace_file_shares_azurite_and_routes_targets_to_worker_queues(
    services: dict[str, dict[str, Any]],
) -> None:
    """Steps on different containers meet on the Blob datastore; cpu/gpu targets reach their workers."""
    workspace = json.loads(WORKSPACE_FILE.read_text())
    default = workspace["datastores"][workspace["default_datastore"]]
    assert default["type"] == "azure_blob"
    assert f"AIRFLOW_CONN_{default['conn_id'].upper()}" in services["airflow-worker-cpu"]["environment"]
    assert f"create_container('{default['container_name']}')" in "\n".join(_command(services["airflow-init"]))
    served = {
        name: set(_option(_command(services[name]), "--queues", "-q").split(","))
        for name in ("airflow-worker-cpu", "airflow-worker-gpu")
    }
    for target, spec in workspace["compute_targets"].items():
        owners = [name for name, queues in served.items() if spec["queue"] in queues]
        assert owners == [f"airflow-worker-{target}"], (target, spec["queue"], served)
    for name in served:
        assert services[name]["environment"]["AZML_WORKER_NAME"] == name
    for spec in workspace["datastores"].values():  # paths inside the containers, not on the host
        assert spec["type"] != "local" or spec["path"].startswith("/opt/airflow/dags/")


def test_dockerfile_installs_the_project() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    assert project["name"] == "airflow-azml"
    assert "distributed" in project["optional-dependencies"]

    lines = [line.strip() for line in DOCKERFILE.read_text().splitlines()]
    instructions = [line for line in lines if line and not line.startswith("#")]
    base = re.fullmatch(r"FROM apache/airflow:(\d+)\.(\d+)\.(\d+)-python3\.(\d+)", instructions[0])
    assert base, instructions[0]
    assert tuple(map(int, base.groups()[:3])) >= (3, 3, 2)
    assert int(base.group(4)) >= 11

    copies = " ".join(line for line in instructions if line.startswith("COPY"))
    for needed in ("pyproject.toml", "README.md", "airflow_azml"):
        assert needed in copies

    run = next(i for i, line in enumerate(instructions) if line.startswith("RUN pip install"))
    assert "USER airflow" in instructions[:run]
    assert "--no-cache-dir" in instructions[run]
    assert re.search(r'"/opt/airflow-azml\[distributed\]"', instructions[run])
    assert '"apache-airflow==${AIRFLOW_VERSION}"' in instructions[run]
