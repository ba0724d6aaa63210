"""azureml.core.conda_dependencies: CondaDependencies, the package lists of an environment.

conda packages are installed with pip under the same names when a step runs (no conda here);
``azureml-*`` packages are never installed: airflow-azml provides those modules
(execution/environments.py says so in the step log).
"""

from __future__ import annotations

from typing import Any

__all__ = ["CondaDependencies", "read_conda_file"]


class CondaDependencies:
    """``CondaDependencies(conda_dependencies_file_path=None)``: conda and pip package lists."""

    def __init__(self, conda_dependencies_file_path: str | None = None, _underlying_structure: Any = None):
        self.conda_packages: list[str] = []
        self.pip_packages: list[str] = []
        self.python_version: str | None = None
        self.channels: list[str] = []
        if conda_dependencies_file_path:
            read_conda_file(conda_dependencies_file_path, into=self)

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

    def add_channel(self, channel: str) -> None:
        self.channels.append(channel)

    def remove_pip_package(self, pip_package: str) -> None:
        self.pip_packages = [p for p in self.pip_packages if p != pip_package]

    def remove_conda_package(self, conda_package: str) -> None:
        self.conda_packages = [p for p in self.conda_packages if p != conda_package]

    def set_python_version(self, version: str) -> None:
        self.python_version = version

    def serialize_to_string(self) -> str:
        """The conda environment YAML of these lists (what ``save`` writes)."""
        import yaml

        deps: list[Any] = [f"python={self.python_version}"] if self.python_version else []
        deps += list(self.conda_packages)
        if self.pip_packages:
            deps += ["pip", {"pip": list(self.pip_packages)}]
        data: dict[str, Any] = {"name": "project_environment", "dependencies": deps}
        if self.channels:
            data["channels"] = list(self.channels)
        return str(yaml.safe_dump(data, sort_keys=False))

    def save(self, path: str | None = None) -> str:
        target = path or "conda_dependencies.yml"
        with open(target, "w") as fh:
            fh.write(self.serialize_to_string())
        return target


def read_conda_file(file_path: str, into: CondaDependencies | None = None) -> CondaDependencies:
    """Read a conda environment YAML: plain entries are conda packages, a ``pip:`` list pip ones."""
    import yaml

    with open(file_path) as fh:
        data = yaml.safe_load(fh) or {}
    deps = into if into is not None else CondaDependencies()
    deps.channels += [str(c) for c in data.get("channels", []) or []]
    for entry in data.get("dependencies", []) or []:
        if isinstance(entry, dict):
            deps.pip_packages += [str(p) for p in entry.get("pip", [])]
        elif str(entry).startswith("python=") or str(entry) == "python":
            deps.python_version = str(entry).partition("=")[2] or None
        elif str(entry) != "pip":
            deps.conda_packages.append(str(entry))
    return deps
