"""azureml.core.databricks: the libraries and cluster a Databricks run asks for.

``PyPiLibrary``, ``MavenLibrary``, ``JarLibrary``, ``EggLibrary`` and ``RCranLibrary`` are
given to a ``DatabricksStep`` (``pypi_libraries=[...]``, ...) or gathered in a
``DatabricksSection`` set as ``runconfig.environment.databricks``; each becomes one entry of
the ``libraries`` list of the Databricks ``runs/submit`` request (``to_spec()``). v1 code
also imports them from ``azureml.core.runconfig``, which re-exports them.
"""

from __future__ import annotations

import re
from typing import Any

from airflow_azml.exceptions import UserErrorException

__all__ = [
    "PyPiLibrary",
    "MavenLibrary",
    "JarLibrary",
    "EggLibrary",
    "RCranLibrary",
    "DatabricksCluster",
    "DatabricksSection",
    "LIBRARY_PARAMS",
    "is_placeholder",
    "refuse_placeholders",
]

#: DatabricksStep / DatabricksSection argument -> key of the Databricks ``libraries`` entry
LIBRARY_PARAMS = {
    "maven_libraries": "maven",
    "pypi_libraries": "pypi",
    "egg_libraries": "egg",
    "jar_libraries": "jar",
    "rcran_libraries": "cran",
}
_PLACEHOLDER = re.compile(r"^\s*<[^<>]*>\s*$")


def is_placeholder(value: Any) -> bool:
    """True for a sample's unfilled setting such as ``"<my-access-token>"``."""
    return isinstance(value, str) and bool(_PLACEHOLDER.match(value))


def refuse_placeholders(
    what: str,
    settings: list[tuple[str, Any]],
    hints: dict[str, str],
    error: type[UserErrorException] = UserErrorException,
) -> None:
    """Raise ``error`` naming every (setting, value) that is still a sample's ``<...>``, and what to give."""
    found = [(k, v) for k, v in settings if is_placeholder(v)]
    if found:
        parts = [
            f"{k} is the placeholder {v!r}" + (f": give {hints[k]}" if k in hints else "") for k, v in found
        ]
        raise error(f"{what}: {'; '.join(parts)}.")


def _drop_none(spec: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in spec.items() if v is not None}


class PyPiLibrary:
    """``PyPiLibrary(package, repo=None)``: a package from PyPI (or the index ``repo``)."""

    def __init__(self, package: str, repo: str | None = None):
        self.package, self.repo = package, repo

    def to_spec(self) -> dict[str, Any]:
        return {"pypi": _drop_none({"package": self.package, "repo": self.repo})}

    def __repr__(self) -> str:
        return f"PyPiLibrary(package={self.package!r}, repo={self.repo!r})"


class MavenLibrary:
    """``MavenLibrary(coordinates, repo=None, exclusions=None)``: ``group:artifact:version`` from Maven."""

    def __init__(self, coordinates: str, repo: str | None = None, exclusions: list[str] | None = None):
        self.coordinates, self.repo = coordinates, repo
        self.exclusions = list(exclusions) if exclusions else None

    def to_spec(self) -> dict[str, Any]:
        spec = {"coordinates": self.coordinates, "repo": self.repo, "exclusions": self.exclusions}
        return {"maven": _drop_none(spec)}

    def __repr__(self) -> str:
        return f"MavenLibrary(coordinates={self.coordinates!r}, repo={self.repo!r}, exclusions={self.exclusions!r})"


class RCranLibrary:
    """``RCranLibrary(package, repo=None)``: an R package from CRAN (or the mirror ``repo``)."""

    def __init__(self, package: str, repo: str | None = None):
        self.package, self.repo = package, repo

    def to_spec(self) -> dict[str, Any]:
        return {"cran": _drop_none({"package": self.package, "repo": self.repo})}

    def __repr__(self) -> str:
        return f"RCranLibrary(package={self.package!r}, repo={self.repo!r})"


class JarLibrary:
    """``JarLibrary(library)``: a jar on DBFS or cloud storage (``dbfs:/jars/x.jar``)."""

    def __init__(self, library: str):
        self.library = library

    def to_spec(self) -> dict[str, Any]:
        return {"jar": self.library}

    def __repr__(self) -> str:
        return f"JarLibrary(library={self.library!r})"


class EggLibrary:
    """``EggLibrary(library)``: an egg on DBFS or cloud storage."""

    def __init__(self, library: str):
        self.library = library

    def to_spec(self) -> dict[str, Any]:
        return {"egg": self.library}

    def __repr__(self) -> str:
        return f"EggLibrary(library={self.library!r})"


class DatabricksCluster:
    """v1's ``DatabricksCluster``: the cluster part of a ``DatabricksSection`` (same names as DatabricksStep's)."""

    def __init__(
        self,
        existing_cluster_id: str | None = None,
        spark_version: str | None = None,
        node_type: str | None = None,
        instance_pool_id: str | None = None,
        num_workers: int | None = None,
        min_workers: int | None = None,
        max_workers: int | None = None,
        spark_env_variables: dict | None = None,
        spark_conf: dict | None = None,
        init_scripts: list | None = None,
        cluster_log_dbfs_path: str | None = None,
    ):
        self.existing_cluster_id = existing_cluster_id
        self.spark_version = spark_version
        self.node_type = node_type
        self.instance_pool_id = instance_pool_id
        self.num_workers = num_workers
        self.min_workers = min_workers
        self.max_workers = max_workers
        self.spark_env_variables = spark_env_variables
        self.spark_conf = spark_conf
        self.init_scripts = init_scripts
        self.cluster_log_dbfs_path = cluster_log_dbfs_path


class DatabricksSection:
    """v1's ``runconfig.environment.databricks``: libraries (and optionally a cluster) for a DatabricksStep."""

    def __init__(
        self,
        maven_libraries: list[MavenLibrary] | None = None,
        pypi_libraries: list[PyPiLibrary] | None = None,
        rcran_libraries: list[RCranLibrary] | None = None,
        jar_libraries: list[JarLibrary] | None = None,
        egg_libraries: list[EggLibrary] | None = None,
        cluster: DatabricksCluster | None = None,
    ):
        self.maven_libraries = list(maven_libraries or [])
        self.pypi_libraries = list(pypi_libraries or [])
        self.rcran_libraries = list(rcran_libraries or [])
        self.jar_libraries = list(jar_libraries or [])
        self.egg_libraries = list(egg_libraries or [])
        self.cluster = cluster
