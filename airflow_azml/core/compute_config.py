"""What v1's compute calls take and give back: provisioning/attach configurations and status objects.

A configuration's ``spec`` is what the workspace (and so the compiled plan) keeps: names and
settings, never a secret. Credentials given to an attach configuration (a Databricks access
token) stay on the object until ``ComputeTarget.attach`` writes them into an Airflow connection.
Status objects answer ``get_status()`` with v1's attributes and ``serialize()`` dicts; nothing is
provisioned (a compute target is an Airflow routing decision), so they describe a ready target.
"""

from __future__ import annotations

from typing import Any

from airflow_azml.core.databricks import refuse_placeholders
from airflow_azml.exceptions import ComputeTargetException

__all__ = [
    "ComputeTargetProvisioningConfiguration",
    "ComputeTargetAttachConfiguration",
    "AmlComputeProvisioningConfiguration",
    "ComputeInstanceProvisioningConfiguration",
    "DataFactoryProvisioningConfiguration",
    "DataLakeAnalyticsAttachConfiguration",
    "DatabricksAttachConfiguration",
    "DataFactoryAttachConfiguration",
    "ComputeTargetStatus",
    "ScaleSettings",
    "AmlComputeNodeStateCounts",
    "AmlComputeStatus",
    "ComputeInstanceStatus",
]


def _drop_none(spec: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in spec.items() if v is not None}


class ComputeTargetProvisioningConfiguration:
    """Base of the ``provisioning_configuration()`` results: a compute type and its (secret-free) settings."""

    compute_type = "Compute"

    def __init__(self, **settings: Any):
        self.settings = _drop_none(settings)

    @property
    def spec(self) -> dict[str, Any]:
        return dict(self.settings)

    def validate_configuration(self) -> None:
        """Checked when the configuration is made; kept for v1 code that calls it."""

    def connection(self) -> dict[str, Any] | None:
        """The Airflow connection this configuration's credentials describe (None: none given)."""
        return None


class ComputeTargetAttachConfiguration(ComputeTargetProvisioningConfiguration):
    """Base of the ``attach_configuration()`` results; ``conn_id`` (ours) names an existing Airflow connection."""

    @property
    def conn_id(self) -> str | None:
        return self.settings.get("conn_id")


class AmlComputeProvisioningConfiguration(ComputeTargetProvisioningConfiguration):
    """v1's AmlCompute settings. ``admin_user_password`` / ``admin_user_ssh_key`` are accepted and not kept."""

    compute_type = "AmlCompute"

    def __init__(
        self,
        vm_size: str = "",
        vm_priority: str = "dedicated",
        min_nodes: int = 0,
        max_nodes: int | None = None,
        idle_seconds_before_scaledown: int | None = 1800,
        tags: dict | None = None,
        description: str | None = None,
        location: str | None = None,
        **_ignored: Any,
    ):
        max_nodes = 4 if max_nodes is None else max_nodes
        for label, value in (("min_nodes", min_nodes), ("max_nodes", max_nodes)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ComputeTargetException(f"AmlCompute: {label} must be an int >= 0, got {value!r}.")
        if min_nodes > max_nodes:
            raise ComputeTargetException(
                f"AmlCompute: min_nodes ({min_nodes}) is larger than max_nodes ({max_nodes})."
            )
        if str(vm_priority).lower() not in ("dedicated", "lowpriority"):
            raise ComputeTargetException(
                f"AmlCompute: vm_priority must be 'dedicated' or 'lowpriority', got {vm_priority!r}."
            )
        super().__init__(
            vm_size=vm_size or "STANDARD_NC6",
            vm_priority=str(vm_priority).lower(),
            min_nodes=min_nodes,
            max_nodes=max_nodes,
            idle_seconds_before_scaledown=idle_seconds_before_scaledown,
            tags=tags,
            description=description,
            location=location,
        )


class ComputeInstanceProvisioningConfiguration(ComputeTargetProvisioningConfiguration):
    """v1's ComputeInstance settings (``admin_user_ssh_public_key`` and network settings are not kept)."""

    compute_type = "ComputeInstance"

    def __init__(
        self,
        vm_size: str = "",
        ssh_public_access: bool = False,
        tags: dict | None = None,
        description: str | None = None,
        **_ignored: Any,
    ):
        super().__init__(
            vm_size=vm_size or "STANDARD_DS3_V2",
            ssh_public_access=bool(ssh_public_access),
            tags=tags,
            description=description,
        )


class DataFactoryProvisioningConfiguration(ComputeTargetProvisioningConfiguration):
    compute_type = "DataFactory"

    def __init__(self, location: str | None = None, **_ignored: Any):
        super().__init__(location=location)


class DataLakeAnalyticsAttachConfiguration(ComputeTargetAttachConfiguration):
    """AdlaCompute: the ADLA account is recorded; the SQL engine is DuckDB, or the Airflow connection ``conn_id``."""

    compute_type = "ADLAnalytics"

    def __init__(
        self,
        resource_group: str | None = None,
        account_name: str | None = None,
        resource_id: str | None = None,
        conn_id: str | None = None,
    ):
        super().__init__(
            resource_group=resource_group, account_name=account_name, resource_id=resource_id, conn_id=conn_id
        )


class DataFactoryAttachConfiguration(ComputeTargetAttachConfiguration):
    """DataFactoryCompute; ``pipeline_name`` (ours) names the ADF pipeline that copies for a DataTransferStep."""

    compute_type = "DataFactory"

    def __init__(
        self,
        resource_group: str | None = None,
        factory_name: str | None = None,
        resource_id: str | None = None,
        conn_id: str | None = None,
        **settings: Any,
    ):
        super().__init__(
            **settings,
            resource_group_name=settings.get("resource_group_name") or resource_group,
            factory_name=factory_name,
            resource_id=resource_id,
            conn_id=conn_id,
        )


#: what to give for each Databricks setting, and where v1's samples read it from
_ATTACH_HINTS = {
    "resource_group": "the workspace's resource group (v1's samples read it from $DATABRICKS_RESOURCE_GROUP)",
    "workspace_name": "the workspace URL, e.g. 'https://adb-1234567890123456.7.azuredatabricks.net' "
    "(v1's samples read it from $DATABRICKS_WORKSPACE_NAME)",
    "access_token": "a personal access token (v1's samples read it from $DATABRICKS_ACCESS_TOKEN)",
}


class DatabricksAttachConfiguration(ComputeTargetAttachConfiguration):
    """DatabricksCompute: an Airflow Databricks connection, named (``conn_id``) or made from v1's arguments.

    Azure Resource Manager cannot be asked for a workspace's address here, so ``workspace_name``
    is the workspace URL (``https://adb-1234567890123456.7.azuredatabricks.net``, or
    ``http://127.0.0.1:PORT`` for a local fake); with ``access_token`` it becomes a connection
    that ``ComputeTarget.attach`` creates.
    """

    compute_type = "Databricks"

    def __init__(
        self,
        resource_group: str | None = None,
        workspace_name: str | None = None,
        resource_id: str | None = None,
        access_token: str = "",
        conn_id: str | None = None,
    ):
        given = {
            "resource_group": resource_group,
            "workspace_name": workspace_name,
            "access_token": access_token,
        }
        refuse_placeholders(
            "DatabricksCompute.attach_configuration",
            list(given.items()),
            _ATTACH_HINTS,
            ComputeTargetException,
        )
        if not (conn_id or access_token) or (access_token and not workspace_name):
            raise ComputeTargetException(
                "DatabricksCompute.attach_configuration: give workspace_name (the workspace URL) and access_token, "
                "or conn_id= naming an Airflow Databricks connection."
            )
        self._access_token = access_token or None
        self._address = _workspace_address(workspace_name) if access_token else None
        super().__init__(
            resource_group=resource_group,
            workspace_name=workspace_name,
            resource_id=resource_id,
            conn_id=conn_id,
        )

    def connection(self) -> dict[str, Any] | None:
        if not self._access_token or self._address is None:
            return None
        scheme, host = self._address
        return {"conn_type": "databricks", "host": host, "schema": scheme, "password": self._access_token}

    def __repr__(self) -> str:  # never show the token
        return f"DatabricksAttachConfiguration({self.settings!r})"


def _workspace_address(workspace_name: str | None) -> tuple[str, str]:
    """(scheme, host[:port]) of a workspace URL; a bare workspace name cannot be resolved here."""
    text = str(workspace_name or "").strip().rstrip("/")
    scheme, _, rest = text.rpartition("://")
    host = rest.split("/", 1)[0]
    if not host or ("." not in host and ":" not in host):
        raise ComputeTargetException(
            f"DatabricksCompute.attach_configuration: workspace_name={workspace_name!r} is a workspace name, which "
            "cannot be looked up in Azure from here; give the workspace URL instead, e.g. "
            "workspace_name='https://adb-1234567890123456.7.azuredatabricks.net' (the address your browser shows), "
            "or conn_id= naming an Airflow Databricks connection."
        )
    return scheme or "https", host


class ComputeTargetStatus(str):
    """v1 returned the provisioning state string for attached targets; this one also has ``serialize()``."""

    def __new__(
        cls, provisioning_state: str = "Succeeded", errors: list | None = None
    ) -> ComputeTargetStatus:
        obj = super().__new__(cls, provisioning_state)
        obj.provisioning_state, obj.provisioning_errors = provisioning_state, errors
        return obj

    def serialize(self) -> dict[str, Any]:
        return {"provisioningState": self.provisioning_state, "provisioningErrors": self.provisioning_errors}


class ScaleSettings:
    """``ScaleSettings(minimum_node_count, maximum_node_count, idle_seconds_before_scaledown)``."""

    def __init__(
        self, minimum_node_count: int, maximum_node_count: int, idle_seconds_before_scaledown: int | None
    ):
        self.minimum_node_count = minimum_node_count
        self.maximum_node_count = maximum_node_count
        self.idle_seconds_before_scaledown = idle_seconds_before_scaledown

    def serialize(self) -> dict[str, Any]:
        idle = self.idle_seconds_before_scaledown
        return {
            "minNodeCount": self.minimum_node_count,
            "maxNodeCount": self.maximum_node_count,
            "nodeIdleTimeBeforeScaleDown": f"PT{idle}S" if idle is not None else None,
        }


class AmlComputeNodeStateCounts:
    """Node counts by state; a ready target's nodes are all idle."""

    _FIELDS = ("idle", "leaving", "preempted", "preparing", "running", "unusable")

    def __init__(self, idle_node_count: int = 0, **counts: int):
        self.idle_node_count = idle_node_count
        for state in self._FIELDS[1:]:
            setattr(self, f"{state}_node_count", int(counts.get(f"{state}_node_count", 0)))

    def serialize(self) -> dict[str, int]:
        return {f"{s}NodeCount": getattr(self, f"{s}_node_count") for s in self._FIELDS}


class AmlComputeStatus:
    """v1's ``AmlComputeStatus``: a steady target at its minimum node count."""

    def __init__(self, vm_size: str, vm_priority: str, scale_settings: ScaleSettings):
        nodes = int(scale_settings.minimum_node_count or 0)
        self.allocation_state = "Steady"
        self.allocation_state_transition_time = None
        self.creation_time = self.modified_time = None
        self.current_node_count = self.target_node_count = nodes
        self.errors = None
        self.node_state_counts = AmlComputeNodeStateCounts(idle_node_count=nodes)
        self.provisioning_state = "Succeeded"
        self.provisioning_state_transition_time = None
        self.scale_settings = scale_settings
        self.vm_priority, self.vm_size = vm_priority, vm_size

    def serialize(self) -> dict[str, Any]:
        return {
            "currentNodeCount": self.current_node_count,
            "targetNodeCount": self.target_node_count,
            "nodeStateCounts": self.node_state_counts.serialize(),
            "allocationState": self.allocation_state,
            "allocationStateTransitionTime": self.allocation_state_transition_time,
            "errors": self.errors,
            "creationTime": self.creation_time,
            "modifiedTime": self.modified_time,
            "provisioningState": self.provisioning_state,
            "provisioningStateTransitionTime": self.provisioning_state_transition_time,
            "scaleSettings": self.scale_settings.serialize(),
            "vmPriority": self.vm_priority,
            "vmSize": self.vm_size,
        }


class ComputeInstanceStatus:
    """v1's ``ComputeInstanceStatus``: a running instance."""

    def __init__(self, vm_size: str):
        self.state = "Running"
        self.vm_size = vm_size
        self.errors: list = []
        self.created_by = None
        self.last_operation = None

    def serialize(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "vmSize": self.vm_size,
            "errors": self.errors,
            "createdBy": self.created_by,
            "lastOperation": self.last_operation,
        }
