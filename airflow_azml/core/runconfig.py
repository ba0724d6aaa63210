"""RunConfiguration, Environment and CondaDependencies: what a step's process needs."""

from __future__ import annotations

from typing import Any

from airflow_azml.core.databricks import (
    DatabricksSection,
    EggLibrary,
    JarLibrary,
    MavenLibrary,
    PyPiLibrary,
    RCranLibrary,
)
from airflow_azml.exceptions import UserErrorException

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


class CondaDependencies:
    """Package lists. conda packages are installed with pip under the same names."""

    def __init__(self, conda_dependencies_file_path: str | None = None, _underlying_structure: Any = None):
        self.conda_packages: list[str] = []
        self.pip_packages: list[str] = []
        self.python_version: str | None = None

    @staticmethod
    def create(
        pip_packages: list[str] | None = None,
        conda_packages: list[str] | None = None,
        python_version: str | None = None,
        pin_sdk_version: bool = True,
        **_: Any,
    ) -> CondaDependencies:
        deps = CondaDependencies()
        deps.pip_packages = list(pip_packages or [])
        deps.conda_packages = list(conda_packages or [])
        deps.python_version = python_version
        return deps

    def add_pip_package(self, pip_package: str) -> None:
        self.pip_packages.append(pip_package)

    def add_conda_package(self, conda_package: str) -> None:
        self.conda_packages.append(conda_package)

    def set_python_version(self, version: str) -> None:
        self.python_version = version


class _PythonSection:
    def __init__(self) -> None:
        self.conda_dependencies = CondaDependencies()
        self.user_managed_dependencies = False
        self.interpreter_path = "python"


class DockerConfiguration:
    def __init__(self, use_docker: bool = False, **_: Any):
        self.use_docker = use_docker


class _DockerSection:
    def __init__(self) -> None:
        self.enabled = False
        self.base_image: str | None = None


class Environment:
    """``Environment(name)`` with ``python.conda_dependencies``, ``docker``, ``environment_variables``."""

    def __init__(self, name: str = "default"):
        self.name = name
        self.python = _PythonSection()
        self.docker = _DockerSection()
        self.environment_variables: dict[str, str] = {}
        self.version: str | None = None

    @staticmethod
    def from_pip_requirements(name: str, file_path: str) -> Environment:
        env = Environment(name)
        with open(file_path) as fh:
            env.python.conda_dependencies.pip_packages = [
                line.strip() for line in fh if line.strip() and not line.startswith("#")
            ]
        return env

    @staticmethod
    def from_conda_specification(name: str, file_path: str) -> Environment:
        from airflow_azml.core.conda_dependencies import read_conda_file

        env = Environment(name)
        env.python.conda_dependencies = read_conda_file(file_path)
        return env

    def register(self, workspace: Any) -> Environment:
        return self

    @staticmethod
    def get(workspace: Any, name: str, version: str | None = None) -> Environment:
        return Environment(name)


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
    }


def runconfig_distribution(runconfig: Any, step: str = "?") -> dict[str, Any] | None:
    """How many processes a RunConfiguration asks for, as plan data (refusing several nodes)."""
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
    if nodes > 1:
        from airflow_azml.execution.distributed import multi_node_error

        raise UserErrorException(multi_node_error(f"Step {step!r}", nodes))
    return {"node_count": nodes, "process_count_per_node": per_node, "backend": backend}
