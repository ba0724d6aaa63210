"""What identifies a compute target in v1: its ARM ids and its ``serialize()`` dict form."""

from __future__ import annotations

from typing import Any

__all__ = ["_TargetIdentity"]


class _TargetIdentity:
    """v1's ``id``, ``cluster_resource_id`` and ``serialize()`` of a ComputeTarget (a mixin: the target
    has ``workspace``, ``name``, ``spec``, ``type``, ``location`` and its provisioning fields)."""

    _provider = ""  # the ARM resource type of the attached resource, for cluster_resource_id
    workspace: Any
    name: str
    spec: dict[str, Any]
    type: str

    @property
    def id(self) -> str:
        """v1's ARM-style id of the target in its workspace."""
        ws = self.workspace
        return (
            f"/subscriptions/{ws.subscription_id}/resourceGroups/{ws.resource_group}/providers/"
            f"Microsoft.MachineLearningServices/workspaces/{ws.name}/computes/{self.name}"
        )

    @property
    def cluster_resource_id(self) -> str | None:
        """The attached resource's ARM id (given as ``resource_id``, or built from its resource group and name)."""
        if self.spec.get("resource_id"):
            return str(self.spec["resource_id"])
        resource = self._resource_name()
        if not self._provider or not resource:
            return None
        group = self.spec.get("resource_group") or self.spec.get("resource_group_name")
        return (
            f"/subscriptions/{self.workspace.subscription_id}/resourceGroups/"
            f"{group or self.workspace.resource_group}/providers/{self._provider}/{resource}"
        )

    def _resource_name(self) -> str | None:
        return None

    def serialize(self) -> dict[str, Any]:
        """v1's dict form of the target (no secrets: the spec never holds one)."""
        properties = {k: v for k, v in self.spec.items() if k != "type"}
        return {
            "id": self.id,
            "name": self.name,
            "location": self.location,
            "tags": self.tags,
            "properties": {
                "computeType": self.type,
                "computeLocation": self.cluster_location,
                "description": self.description,
                "resourceId": self.cluster_resource_id,
                "provisioningState": self.provisioning_state,
                "provisioningErrors": self.provisioning_errors,
                "isAttachedCompute": self.is_attached,
                "properties": properties,
            },
        }
