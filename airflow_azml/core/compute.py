"""Compute targets: in airflow-azml a compute target is an Airflow routing decision.

A named target in the workspace file maps to executor, queue, pool, pool_slots,
priority_weight, execution_timeout (s), retries and retry_delay (s) of the step's task.
``local`` (or no target) runs on the default executor. v1's objects keep their surface:
``AmlCompute(ws, name)`` finds a target or raises ComputeTargetException,
``ComputeTarget.create/attach/list``, ``provisioning_configuration``/``attach_configuration``
with v1's arguments, ``get_status()`` with ``serialize()``, ``wait_for_completion``. Nothing is
provisioned; a created target is ready at once. Credentials given to ``attach_configuration``
go into an Airflow connection that ``ComputeTarget.attach`` creates (``azml_<name>`` unless
``conn_id=`` names one); the workspace and the plan keep only the connection id.
"""

from __future__ import annotations

from typing import Any

from airflow_azml.core.compute_config import (
    AmlComputeProvisioningConfiguration,
    AmlComputeStatus,
    ComputeInstanceProvisioningConfiguration,
    ComputeInstanceStatus,
    ComputeTargetStatus,
    DatabricksAttachConfiguration,
    DataFactoryAttachConfiguration,
    DataFactoryProvisioningConfiguration,
    DataLakeAnalyticsAttachConfiguration,
    ScaleSettings,
)
from airflow_azml.core.compute_identity import _TargetIdentity
from airflow_azml.core.databricks import refuse_placeholders
from airflow_azml.core.datastore_remote import _write_connection
from airflow_azml.exceptions import ComputeTargetException, DatastoreError, did_you_mean

__all__ = [
    "ComputeTarget",
    "AmlCompute",
    "ComputeInstance",
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


class ComputeTarget(_TargetIdentity, metaclass=_ComputeMeta):
    """A named place where steps run (routing attributes and v1 settings in ``spec``)."""

    type = "Compute"
    _attached = False  # v1's is_attached: a resource made elsewhere (Databricks, ADLA, Data Factory)

    def __init__(self, workspace: Any, name: str, spec: dict[str, Any] | None = None):
        self.workspace = workspace
        self.name = name
        self.spec = dict(spec or {})
        self.provisioning_state = "Succeeded"
        self.provisioning_errors = None
        self.location = self.cluster_location = self.spec.get("location") or getattr(
            workspace, "location", None
        )
        self.tags = self.spec.get("tags")
        self.description = self.spec.get("description")
        self.is_attached = self._attached

    @classmethod
    def _lookup(cls, workspace: Any, name: str) -> ComputeTarget:
        specs = workspace._compute_specs
        if name not in specs:
            known = ", ".join(sorted(specs)) or "(none)"
            raise ComputeTargetException(
                f"ComputeTargetNotFound: Compute target {name!r} not found in workspace {workspace.name!r}."  # v1's code
                f"{did_you_mean(name, specs)} "
                f"Known targets: {known}. Add it under 'compute_targets' in the workspace file or create it "
                "with ComputeTarget.create()."
            )
        target = compute_from_spec(workspace, name, specs[name])
        if cls is not ComputeTarget and not isinstance(target, cls):
            raise ComputeTargetException(
                f"Compute target {name!r} was found but it is of type {target.type}, not {cls.type}; use "
                f"{type(target).__name__}(ws, {name!r}) or ComputeTarget(ws, {name!r})."
            )
        return target

    # -- v1's class-level calls ----------------------------------------------------------
    @staticmethod
    def create(workspace: Any, name: str, provisioning_configuration: Any) -> ComputeTarget:
        """Record a target (routing to the default executor unless the workspace file says more)."""
        return _record(workspace, name, provisioning_configuration, attached=False)

    @staticmethod
    def attach(workspace: Any, name: str, attach_configuration: Any) -> ComputeTarget:
        """Record an existing resource as a target; credentials in the configuration become a connection."""
        return _record(workspace, name, attach_configuration, attached=True)

    @staticmethod
    def list(workspace: Any) -> list[ComputeTarget]:
        """Every compute target of ``workspace`` (v1 ``ComputeTarget.list``), sorted by name."""
        return list(workspace.compute_targets.values())

    # -- v1's attributes and calls on one target (id, cluster_resource_id, serialize: _TargetIdentity)
    def get_status(self) -> Any:
        """The provisioning state ("Succeeded": nothing to provision), with ``serialize()``."""
        return ComputeTargetStatus(self.provisioning_state)

    @property
    def status(self) -> Any:
        return self.get_status()

    def wait_for_completion(
        self, show_output: bool = False, is_delete_operation: bool = False, **_: Any
    ) -> None:
        """Nothing to provision: returns at once."""
        if show_output:
            print(f'Provisioning operation finished, operation "{self.provisioning_state}"')
            print(f"Compute target {self.name!r} is ready (routing: {self.routing() or 'default executor'}).")

    def refresh_state(self) -> None:
        """v1 re-read the state from Azure; here it never changes."""

    @staticmethod
    def supported_vmsizes(workspace: Any, location: str | None = None) -> list[dict[str, Any]]:
        """v1 listed Azure VM sizes (AmlCompute, ComputeInstance); there are none to choose here."""
        return []

    def delete(self) -> None:
        self.workspace._compute_specs.pop(self.name, None)

    def detach(self) -> None:
        self.delete()

    def routing(self) -> dict[str, Any]:
        """The Airflow task attributes this target sets."""
        return {k: self.spec[k] for k in ROUTING_KEYS if self.spec.get(k) is not None}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, routing={self.routing()!r})"


def _record(workspace: Any, name: str, config: Any, attached: bool) -> ComputeTarget:
    """Keep ``name`` in the workspace (the workspace file's own settings win) and write its connection."""
    call = "ComputeTarget.attach" if attached else "ComputeTarget.create"
    refuse_placeholders(call, [("name", name)], {"name": "the compute target's name"}, ComputeTargetException)
    spec = dict(getattr(config, "spec", {}) or {})
    spec.setdefault("type", getattr(config, "compute_type", "AmlCompute"))
    connection = config.connection() if hasattr(config, "connection") else None
    if connection is not None:
        spec["conn_id"] = spec.get("conn_id") or f"azml_{name}"
        try:
            _write_connection(spec["conn_id"], connection, container=None, workspace=workspace)
        except DatastoreError as exc:
            raise ComputeTargetException(f"Compute target {name!r}: {exc}") from exc
    merged = {**spec, **workspace._compute_specs.get(name, {})}
    workspace._compute_specs[name] = merged
    return compute_from_spec(workspace, name, merged)


class AmlCompute(ComputeTarget):
    """v1's managed cluster; here the Airflow workers behind the target's routing."""

    type = "AmlCompute"

    @property
    def vm_size(self) -> str:
        return str(self.spec.get("vm_size") or "STANDARD_NC6")

    @property
    def vm_priority(self) -> str:
        return str(self.spec.get("vm_priority") or "dedicated")

    @property
    def scale_settings(self) -> ScaleSettings:
        return ScaleSettings(
            int(self.spec.get("min_nodes") or 0),
            int(self.spec.get("max_nodes") if self.spec.get("max_nodes") is not None else 4),
            self.spec.get("idle_seconds_before_scaledown", 1800),
        )

    @staticmethod
    def provisioning_configuration(*args: Any, **kwargs: Any) -> AmlComputeProvisioningConfiguration:
        """v1's ``provisioning_configuration(vm_size='', vm_priority='dedicated', min_nodes=0, max_nodes=None,
        idle_seconds_before_scaledown=1800, admin_username=None, admin_user_password=None, ...)``."""
        return AmlComputeProvisioningConfiguration(*args, **kwargs)

    def get_status(self) -> AmlComputeStatus:
        return AmlComputeStatus(self.vm_size, self.vm_priority, self.scale_settings)

    def wait_for_completion(
        self,
        show_output: bool = False,
        min_node_count: int | None = None,
        timeout_in_minutes: int = 25,
        is_delete_operation: bool = False,
    ) -> None:
        """Returns at once: the target is ready, its nodes are the workers behind its routing."""
        super().wait_for_completion(show_output)
        if show_output:
            print("AmlCompute wait for completion finished")

    def update(
        self,
        min_nodes: int | None = None,
        max_nodes: int | None = None,
        idle_seconds_before_scaledown: int | None = None,
    ) -> None:
        """Change the recorded scale settings (they are reported by get_status; routing is unchanged)."""
        changes = dict(
            min_nodes=min_nodes,
            max_nodes=max_nodes,
            idle_seconds_before_scaledown=idle_seconds_before_scaledown,
        )
        self.spec.update({k: v for k, v in changes.items() if v is not None})
        self.workspace._compute_specs[self.name] = dict(self.spec)

    def list_nodes(self) -> list[dict[str, Any]]:
        return []

    def get_active_runs(self, *args: Any, **kwargs: Any) -> list[Any]:
        return []


class ComputeInstance(ComputeTarget):
    """v1's single-user VM; here, like every target, the Airflow workers behind its routing."""

    type = "ComputeInstance"

    @property
    def vm_size(self) -> str:
        return str(self.spec.get("vm_size") or "STANDARD_DS3_V2")

    @property
    def state(self) -> str:
        return "Running"

    @staticmethod
    def provisioning_configuration(*args: Any, **kwargs: Any) -> ComputeInstanceProvisioningConfiguration:
        """v1's ``provisioning_configuration(vm_size='', ssh_public_access=False, ...)``."""
        return ComputeInstanceProvisioningConfiguration(*args, **kwargs)

    def get_status(self) -> ComputeInstanceStatus:
        return ComputeInstanceStatus(self.vm_size)

    def start(self, wait_for_completion: bool = True, show_output: bool = False) -> None:
        """A routing decision is always running: start, stop and restart change nothing."""

    stop = restart = start


class DatabricksCompute(ComputeTarget):
    """A Databricks workspace reached through an Airflow Databricks connection."""

    type = "Databricks"
    _provider = "Microsoft.Databricks/workspaces"
    _attached = True

    @property
    def conn_id(self) -> str:
        return str(self.spec.get("conn_id") or "databricks_default")

    def _resource_name(self) -> str | None:
        """The workspace's name when one was given (not its URL)."""
        name = str(self.spec.get("workspace_name") or "")
        return name if name and not any(c in name for c in "/.:") else None

    @staticmethod
    def attach_configuration(
        resource_group: str | None = None,
        workspace_name: str | None = None,
        resource_id: str | None = None,
        access_token: str = "",
        conn_id: str | None = None,
    ) -> DatabricksAttachConfiguration:
        """v1's arguments (workspace_name: the workspace URL), or ``conn_id=`` an existing connection."""
        return DatabricksAttachConfiguration(
            resource_group, workspace_name, resource_id, access_token, conn_id
        )


class AdlaCompute(ComputeTarget):
    """The SQL engine an AdlaStep runs on: DuckDB embedded, or an Airflow SQL connection."""

    type = "ADLAnalytics"
    _provider = "Microsoft.DataLakeAnalytics/accounts"
    _attached = True

    def _resource_name(self) -> str | None:
        return self.spec.get("account_name")

    @staticmethod
    def attach_configuration(
        resource_group: str | None = None,
        account_name: str | None = None,
        resource_id: str | None = None,
        conn_id: str | None = None,
    ) -> DataLakeAnalyticsAttachConfiguration:
        """v1's arguments (recorded; ADLA is retired), and ``conn_id=`` an Airflow SQL connection to run on."""
        return DataLakeAnalyticsAttachConfiguration(resource_group, account_name, resource_id, conn_id)


class DataFactoryCompute(ComputeTarget):
    """An Azure Data Factory a DataTransferStep may copy through (``pipeline_name`` and ``conn_id``)."""

    type = "DataFactory"
    _provider = "Microsoft.DataFactory/factories"
    _attached = True

    def _resource_name(self) -> str | None:
        return self.spec.get("factory_name")

    @staticmethod
    def attach_configuration(
        resource_group: str | None = None,
        factory_name: str | None = None,
        resource_id: str | None = None,
        conn_id: str | None = None,
        **settings: Any,
    ) -> DataFactoryAttachConfiguration:
        return DataFactoryAttachConfiguration(resource_group, factory_name, resource_id, conn_id, **settings)

    @staticmethod
    def provisioning_configuration(location: str | None = None) -> DataFactoryProvisioningConfiguration:
        return DataFactoryProvisioningConfiguration(location)


_TYPES: dict[str, type[ComputeTarget]] = {
    "AmlCompute": AmlCompute,
    "ComputeInstance": ComputeInstance,
    "Databricks": DatabricksCompute,
    "ADLAnalytics": AdlaCompute,
    "DataFactory": DataFactoryCompute,
}


def compute_from_spec(workspace: Any, name: str, spec: dict[str, Any]) -> ComputeTarget:
    cls = _TYPES.get(str(spec.get("type", "AmlCompute")), ComputeTarget)
    obj = cls.__new__(cls)
    ComputeTarget.__init__(obj, workspace, name, spec)
    return obj
