"""Compute targets: in airflow-azml a compute target is an Airflow routing decision.

A named target in the workspace file maps to executor, queue, pool, pool_slots,
priority_weight, execution_timeout (s), retries and retry_delay (s) of the step's task.
``local`` (or no target) runs on the default executor.
"""

from __future__ import annotations

from typing import Any

from airflow_azml.exceptions import ComputeTargetException, did_you_mean

__all__ = [
    "ComputeTarget",
    "AmlCompute",
    "DatabricksCompute",
    "AdlaCompute",
    "DataFactoryCompute",
    "ComputeTargetException",
    "ROUTING_KEYS",
    "compute_from_spec",
]

ROUTING_KEYS = (
    "executor",
    "queue",
    "pool",
    "pool_slots",
    "priority_weight",
    "execution_timeout",
    "retries",
    "retry_delay",
)
LOCAL_NAMES = ("local",)


class _ComputeMeta(type):
    """``ComputeTarget(ws, name)`` / ``AmlCompute(ws, name)`` look a target up, as in v1."""

    def __call__(cls, workspace: Any = None, name: str | None = None, *args: Any, **kwargs: Any) -> Any:
        if workspace is not None and name is not None and not args and not kwargs:
            return cls._lookup(workspace, name)
        return super().__call__(workspace, name, *args, **kwargs)


class ComputeTarget(metaclass=_ComputeMeta):
    """A named place where steps run (routing attributes in ``spec``)."""

    type = "Compute"

    def __init__(self, workspace: Any, name: str, spec: dict[str, Any] | None = None):
        self.workspace = workspace
        self.name = name
        self.spec = dict(spec or {})
        self.provisioning_state = "Succeeded"

    @classmethod
    def _lookup(cls, workspace: Any, name: str) -> ComputeTarget:
        specs = workspace._compute_specs
        if name not in specs:
            known = ", ".join(sorted(specs)) or "(none)"
            raise ComputeTargetException(
                f"Compute target {name!r} not found in workspace {workspace.name!r}.{did_you_mean(name, specs)} "
                f"Known targets: {known}. Add it under 'compute_targets' in the workspace file or create it "
                "with ComputeTarget.create()."
            )
        return compute_from_spec(workspace, name, specs[name])

    @staticmethod
    def create(workspace: Any, name: str, provisioning_configuration: Any) -> ComputeTarget:
        """Record a target (routing to the default executor unless the workspace file says more)."""
        spec = dict(getattr(provisioning_configuration, "spec", {}) or {})
        spec.setdefault("type", getattr(provisioning_configuration, "compute_type", "AmlCompute"))
        merged = {**spec, **workspace._compute_specs.get(name, {})}
        workspace._compute_specs[name] = merged
        return compute_from_spec(workspace, name, merged)

    @staticmethod
    def list(workspace: Any) -> list[ComputeTarget]:
        """Every compute target of ``workspace`` (v1 ``ComputeTarget.list``), sorted by name."""
        return list(workspace.compute_targets.values())

    @staticmethod
    def attach(workspace: Any, name: str, attach_configuration: Any) -> ComputeTarget:
        return ComputeTarget.create(workspace, name, attach_configuration)

    def wait_for_completion(self, show_output: bool = False, **_: Any) -> None:
        """Nothing to provision: returns at once."""
        if show_output:
            print(f"Compute target {self.name!r} is ready (routing: {self.routing() or 'default executor'}).")

    def get_status(self) -> str:
        return self.provisioning_state

    def delete(self) -> None:
        self.workspace._compute_specs.pop(self.name, None)

    def detach(self) -> None:
        self.delete()

    def routing(self) -> dict[str, Any]:
        """The Airflow task attributes this target sets."""
        return {k: self.spec[k] for k in ROUTING_KEYS if self.spec.get(k) is not None}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, routing={self.routing()!r})"


class _ProvisioningConfiguration:
    def __init__(self, compute_type: str, spec: dict[str, Any]):
        self.compute_type = compute_type
        self.spec = spec


class AmlCompute(ComputeTarget):
    type = "AmlCompute"

    @staticmethod
    def provisioning_configuration(
        vm_size: str = "",
        vm_priority: str = "dedicated",
        min_nodes: int = 0,
        max_nodes: int = 4,
        **kwargs: Any,
    ) -> _ProvisioningConfiguration:
        return _ProvisioningConfiguration(
            "AmlCompute",
            {"vm_size": vm_size, "vm_priority": vm_priority, "min_nodes": min_nodes, "max_nodes": max_nodes},
        )

    @staticmethod
    def supported_vmsizes(workspace: Any, location: str | None = None) -> list[dict[str, Any]]:
        return []


class DatabricksCompute(ComputeTarget):
    """A Databricks workspace reached through an Airflow Databricks connection."""

    type = "Databricks"

    @property
    def conn_id(self) -> str:
        return str(self.spec.get("conn_id") or "databricks_default")

    @staticmethod
    def attach_configuration(
        conn_id: str | None = None,
        resource_group: str | None = None,
        workspace_name: str | None = None,
        access_token: str | None = None,
        **kwargs: Any,
    ) -> _ProvisioningConfiguration:
        spec: dict[str, Any] = {"conn_id": conn_id}
        if access_token:
            spec["_credentials"] = {
                "access_token": access_token,
                "workspace_name": workspace_name,
                "resource_group": resource_group,
                **kwargs,
            }
        return _ProvisioningConfiguration("Databricks", spec)


class AdlaCompute(ComputeTarget):
    """The SQL engine an AdlaStep runs on: DuckDB embedded, or an Airflow SQL connection."""

    type = "ADLAnalytics"

    @staticmethod
    def attach_configuration(conn_id: str | None = None, **kwargs: Any) -> _ProvisioningConfiguration:
        return _ProvisioningConfiguration("ADLAnalytics", {"conn_id": conn_id})


class DataFactoryCompute(ComputeTarget):
    type = "DataFactory"

    @staticmethod
    def attach_configuration(conn_id: str | None = None, **kwargs: Any) -> _ProvisioningConfiguration:
        return _ProvisioningConfiguration("DataFactory", {"conn_id": conn_id, **kwargs})


_TYPES: dict[str, type[ComputeTarget]] = {
    "AmlCompute": AmlCompute,
    "Databricks": DatabricksCompute,
    "ADLAnalytics": AdlaCompute,
    "DataFactory": DataFactoryCompute,
}


def compute_from_spec(workspace: Any, name: str, spec: dict[str, Any]) -> ComputeTarget:
    cls = _TYPES.get(str(spec.get("type", "AmlCompute")), ComputeTarget)
    obj = cls.__new__(cls)
    ComputeTarget.__init__(obj, workspace, name, spec)
    return obj
