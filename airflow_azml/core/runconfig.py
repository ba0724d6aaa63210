"""RunConfiguration: what a step's process needs (Environment and CondaDependencies live in
environment.py and conda_dependencies.py, and are importable from here as in v1)."""

from __future__ import annotations

from typing import Any

from airflow_azml.core.conda_dependencies import CondaDependencies
from airflow_azml.core.databricks import (
    DatabricksSection,
    EggLibrary,
    JarLibrary,
    MavenLibrary,
    PyPiLibrary,
    RCranLibrary,
)
from airflow_azml.core.environment import DockerConfiguration, Environment

__all__ = [
    "RunConfiguration",
    "Environment",
    "CondaDependencies",
    "DockerConfiguration",
    "DEFAULT_CPU_IMAGE",
    "DEFAULT_GPU_IMAGE",
    "runconfig_spec",
    "MpiConfiguration",
    "PyTorchConfiguration",
    "runconfig_distribution",
    # v1 code imports the Databricks library classes from azureml.core.runconfig
    "PyPiLibrary",
    "MavenLibrary",
    "JarLibrary",
    "EggLibrary",
    "RCranLibrary",
    "DatabricksSection",
]

DEFAULT_CPU_IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04"
DEFAULT_GPU_IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-cuda11.1-cudnn8-ubuntu20.04"


class MpiConfiguration:
    """``MpiConfiguration(process_count_per_node=1, node_count=1)``: N ranks started with MPI-style variables."""

    backend = "mpi"

    def __init__(self, process_count_per_node: int = 1, node_count: int = 1):
        self.process_count_per_node = process_count_per_node
        self.node_count = node_count


class PyTorchConfiguration:
    """``PyTorchConfiguration(communication_backend='Nccl', process_count=None, node_count=1)``."""

    backend = "pytorch"

    def __init__(
        self, communication_backend: str = "Nccl", process_count: int | None = None, node_count: int = 1
    ):
        self.communication_backend = communication_backend
        self.process_count = process_count
        self.node_count = node_count


class RunConfiguration:
    """``RunConfiguration(conda_dependencies=None)``: environment and target for a step."""

    def __init__(
        self,
        script: str | None = None,
        arguments: list | None = None,
        framework: str | None = None,
        communicator: str | None = None,
        conda_dependencies: CondaDependencies | None = None,
        **_: Any,
    ):
        self.environment = Environment("runconfig")
        if conda_dependencies is not None:
            self.environment.python.conda_dependencies = conda_dependencies
        self.target = "local"
        self.environment_variables: dict[str, str] = {}
        self.docker = DockerConfiguration()
        self.node_count = 1
        self.communicator = communicator or "None"
        self.framework = framework or "Python"
        self.mpi = MpiConfiguration()
        self.distributed_job_config: MpiConfiguration | PyTorchConfiguration | None = None
        self.max_run_duration_seconds: int | None = None


def runconfig_spec(
    runconfig: Any,
    extra_pip: list[str] | None = None,
    extra_conda: list[str] | None = None,
    env_vars: dict | None = None,
) -> dict[str, Any]:
    """The environment a step asks for, as plan data."""
    env = getattr(runconfig, "environment", runconfig) if runconfig is not None else None
    deps = getattr(getattr(env, "python", None), "conda_dependencies", None)
    docker = getattr(env, "docker", None)
    variables = dict(getattr(env, "environment_variables", {}) or {})
    variables.update(getattr(runconfig, "environment_variables", {}) or {})
    variables.update(env_vars or {})
    use_docker = bool(getattr(docker, "enabled", False)) or bool(
        getattr(getattr(runconfig, "docker", None), "use_docker", False)
    )
    return {
        "pip": list(getattr(deps, "pip_packages", []) or []) + list(extra_pip or []),
        "conda": list(getattr(deps, "conda_packages", []) or []) + list(extra_conda or []),
        "docker_image": getattr(docker, "base_image", None)
        if use_docker or getattr(docker, "base_image", None)
        else None,
        "env": {str(k): str(v) for k, v in variables.items()},
        **_environment_notes(env),
    }


def _environment_notes(env: Any) -> dict[str, Any]:
    """Plan keys a step's log explains (only when set, so other plans stay as they were)."""
    notes: dict[str, Any] = {}
    if getattr(env, "curated", False):
        notes["curated"] = env.name
    if getattr(getattr(env, "docker", None), "base_dockerfile", None):
        notes["dockerfile"] = True
    return notes


def runconfig_distribution(runconfig: Any, step: str = "?") -> dict[str, Any] | None:
    """How many processes a RunConfiguration asks for, as plan data (several nodes run on one worker)."""
    if runconfig is None:
        return None
    dist = getattr(runconfig, "distributed_job_config", None)
    nodes = int(getattr(dist, "node_count", None) or getattr(runconfig, "node_count", 1) or 1)
    if isinstance(dist, PyTorchConfiguration):
        per_node = max(1, int(dist.process_count or nodes) // nodes)
        backend = "pytorch"
    elif isinstance(dist, MpiConfiguration):
        per_node, backend = int(dist.process_count_per_node), "mpi"
    elif str(getattr(runconfig, "communicator", "None")).lower() in ("mpi", "intelmpi", "gloo", "nccl"):
        per_node = int(getattr(getattr(runconfig, "mpi", None), "process_count_per_node", 1) or 1)
        backend = str(runconfig.communicator).lower().replace("intelmpi", "mpi")
    else:
        per_node, backend = 1, None
    return {"node_count": nodes, "process_count_per_node": per_node, "backend": backend}
