"""Deletion: the finalizer deletes the connection in Azure (Delete), or lets go without touching it
(Orphan), and a workspace that is already gone does not block deletion."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client
from kubernetes.client import ApiException

from tests.e2e.amlconn import (
    GROUP,
    PLURAL,
    VERSION,
    Workspace,
    custom,
    load_examples,
    retarget,
    wait_condition,
)
from tests.e2e.kube import Kubectl, wait_for
from tests.e2e.operator_process import OperatorProcess
from wsconn_testbed.emulator.client import EmulatorClient


def _apply_pat(kubectl: Kubectl, namespace: str, workspace: Workspace, name: str, **spec: Any) -> None:
    example = next(e for e in load_examples() if e.auth_type == "PAT")
    objects = retarget(example, workspace, name=name, api_version=None)
    objects[-1]["spec"].update(spec)
    for obj in objects:
        obj["metadata"]["namespace"] = namespace
    kubectl.apply(objects)


def _gone(kube: client.ApiClient, namespace: str, name: str) -> bool:
    try:
        custom(kube).get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
    except ApiException as exc:
        return bool(exc.status == 404)
    return False


def _delete(kube: client.ApiClient, namespace: str, name: str) -> None:
    custom(kube).delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
    wait_for(lambda: _gone(kube, namespace, name), timeout=30, what=f"{name} deleted")


@pytest.mark.parametrize("policy", ["Delete", "Orphan"])
def test_deletion_policy(
    policy: str,
    operator: OperatorProcess,
    kubectl: Kubectl,
    kube: client.ApiClient,
    namespace: str,
    workspace: Workspace,
    emulator: EmulatorClient,
) -> None:
    _apply_pat(kubectl, namespace, workspace, "doomed", deletionPolicy=policy)
    obj = wait_condition(kube, namespace, "doomed")
    assert "azureml.dev/finalizer" in obj["metadata"]["finalizers"]
    since = emulator.last_seq()

    _delete(kube, namespace, "doomed")

    deletes = [e for e in emulator.requests(since) if e["method"] == "DELETE"]
    stored = [c["name"] for c in emulator.connections(prefix=workspace.id)]
    if policy == "Delete":
        assert [d["status"] for d in deletes] == [200]
        assert stored == []
    else:
        assert deletes == []
        assert stored == ["doomed"]


def test_delete_after_workspace_is_gone(
    operator: OperatorProcess,
    kubectl: Kubectl,
    kube: client.ApiClient,
    namespace: str,
    workspace: Workspace,
    emulator: EmulatorClient,
) -> None:
    _apply_pat(kubectl, namespace, workspace, "orphaned-by-azure")
    wait_condition(kube, namespace, "orphaned-by-azure")
    emulator.remove_workspace(workspace.subscription, workspace.resource_group, workspace.name)
    since = emulator.last_seq()

    _delete(kube, namespace, "orphaned-by-azure")

    answers = [(e["method"], e["status"]) for e in emulator.requests(since)]
    assert answers == [("DELETE", 404)], "one DELETE, its 404 (parent gone) taken as gone"


def test_delete_of_connection_already_deleted_in_azure(
    operator: OperatorProcess,
    kubectl: Kubectl,
    kube: client.ApiClient,
    namespace: str,
    workspace: Workspace,
    emulator: EmulatorClient,
) -> None:
    _apply_pat(kubectl, namespace, workspace, "deleted-in-portal")
    wait_condition(kube, namespace, "deleted-in-portal")
    emulator.admin("DELETE", "connections", {"id": workspace.connection_id("deleted-in-portal")})
    since = emulator.last_seq()

    _delete(kube, namespace, "deleted-in-portal")

    assert [(e["method"], e["status"]) for e in emulator.requests(since)] == [("DELETE", 204)]
