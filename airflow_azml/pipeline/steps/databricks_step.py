"""DatabricksStep: a notebook, Python script or JAR run as a one-time Databricks job.

The step only describes the job; the operator (``operators/databricks.py``) submits it with
``apache-airflow-providers-databricks``. Every rule of v1 about which parameters go together
is checked here, when the pipeline is built, and each error names the parameters involved.
"""

from __future__ import annotations

from typing import Any

from airflow_azml.core.databricks import (
    LIBRARY_PARAMS,
    EggLibrary,
    JarLibrary,
    MavenLibrary,
    PyPiLibrary,
    RCranLibrary,
    refuse_placeholders,
)
from airflow_azml.exceptions import UserErrorException
from airflow_azml.pipeline.core.builder import PipelineStep
from airflow_azml.pipeline.core.graph import PipelineParameter
from airflow_azml.pipeline.steps.python_script_step import script_problems

__all__ = [
    "DatabricksStep",
    "PyPiLibrary",
    "MavenLibrary",
    "JarLibrary",
    "EggLibrary",
    "RCranLibrary",
    "library_spec",
]

_NEW_CLUSTER_PARAMS = (
    "spark_version",
    "node_type",
    "instance_pool_id",
    "num_workers",
    "min_workers",
    "max_workers",
    "spark_conf",
    "spark_env_variables",
    "init_scripts",
    "cluster_log_dbfs_path",
)
_LIBRARY_PARAMS = tuple(LIBRARY_PARAMS)
_TASK_PARAMS = ("notebook_path", "python_script_path", "python_script_name", "main_class_name")
#: v1 gave a new cluster spark_version "4.0.x-scala2.11", a runtime Databricks retired long ago;
#: ours: a current long-term-support runtime. The node type is v1's default.
DEFAULT_SPARK_VERSION = "15.4.x-scala2.12"
DEFAULT_NODE_TYPE = "Standard_D3_v2"


def library_spec(lib: Any, param: str, step: str) -> dict[str, Any]:
    """One library as the Databricks ``libraries`` entry: a library object, a dict, or a plain string."""
    if hasattr(lib, "to_spec"):
        return lib.to_spec()
    if isinstance(lib, dict):
        return dict(lib)
    if isinstance(lib, str) and lib:
        key = LIBRARY_PARAMS[param]
        return (
            {key: {"package": lib}}
            if key in ("pypi", "cran")
            else ({key: {"coordinates": lib}} if key == "maven" else {key: lib})
        )
    raise UserErrorException(
        f"DatabricksStep {step!r}: {param} holds {lib!r}; use PyPiLibrary/MavenLibrary/JarLibrary/EggLibrary/"
        "RCranLibrary objects, dicts in the Databricks API form, or strings."
    )


def _given(values: dict[str, Any], names: tuple[str, ...]) -> list[str]:
    return [n for n in names if values.get(n) not in (None, [], {}, "")]


def _check_task(values: dict[str, Any], name: str) -> str:
    """Exactly one of the four task kinds, with the parameters that belong to it."""
    tasks = _given(values, _TASK_PARAMS)
    if len(tasks) != 1:
        given = ", ".join(tasks) if tasks else "none of them"
        raise UserErrorException(
            f"DatabricksStep {name!r}: give exactly one of notebook_path, python_script_path, python_script_name "
            f"or main_class_name (got {given})."
        )
    task = tasks[0]
    owners = {
        "notebook_params": "notebook_path",
        "python_script_params": "python_script_path|python_script_name",
        "jar_params": "main_class_name",
    }
    for param, owner in owners.items():
        if values.get(param) and task not in owner.split("|"):
            raise UserErrorException(
                f"DatabricksStep {name!r}: {param} goes with {owner.replace('|', ' or ')}, but the step runs "
                f"{task}={values[task]!r}; remove {param} or change the task."
            )
    if task == "python_script_name" and not values.get("source_directory"):
        raise UserErrorException(
            f"DatabricksStep {name!r}: python_script_name needs source_directory, the local folder that holds "
            f"{values['python_script_name']!r} (it is uploaded to DBFS when the step runs)."
        )
    if values.get("source_directory") and task != "python_script_name":
        raise UserErrorException(
            f"DatabricksStep {name!r}: source_directory is only used with python_script_name (the step runs {task})."
        )
    return task


def _check_cluster(values: dict[str, Any], name: str) -> None:
    """existing_cluster_id excludes every new-cluster parameter; a new cluster needs its size.

    As in v1, a new cluster without spark_version or node_type/instance_pool_id gets defaults.
    """
    new = _given(values, _NEW_CLUSTER_PARAMS)
    if values.get("existing_cluster_id"):
        if new:
            raise UserErrorException(
                f"DatabricksStep {name!r}: existing_cluster_id cannot be combined with new-cluster parameters "
                f"({', '.join(new)}); drop them or drop existing_cluster_id."
            )
        return
    if values.get("permit_cluster_restart") is not None:
        raise UserErrorException(
            f"DatabricksStep {name!r}: permit_cluster_restart only applies with existing_cluster_id."
        )
    if not values.get("spark_version"):
        values["spark_version"] = DEFAULT_SPARK_VERSION
    if not values.get("node_type") and not values.get("instance_pool_id"):
        values["node_type"] = DEFAULT_NODE_TYPE
    problems = []
    if values.get("node_type") and values.get("instance_pool_id"):
        problems.append("exactly one of node_type or instance_pool_id")
    sized = values.get("num_workers") is not None
    scaled = values.get("min_workers") is not None or values.get("max_workers") is not None
    both_bounds = values.get("min_workers") is not None and values.get("max_workers") is not None
    if sized == scaled or (scaled and not both_bounds):
        problems.append("either num_workers or both min_workers and max_workers")
    if problems:
        raise UserErrorException(
            f"DatabricksStep {name!r}: without existing_cluster_id the step creates a cluster and needs "
            f"{'; '.join(problems)}."
        )


def _section(runconfig: Any) -> Any:
    """``runconfig.environment.databricks`` (v1's DatabricksSection), or None."""
    return getattr(getattr(runconfig, "environment", None), "databricks", None)


def _runconfig_libraries(runconfig: Any) -> dict[str, list]:
    """Libraries of the runconfig's DatabricksSection, if any."""
    section = _section(runconfig)
    return {p: list(getattr(section, p, None) or []) for p in _LIBRARY_PARAMS} if section is not None else {}


def _runconfig_cluster(values: dict[str, Any]) -> None:
    """v1: a cluster in ``runconfig.environment.databricks.cluster`` replaces the step's cluster arguments."""
    cluster = getattr(_section(values.get("runconfig")), "cluster", None)
    if cluster is not None:
        values.update(
            {k: v for k, v in vars(cluster).items() if k in (*_NEW_CLUSTER_PARAMS, "existing_cluster_id")}
        )


#: what to give instead of a sample's ``<placeholder>``, per argument
_PLACEHOLDER_HINTS = {
    "notebook_path": "the notebook's path in the Databricks workspace, e.g. '/Users/you@example.com/prep'",
    "python_script_path": "the script's DBFS path, e.g. 'dbfs:/scripts/train.py'",
    "jar_libraries": "the jar's DBFS path, e.g. 'dbfs:/jars/app.jar'",
    "egg_libraries": "the egg's DBFS path, e.g. 'dbfs:/eggs/lib.egg'",
    "existing_cluster_id": "the id of a running cluster, e.g. '0123-456789-abcdefgh'",
}


def _refuse_placeholders(values: dict[str, Any], name: str) -> None:
    """A sample's unfilled ``<...>`` setting fails here, naming it, not as a 404 from Databricks at run time."""
    settings = list(values.items())
    for param in _LIBRARY_PARAMS:
        libraries = [lib for lib in values.get(param) or [] if hasattr(lib, "to_spec")]
        settings += [(param, v) for lib in libraries for v in vars(lib).values()]
    refuse_placeholders(f"DatabricksStep {name!r}", settings, _PLACEHOLDER_HINTS)


def _libraries(values: dict[str, Any], name: str) -> list[dict[str, Any]]:
    direct = _given(values, _LIBRARY_PARAMS)
    from_rc = _runconfig_libraries(values.get("runconfig"))
    if direct and values.get("runconfig") is not None:
        raise UserErrorException(
            f"DatabricksStep {name!r}: give libraries through {', '.join(direct)} or through runconfig, not both."
        )
    source = (
        from_rc if values.get("runconfig") is not None else {p: values.get(p) or [] for p in _LIBRARY_PARAMS}
    )
    return [library_spec(lib, param, name) for param in _LIBRARY_PARAMS for lib in source.get(param, [])]


def _encode_value(value: Any, where: str, name: str) -> Any:
    if isinstance(value, PipelineParameter):
        return {"$param": value.name}
    if isinstance(value, bool | int | float | str):
        return value
    raise UserErrorException(
        f"DatabricksStep {name!r}: {where} holds {value!r}; use str, int, float, bool or a PipelineParameter."
    )


class DatabricksStep(PipelineStep):
    """v1's ``DatabricksStep(name, inputs=None, outputs=None, existing_cluster_id=None, spark_version=None,
    node_type=None, instance_pool_id=None, num_workers=None, min_workers=None, max_workers=None,
    spark_env_variables=None, spark_conf=None, init_scripts=None, cluster_log_dbfs_path=None, notebook_path=None,
    notebook_params=None, python_script_path=None, python_script_params=None, main_class_name=None,
    jar_params=None, python_script_name=None, source_directory=None, hash_paths=None, run_name=None,
    timeout_seconds=None, runconfig=None, maven_libraries=None, pypi_libraries=None, egg_libraries=None,
    jar_libraries=None, rcran_libraries=None, compute_target=None, allow_reuse=True, version=None,
    permit_cluster_restart=None)``."""

    step_kind = "databricks"
    operator_class = "airflow_azml.provider.operators.databricks.DatabricksStepOperator"

    def __init__(
        self,
        name: str,
        inputs: list | None = None,
        outputs: list | None = None,
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
        notebook_path: str | None = None,
        notebook_params: dict | None = None,
        python_script_path: str | None = None,
        python_script_params: list | None = None,
        main_class_name: str | None = None,
        jar_params: list | None = None,
        python_script_name: str | None = None,
        source_directory: str | None = None,
        hash_paths: list | None = None,
        run_name: str | None = None,
        timeout_seconds: int | None = None,
        runconfig: Any = None,
        maven_libraries: list | None = None,
        pypi_libraries: list | None = None,
        egg_libraries: list | None = None,
        jar_libraries: list | None = None,
        rcran_libraries: list | None = None,
        compute_target: Any = None,
        allow_reuse: bool = True,
        version: str | None = None,
        permit_cluster_restart: bool | None = None,
    ):
        values = {k: v for k, v in locals().items() if k not in ("self", "__class__")}
        _runconfig_cluster(values)
        _refuse_placeholders(values, name)
        self.task_kind = _check_task(values, name)
        _check_cluster(values, name)
        self.libraries = _libraries(values, name)
        if self.task_kind == "main_class_name" and not any("jar" in lib for lib in self.libraries):
            raise UserErrorException(
                f"DatabricksStep {name!r}: main_class_name {main_class_name!r} needs the jar that holds it in "
                "jar_libraries (or in the runconfig's Databricks libraries)."
            )
        if timeout_seconds is not None and (isinstance(timeout_seconds, bool) or int(timeout_seconds) <= 0):
            raise UserErrorException(f"DatabricksStep {name!r}: timeout_seconds must be a positive int.")
        self._values = values
        self.python_script_name = python_script_name
        self.notebook_params = dict(notebook_params or {})
        self.python_script_params = list(python_script_params or [])
        self.jar_params = list(jar_params or [])
        super().__init__(name, inputs, outputs, None, compute_target, allow_reuse, version, source_directory)

    def _extra_parameters(self) -> list[PipelineParameter]:
        values = [*self.notebook_params.values(), *self.python_script_params, *self.jar_params]
        return [v for v in values if isinstance(v, PipelineParameter)]

    def check(self, workspace: Any) -> list[str]:
        problems = script_problems(self, self.python_script_name) if self.python_script_name else []
        spec = (
            workspace._compute_specs.get(self.compute_target, {}) if workspace and self.compute_target else {}
        )
        if spec and spec.get("type") != "Databricks":
            problems.append(
                f"Step {self.name!r}: compute target {self.compute_target!r} is of type {spec.get('type')!r}; a "
                "DatabricksStep needs a Databricks target (DatabricksCompute.attach_configuration(conn_id=...))."
            )
        return problems

    def _task(self) -> dict[str, Any]:
        v, name = self._values, self.name
        if self.task_kind == "notebook_path":
            params = {
                str(k): _encode_value(x, f"notebook_params[{k!r}]", name)
                for k, x in self.notebook_params.items()
            }
            return {"notebook_task": {"notebook_path": v["notebook_path"], "base_parameters": params}}
        if self.task_kind == "main_class_name":
            params = [_encode_value(x, "jar_params", name) for x in self.jar_params]
            return {"spark_jar_task": {"main_class_name": v["main_class_name"], "parameters": params}}
        params = [_encode_value(x, "python_script_params", name) for x in self.python_script_params]
        if self.task_kind == "python_script_path":
            return {"spark_python_task": {"python_file": v["python_script_path"], "parameters": params}}
        return {
            "spark_python_task": {"python_file": {"$upload": self.python_script_name}, "parameters": params}
        }

    def _cluster(self) -> dict[str, Any]:
        v = self._values
        if v.get("existing_cluster_id"):
            return {"existing_cluster_id": v["existing_cluster_id"]}
        cluster: dict[str, Any] = {"spark_version": v["spark_version"]}
        if v.get("node_type"):
            cluster["node_type_id"] = v["node_type"]
        else:
            cluster["instance_pool_id"] = v["instance_pool_id"]
        if v.get("num_workers") is not None:
            cluster["num_workers"] = int(v["num_workers"])
        else:
            cluster["autoscale"] = {
                "min_workers": int(v["min_workers"]),
                "max_workers": int(v["max_workers"]),
            }
        if v.get("spark_conf"):
            cluster["spark_conf"] = dict(v["spark_conf"])
        if v.get("spark_env_variables"):
            cluster["spark_env_vars"] = dict(v["spark_env_variables"])
        if v.get("init_scripts"):
            cluster["init_scripts"] = [
                {"dbfs": {"destination": s}} if isinstance(s, str) else s for s in v["init_scripts"]
            ]
        if v.get("cluster_log_dbfs_path"):
            cluster["cluster_log_conf"] = {"dbfs": {"destination": v["cluster_log_dbfs_path"]}}
        return {"new_cluster": cluster}

    def plan_fields(self) -> dict[str, Any]:
        """The job spec: task, cluster, libraries, run_name, timeout (placeholders resolved at run time)."""
        v = self._values
        job = {
            **self._task(),
            **self._cluster(),
            "libraries": self.libraries,
            "run_name": v.get("run_name") or self.name,
        }
        if v.get("timeout_seconds") is not None:
            job["timeout_seconds"] = int(v["timeout_seconds"])
        return {
            "databricks": job,
            "task_kind": self.task_kind,
            "script_name": self.python_script_name,
            "permit_cluster_restart": v.get("permit_cluster_restart"),
        }
