"""azureml.core.environment: Environment, what a step's process needs (packages, image, variables).

How v1's environments map here:

* Package lists (``python.conda_dependencies``, ``from_conda_specification``,
  ``from_pip_requirements``) become a virtual environment per distinct requirement set on the
  worker (execution/environments.py); ``azureml-*`` packages in them are never installed.
* Curated environments (``Environment.get(ws, "AzureML-...")``) were Docker images with a fixed
  package set. There is no image here: a step that uses one runs in the worker's Python, and
  both ``get`` and the step log say so.
* ``docker.base_image`` and ``from_dockerfile`` are recorded with the environment (and
  registered with it); no compute target in this deployment runs containers, so the step runs
  in the worker's Python environment, with a note in its log.
* ``register(ws)`` stores the definition as a version of its name on the workspace's default
  datastore (``.azml/environments/<name>/<version>.json``, the ``environments`` kind of the
  workspace registry, ``core/registry.py``); ``get`` and ``list`` read it there.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from airflow_azml.core.conda_dependencies import CondaDependencies
from airflow_azml.core.registry import KINDS, VersionedRegistry
from airflow_azml.exceptions import UserErrorException, did_you_mean

__all__ = ["Environment", "CondaDependencies", "DockerConfiguration", "PythonSection", "DockerSection"]

REGISTRY_PREFIX = KINDS["environments"]
_log = logging.getLogger("airflow_azml.environment")


def is_curated(name: str) -> bool:
    """v1's curated environments are the ones named ``AzureML-...``."""
    return name.lower().startswith("azureml-")


class PythonSection:
    def __init__(self) -> None:
        self.conda_dependencies = CondaDependencies()
        self.user_managed_dependencies = False
        self.interpreter_path = "python"


class DockerSection:
    def __init__(self) -> None:
        self.enabled = False
        self.base_image: str | None = None
        self.base_dockerfile: str | None = None
        self.base_image_registry: Any = None


class DockerConfiguration:
    def __init__(self, use_docker: bool = False, **_: Any):
        self.use_docker = use_docker


class Environment:
    """``Environment(name)`` with ``python.conda_dependencies``, ``docker``, ``environment_variables``."""

    def __init__(self, name: str = "default", **_: Any):
        self.name = name
        self.python = PythonSection()
        self.docker = DockerSection()
        self.environment_variables: dict[str, str] = {}
        self.version: str | None = None
        self.curated = False

    # -- building ------------------------------------------------------------------------
    @staticmethod
    def from_pip_requirements(name: str, file_path: str, pip_version: str | None = None) -> Environment:
        """The packages of a requirements file (``-r`` includes resolved against its folder)."""
        env = Environment(name)
        folder = os.path.dirname(os.path.abspath(file_path))
        with open(file_path) as fh:
            for raw in fh:
                line = raw.split(" #")[0].strip()
                if line.startswith(("-r ", "--requirement ")):
                    line = f"-r {os.path.join(folder, line.split(None, 1)[1])}"
                if line and not line.startswith("#"):
                    env.python.conda_dependencies.pip_packages.append(line)
        return env

    @staticmethod
    def from_conda_specification(name: str, file_path: str) -> Environment:
        env = Environment(name)
        env.python.conda_dependencies = CondaDependencies(file_path)
        return env

    @staticmethod
    def from_dockerfile(
        name: str,
        dockerfile: str,
        conda_specification: str | None = None,
        pip_requirements: str | None = None,
    ) -> Environment:
        """An environment built from a Dockerfile (its text, or a path to it): recorded with the
        environment; steps run in the worker's Python unless a container runtime is configured."""
        env = (
            Environment.from_conda_specification(name, conda_specification)
            if conda_specification
            else Environment.from_pip_requirements(name, pip_requirements)
            if pip_requirements
            else Environment(name)
        )
        if os.path.isfile(dockerfile):
            with open(dockerfile) as fh:
                dockerfile = fh.read()
        env.docker.base_dockerfile = dockerfile
        env.docker.base_image = None
        return env

    @staticmethod
    def from_docker_image(name: str, image: str, **_: Any) -> Environment:
        env = Environment(name)
        env.docker.base_image = image
        return env

    def clone(self, new_name: str) -> Environment:
        """A copy under ``new_name``, unregistered, to change (v1's way to extend a curated environment:
        the copy runs in the worker's Python plus the packages it lists)."""
        env = Environment.from_dict({**self.to_dict(), "name": new_name, "version": None, "curated": False})
        env.python.conda_dependencies.channels = list(self.python.conda_dependencies.channels)
        env.python.user_managed_dependencies = False
        return env

    # -- registry ------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        deps = self.python.conda_dependencies
        return {
            "name": self.name,
            "version": self.version,
            "curated": self.curated,
            "pip": list(deps.pip_packages),
            "conda": list(deps.conda_packages),
            "python_version": deps.python_version,
            "user_managed_dependencies": self.python.user_managed_dependencies,
            "docker": {"base_image": self.docker.base_image, "base_dockerfile": self.docker.base_dockerfile},
            "environment_variables": dict(self.environment_variables),
        }

    @staticmethod
    def from_dict(data: dict[str, Any]) -> Environment:
        env = Environment(data["name"])
        env.version = str(data["version"]) if data.get("version") is not None else None
        env.curated = bool(data.get("curated"))
        env.python.conda_dependencies = CondaDependencies.create(
            data.get("pip"), data.get("conda"), data.get("python_version")
        )
        env.python.user_managed_dependencies = bool(data.get("user_managed_dependencies"))
        env.docker.base_image = (data.get("docker") or {}).get("base_image")
        env.docker.base_dockerfile = (data.get("docker") or {}).get("base_dockerfile")
        env.environment_variables = dict(data.get("environment_variables") or {})
        return env

    def register(self, workspace: Any) -> Environment:
        """Store this definition as the next version of its name (or return the latest version
        when it is the same definition, as v1 does)."""
        reg = _registry(workspace)
        versions = reg.versions(self.name)
        body = {k: v for k, v in self.to_dict().items() if k != "version"}
        if versions:
            latest = reg.read(self.name, versions[-1])
            if {k: v for k, v in latest.items() if k != "version"} == body:
                self.version = str(versions[-1])
                return self
        self.version = str((versions[-1] if versions else 0) + 1)
        reg.write({**body, "version": int(self.version)})
        return self

    @staticmethod
    def get(workspace: Any, name: str, version: str | None = None, label: str | None = None) -> Environment:
        """A registered environment (latest version unless ``version``), or a curated one by name."""
        reg = _registry(workspace)
        versions = reg.versions(name)
        if versions:
            wanted = int(version) if version is not None else versions[-1]
            if wanted not in versions:
                raise UserErrorException(
                    f"Environment {name!r} has no version {version!r} in workspace {workspace.name!r}; "
                    f"its versions: {', '.join(map(str, versions))}."
                )
            return Environment.from_dict(reg.read(name, wanted))
        if is_curated(name):
            return _curated(name)
        known = sorted(reg.names())
        raise UserErrorException(
            f"No environment named {name!r} in workspace {workspace.name!r}.{did_you_mean(name, known)} Registered: "
            f"{', '.join(known) or '(none)'}. Register it with Environment(...).register(ws); curated v1 "
            "environments are the names starting with 'AzureML-'."
        )

    @staticmethod
    def list(workspace: Any) -> dict[str, Environment]:
        """The registered environments of the workspace, latest version of each, by name."""
        reg = _registry(workspace)
        return {name: Environment.get(workspace, name) for name in sorted(reg.names())}

    def __repr__(self) -> str:
        return f"Environment(name={self.name!r}, version={self.version!r})"


def _registry(workspace: Any) -> VersionedRegistry:
    return VersionedRegistry(workspace, "environments")


def _curated(name: str) -> Environment:
    env = Environment(name)
    env.curated = True
    env.python.user_managed_dependencies = True
    _log.warning(
        "Curated environment %r: there is no Azure ML image here; steps that use it run in the worker's own "
        "Python environment. Install what they need on the workers, or list it in the environment's "
        "pip/conda packages.",
        name,
    )
    return env
