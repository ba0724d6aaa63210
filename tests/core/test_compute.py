"""v1's compute objects as v1 code reads them: lookup, create/attach, attributes, status, errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from airflow_azml.core import Workspace
from airflow_azml.core import compute as compute_module
from airflow_azml.core.compute import (
    AdlaCompute,
    AmlCompute,
    ComputeInstance,
    ComputeTarget,
    DatabricksCompute,
    DataFactoryCompute,
)
from airflow_azml.core.compute_target import ComputeTargetException


@pytest.fixture
def ws(workspace_dir: Path) -> Workspace:
    return Workspace.from_config(workspace_dir)


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    """The connections attach would write to Airflow's DB, captured instead (the DB write is tested live)."""
    written: list[tuple[str, Any]] = []
    monkeypatch.setattr(
        compute_module,
        "_write_connection",
        lambda conn_id, conn, container, workspace=None: written.append((conn_id, conn)),
    )
    return written


def test_v1_provisioning_then_status_serialize(ws: Workspace, capsys: pytest.CaptureFixture):
    with pytest.raises(ComputeTargetException, match="'gpu-cluster' not found .* Known targets: cpu"):
        ComputeTarget(workspace=ws, name="gpu-cluster")
    config = AmlCompute.provisioning_configuration(vm_size="Standard_NC6s_v3", min_nodes=1, max_nodes=4)
    target = ComputeTarget.create(ws, "gpu-cluster", config)
    target.wait_for_completion(show_output=True, min_node_count=None, timeout_in_minutes=20)
    assert "is ready" in capsys.readouterr().out
    status = target.get_status()
    assert (status.current_node_count, status.provisioning_state, status.vm_size) == (
        1,
        "Succeeded",
        "Standard_NC6s_v3",
    )
    assert status.serialize() == {
        "currentNodeCount": 1,
        "targetNodeCount": 1,
        "nodeStateCounts": {
            "idleNodeCount": 1,
            "leavingNodeCount": 0,
            "preemptedNodeCount": 0,
            "preparingNodeCount": 0,
            "runningNodeCount": 0,
            "unusableNodeCount": 0,
        },
        "allocationState": "Steady",
        "allocationStateTransitionTime": None,
        "errors": None,
        "creationTime": None,
        "modifiedTime": None,
        "provisioningState": "Succeeded",
        "provisioningStateTransitionTime": None,
        "scaleSettings": {"minNodeCount": 1, "maxNodeCount": 4, "nodeIdleTimeBeforeScaleDown": "PT1800S"},
        "vmPriority": "dedicated",
        "vmSize": "Standard_NC6s_v3",
    }
    found = AmlCompute(ws, "gpu-cluster")
    assert (found.name, found.type, found.provisioning_state, found.location) == (
        "gpu-cluster",
        "AmlCompute",
        "Succeeded",
        ws.location,
    )
    assert found.cluster_resource_id is None and found.is_attached is False
    assert found.id.endswith(f"/workspaces/{ws.name}/computes/gpu-cluster")
    assert [t.name for t in ComputeTarget.list(ws)] == ["cpu", "gpu-cluster"]
    assert isinstance(ws.compute_targets["gpu-cluster"], AmlCompute)


def test_workspace_file_routing_wins_over_provisioning_settings(ws: Workspace):
    target = ComputeTarget.create(ws, "cpu", AmlCompute.provisioning_configuration(vm_size="D2", max_nodes=2))
    assert target.routing() == {"queue": "cpu", "retries": 0}
    assert target.get_status().scale_settings.maximum_node_count == 2
    target.update(min_nodes=2)
    assert AmlCompute(ws, "cpu").get_status().current_node_count == 2


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_nodes": 3, "max_nodes": 2}, "min_nodes (3) is larger than max_nodes (2)"),
        ({"min_nodes": -1}, "min_nodes must be an int >= 0, got -1"),
        ({"vm_priority": "spot"}, "vm_priority must be 'dedicated' or 'lowpriority', got 'spot'"),
    ],
)
def test_bad_provisioning_settings_are_refused(kwargs: dict, message: str):
    with pytest.raises(ComputeTargetException, match=message.replace("(", r"\(").replace(")", r"\)")):
        AmlCompute.provisioning_configuration(**kwargs)


def test_lookup_by_the_wrong_kind_is_a_compute_target_exception(ws: Workspace):
    ComputeTarget.attach(ws, "adla", AdlaCompute.attach_configuration(account_name="acct"))
    with pytest.raises(
        ComputeTargetException, match="'adla' was found but it is of type ADLAnalytics, not AmlCompute"
    ):
        AmlCompute(ws, "adla")
    assert isinstance(ComputeTarget(ws, "adla"), AdlaCompute)


def test_adla_attach_reports_its_account(ws: Workspace):
    config = AdlaCompute.attach_configuration(resource_group="lake-rg", account_name="lakeacct")
    target = ComputeTarget.attach(ws, "testadl", config)
    target.wait_for_completion()
    assert target.cluster_resource_id == (
        f"/subscriptions/{ws.subscription_id}/resourceGroups/lake-rg/providers/"
        "Microsoft.DataLakeAnalytics/accounts/lakeacct"
    )
    assert (target.provisioning_state, target.provisioning_errors, target.is_attached) == (
        "Succeeded",
        None,
        True,
    )
    status = target.get_status()
    assert status == "Succeeded" and status.serialize() == {
        "provisioningState": "Succeeded",
        "provisioningErrors": None,
    }
    given = ComputeTarget.attach(
        ws, "other", AdlaCompute.attach_configuration(resource_id="/subscriptions/s/x")
    )
    assert given.cluster_resource_id == "/subscriptions/s/x"


def test_databricks_credentials_become_a_connection_never_the_spec(ws: Workspace, connections: list):
    config = DatabricksCompute.attach_configuration(
        resource_group="db-rg",
        workspace_name="https://adb-123.4.azuredatabricks.net/",
        access_token="dapi-secret",
    )
    assert "dapi-secret" not in repr(config)
    target = ComputeTarget.attach(ws, "dbx", config)
    assert connections == [
        (
            "azml_dbx",
            {
                "conn_type": "databricks",
                "host": "adb-123.4.azuredatabricks.net",
                "schema": "https",
                "password": "dapi-secret",
            },
        )
    ]
    assert isinstance(target, DatabricksCompute) and target.conn_id == "azml_dbx"
    assert "dapi-secret" not in repr(ws.to_spec()) and "dapi-secret" not in repr(target.serialize())
    local = DatabricksCompute.attach_configuration(workspace_name="http://127.0.0.1:8123", access_token="t")
    ComputeTarget.attach(ws, "fake", local)
    assert connections[-1][1]["host"] == "127.0.0.1:8123" and connections[-1][1]["schema"] == "http"


def test_databricks_attach_to_a_named_connection_writes_nothing(ws: Workspace, connections: list):
    target = ComputeTarget.attach(
        ws, "dbx", DatabricksCompute.attach_configuration(conn_id="my_dbx", workspace_name="prod-ws")
    )
    assert connections == [] and target.conn_id == "my_dbx"
    assert target.cluster_resource_id.endswith("/providers/Microsoft.Databricks/workspaces/prod-ws")


def test_databricks_placeholders_fail_at_the_first_call_naming_each_setting():
    with pytest.raises(ComputeTargetException) as err:
        DatabricksCompute.attach_configuration(
            resource_group="<my-db-resource-group>",
            workspace_name="<my-db-workspace-name>",
            access_token="<my-access-token>",
        )
    message = str(err.value)
    for setting in ("resource_group", "workspace_name", "access_token"):
        assert f"{setting} is the placeholder '<my-" in message
    for variable in ("DATABRICKS_RESOURCE_GROUP", "DATABRICKS_WORKSPACE_NAME", "DATABRICKS_ACCESS_TOKEN"):
        assert f"${variable}" in message


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"workspace_name": "prod-ws", "access_token": "dapi-xyz"},
            "workspace_name='prod-ws' is a workspace name",
        ),
        (
            {"access_token": "dapi-xyz"},
            "give workspace_name (the workspace URL) and access_token, or conn_id=",
        ),
        (
            {"workspace_name": "https://adb-1.2.azuredatabricks.net"},
            "give workspace_name (the workspace URL)",
        ),
    ],
)
def test_databricks_attach_needs_an_address_and_a_token_or_a_connection(kwargs: dict, message: str):
    with pytest.raises(ComputeTargetException) as err:
        DatabricksCompute.attach_configuration(**kwargs)
    assert message in str(err.value)
    assert "dapi-xyz" not in str(err.value)  # the token is never echoed


def test_placeholder_compute_name_is_refused(ws: Workspace):
    with pytest.raises(
        ComputeTargetException, match="name is the placeholder '<my-databricks-compute-name>'"
    ):
        ComputeTarget.attach(
            ws, "<my-databricks-compute-name>", DatabricksCompute.attach_configuration(conn_id="my_dbx")
        )


def test_data_factory_and_compute_instance(ws: Workspace):
    adf = ComputeTarget.attach(
        ws,
        "adf",
        DataFactoryCompute.attach_configuration(
            resource_group="rg", factory_name="fac", conn_id="adf_conn", pipeline_name="copy"
        ),
    )
    assert adf.spec == {
        "type": "DataFactory",
        "resource_group_name": "rg",
        "factory_name": "fac",
        "conn_id": "adf_conn",
        "pipeline_name": "copy",
    }
    assert adf.cluster_resource_id.endswith(
        "/resourceGroups/rg/providers/Microsoft.DataFactory/factories/fac"
    )
    instance = ComputeTarget.create(
        ws, "notebook-vm", ComputeInstance.provisioning_configuration(vm_size="STANDARD_D3_V2")
    )
    assert isinstance(ComputeInstance(ws, "notebook-vm"), ComputeInstance)
    assert instance.get_status().serialize()["state"] == "Running"
    assert instance.get_status().vm_size == "STANDARD_D3_V2"


def test_v1_get_or_create_reads_the_not_found_code_from_e_message(ws: Workspace):
    """The data-transfer sample's pattern: ``'ComputeTargetNotFound' in e.message`` decides to create."""

    def get_or_create_data_factory(workspace: Workspace, factory_name: str) -> DataFactoryCompute:
        try:
            return DataFactoryCompute(workspace, factory_name)
        except ComputeTargetException as e:
            if "ComputeTargetNotFound" in e.message:
                config = DataFactoryCompute.provisioning_configuration()
                data_factory = ComputeTarget.create(workspace, factory_name, config)
                data_factory.wait_for_completion()
                return data_factory
            raise

    created = get_or_create_data_factory(ws, "adftest")
    assert isinstance(created, DataFactoryCompute)
    assert isinstance(get_or_create_data_factory(ws, "adftest"), DataFactoryCompute)
    with pytest.raises(ComputeTargetException) as caught:
        AmlCompute(ws, "adftest")  # found, but of another kind: not a not-found
    assert "ComputeTargetNotFound" not in caught.value.message
