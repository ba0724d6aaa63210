"""azureml.core.conda_dependencies: CondaDependencies and conda file reading."""

from __future__ import annotations

from airflow_azml.core.runconfig import CondaDependencies

__all__ = ["CondaDependencies", "read_conda_file"]


def read_conda_file(file_path: str) -> CondaDependencies:
    """Read a conda environment YAML: plain entries are conda packages, a ``pip:`` list pip ones."""
    import yaml

    with open(file_path) as fh:
        data = yaml.safe_load(fh) or {}
    deps = CondaDependencies()
    for entry in data.get("dependencies", []) or []:
        if isinstance(entry, dict):
            deps.pip_packages += [str(p) for p in entry.get("pip", [])]
        elif str(entry).startswith("python=") or str(entry) == "python":
            deps.python_version = str(entry).partition("=")[2] or None
        elif str(entry) != "pip":
            deps.conda_packages.append(str(entry))
    return deps
