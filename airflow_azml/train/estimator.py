"""Estimator and its framework flavours: a training script plus its environment and scale."""

from __future__ import annotations

from typing import Any

from airflow_azml.exceptions import UserErrorException

__all__ = ["Estimator", "MMLBaseEstimator"]


class MMLBaseEstimator:
    """What every estimator shares (v1 base class name)."""

    framework_name = "Python"
    single_node_only = False

    def __init__(
        self,
        source_directory: str,
        *,
        compute_target: Any = None,
        vm_size: str | None = None,
        vm_priority: str | None = None,
        entry_script: str | None = None,
        script_params: dict | None = None,
        node_count: int = 1,
        process_count_per_node: int = 1,
        distributed_backend: str | None = None,
        distributed_training: Any = None,
        use_gpu: bool = False,
        use_docker: bool = True,
        custom_docker_base_image: str | None = None,
        custom_docker_image: str | None = None,
        image_registry_details: Any = None,
        user_managed: bool = False,
        conda_packages: list[str] | None = None,
        pip_packages: list[str] | None = None,
        conda_dependencies_file_path: str | None = None,
        pip_requirements_file_path: str | None = None,
        conda_dependencies_file: str | None = None,
        pip_requirements_file: str | None = None,
        environment_variables: dict | None = None,
        environment_definition: Any = None,
        inputs: list | None = None,
        source_directory_data_store: Any = None,
        shm_size: str | None = None,
        resume_from: Any = None,
        max_run_duration_seconds: int | None = None,
        framework_version: str | None = None,
        **_: Any,
    ):
        if not entry_script:
            raise UserErrorException(f"{type(self).__name__} needs entry_script, the script to run.")
        if self.single_node_only and (node_count != 1 or process_count_per_node != 1):
            raise UserErrorException(
                f"{type(self).__name__} is single-node: node_count and process_count_per_node must be 1."
            )
        self.source_directory = source_directory
        self.compute_target = compute_target
        self.entry_script = entry_script
        self.script_params = dict(script_params or {})
        self.node_count = int(node_count)
        self.process_count_per_node = int(process_count_per_node)
        self.distributed_training = distributed_training or distributed_backend
        self.use_gpu = use_gpu
        self.docker_image = custom_docker_image or custom_docker_base_image
        self.conda_packages = list(conda_packages or [])
        self.pip_packages = list(pip_packages or [])
        self.pip_requirements_file = pip_requirements_file or pip_requirements_file_path
        self.conda_dependencies_file = conda_dependencies_file or conda_dependencies_file_path
        self.environment_variables = dict(environment_variables or {})
        self.environment_definition = environment_definition
        self.max_run_duration_seconds = max_run_duration_seconds
        self.framework_version = framework_version
        self.inputs = list(inputs or [])

    def environment_spec(self, source_dir: Any) -> dict[str, Any]:
        """Packages, env vars and image, as plan data."""
        from airflow_azml.core.runconfig import runconfig_spec

        pip = list(self.pip_packages)
        conda = list(self.conda_packages)
        if self.pip_requirements_file:
            pip.append(f"-r {source_dir / self.pip_requirements_file}")
        if self.conda_dependencies_file:
            from airflow_azml.core.conda_dependencies import read_conda_file

            deps = read_conda_file(str(source_dir / self.conda_dependencies_file))
            pip += deps.pip_packages
            conda += deps.conda_packages
        spec = runconfig_spec(self.environment_definition, pip, conda, self.environment_variables)
        if self.docker_image and not spec["docker_image"]:
            spec["docker_image"] = self.docker_image
        return spec

    def distribution_spec(self) -> dict[str, Any]:
        """Nodes, processes per node and backend, as plan data (several nodes run on one worker)."""
        dist = self.distributed_training
        nodes = max(self.node_count, int(getattr(dist, "node_count", 1) or 1))
        backend = getattr(dist, "backend", None) or (dist.lower() if isinstance(dist, str) else None)
        per_node = self.process_count_per_node
        if per_node == 1 and getattr(dist, "process_count_per_node", None):
            per_node = int(dist.process_count_per_node)
        if per_node == 1 and getattr(dist, "process_count", None):
            per_node = max(1, int(dist.process_count) // nodes)
        return {"node_count": nodes, "process_count_per_node": per_node, "backend": backend}


class Estimator(MMLBaseEstimator):
    """``Estimator(source_directory, compute_target=None, entry_script=None, script_params=None, ...)``."""
