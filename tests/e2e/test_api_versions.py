"""Every current api-version, end to end: what `kubectl apply` refuses per api-version, and an operator upgrade
that moves resources to the new default api-version without a single ARM write."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from kubernetes import client

from tests.e2e.amlconn import Workspace, all_ready, items, load_examples, retarget
from tests.e2e.kube import Kubectl, wait_for
from tests.e2e.operator_process import OperatorProcess
from wsconn.api import contract
from wsconn_testbed.emulator.client import EmulatorClient

OLD_DEFAULT = "2025-06-01"  # the previous release's default
NEW_DEFAULT = contract.DEFAULT_API_VERSION
INTERVAL = 2.0


def _connection(workspace: Workspace, namespace: str, name: str, **spec: Any) -> dict[str, Any]:
    example = next(e for e in load_examples() if e.auth_type == "AAD")
    (conn,) = retarget(example, workspace, name=name, api_version=None)
    conn["metadata"]["namespace"] = namespace
    conn["spec"].update(spec)
    return conn


REFUSED: dict[str, tuple[dict[str, Any], list[str]]] = {
    # an unset azureApiVersion is the default, 2026-05-01, which has no value
    "value-on-the-default": (
        {"value": "{}", "valueFormat": "JSON"},
        ["spec.value", "2026-05-01", "2025-09-01"],
    ),
    "valueFormat-on-2025-12-01": (
        {"valueFormat": "JSON", "azureApiVersion": "2025-12-01"},
        ["spec.valueFormat", "not available in azureApiVersion 2025-12-01"],
    ),
    "peRequirement-on-2024-04-01": (
        {"peRequirement": "NotRequired", "azureApiVersion": "2024-04-01"},
        ["spec.peRequirement", "not available in azureApiVersion 2024-04-01"],
    ),
    "useWorkspaceManagedIdentity-on-2025-09-01": (
        {"useWorkspaceManagedIdentity": True, "azureApiVersion": "2025-09-01"},
        ["spec.useWorkspaceManagedIdentity", "not available in azureApiVersion 2025-09-01"],
    ),
    "category-of-2025-12-01-on-2025-09-01": (
        {"category": "AzureKeyVault", "azureApiVersion": "2025-09-01"},
        ["spec.category", "AzureKeyVault is not available in azureApiVersion 2025-09-01"],
    ),
    "peRequirement-unknown": ({"peRequirement": "Sometimes"}, ["spec.peRequirement", "Sometimes"]),
    "connectionName-65-characters": ({"connectionName": "c" * 65}, ["spec.connectionName"]),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_a_field_the_api_version_lacks_is_refused_by_kubectl_apply(
    case: str, crd: None, kubectl: Kubectl, namespace: str, workspace: Workspace
) -> None:
    spec, fragments = REFUSED[case]
    result = kubectl.apply(_connection(workspace, namespace, f"bad-{case}"[:63].lower(), **spec), check=False)
    assert result.returncode != 0, f"{case} was accepted"
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr


ACCEPTED: dict[str, dict[str, Any]] = {
    "value-on-2025-09-01": {"value": "{}", "valueFormat": "JSON", "azureApiVersion": "2025-09-01"},
    "value-on-2024-04-01": {"value": "{}", "valueFormat": "JSON", "azureApiVersion": "2024-04-01"},
    "peRequirement-on-the-default": {"peRequirement": "Required", "useWorkspaceManagedIdentity": True},
    "peRequirement-on-2025-12-01": {"peRequirement": "NotApplicable", "azureApiVersion": "2025-12-01"},
    "category-of-2025-12-01-on-the-default": {"category": "AzureKeyVault"},
    "connectionName-34-characters-as-recorded": {"connectionName": "e2etest_wps_conn_test_513561481161"},
    "connectionName-64-characters": {"connectionName": "c" * 64},
}


@pytest.mark.parametrize("case", sorted(ACCEPTED))
def test_a_field_the_api_version_has_is_accepted_by_kubectl_apply(
    case: str, crd: None, kubectl: Kubectl, namespace: str, workspace: Workspace
) -> None:
    conn = _connection(workspace, namespace, f"ok-{case}"[:63].lower(), **ACCEPTED[case])
    result = kubectl.run("apply", "--dry-run=server", "-f", "-", stdin=_yaml(conn), check=False)
    assert result.returncode == 0, result.stderr


def test_upgrading_to_the_new_default_api_version_writes_nothing(
    start_operator: Callable[..., OperatorProcess],
    kubectl: Kubectl,
    kube: client.ApiClient,
    namespace: str,
    workspace: Workspace,
    emulator: EmulatorClient,
) -> None:
    # The previous release: default api-version 2025-06-01. Its fingerprint formula is the one this release
    # keeps (tests/unit pins it), so the status it leaves is exactly what this first run leaves.
    old = start_operator(WSCONN_DEFAULT_API_VERSION=OLD_DEFAULT)
    examples = load_examples()
    for example in examples:
        objects = retarget(example, workspace, name=f"up-{example.auth_type.lower()}", api_version=None)
        for obj in objects:
            obj["metadata"]["namespace"] = namespace
        kubectl.apply(objects)
    before = wait_for(
        lambda: all_ready(kube, namespace, len(examples)), timeout=90, interval=0.5, what="Ready"
    )
    assert {i["status"]["azureApiVersion"] for i in before} == {OLD_DEFAULT}
    puts = [e for e in emulator.requests() if e["method"] == "PUT" and e["path"].startswith(workspace.id)]
    assert sorted(e["api_version"] for e in puts) == [OLD_DEFAULT] * len(examples)
    assert old.stop() == 0

    # The upgrade: the new release, default 2026-05-01, with drift checks due soon.
    since = emulator.last_seq()
    start_operator(WSCONN_DRIFT_INTERVAL=str(INTERVAL))

    def moved() -> list[dict[str, Any]] | None:
        found = all_ready(kube, namespace, len(examples))
        if found and all(i["status"]["azureApiVersion"] == NEW_DEFAULT for i in found):
            return found
        return None

    after = wait_for(moved, timeout=60, interval=0.5, what=f"status.azureApiVersion {NEW_DEFAULT} on all")

    def read_with_new_version() -> bool:
        read = {
            e["path"].rsplit("/", 1)[-1]
            for e in emulator.requests(since)
            if e["method"] == "GET" and e["path"].startswith(workspace.id)
        }
        return len(read) == len(examples)

    wait_for(read_with_new_version, timeout=INTERVAL * 4 + 30, interval=0.5, what="a drift check of each")
    calls = [e for e in emulator.requests(since) if e["path"].startswith(workspace.id)]
    assert [(e["method"], e["path"]) for e in calls if e["method"] != "GET"] == [], "no ARM write at all"
    assert {e["api_version"] for e in calls} == {NEW_DEFAULT}
    assert all(e["status"] == 200 for e in calls), calls
    old_status = {i["metadata"]["name"]: i["status"] for i in before}
    for item in items(kube, namespace):
        status = item["status"]
        previous = old_status[item["metadata"]["name"]]
        assert status["lastAppliedTime"] == previous["lastAppliedTime"], "not applied again"
        assert status["appliedFingerprint"] != previous["appliedFingerprint"], (
            "fingerprint moved to the new version"
        )
    assert len(after) == len(examples)


def _yaml(obj: dict[str, Any]) -> str:
    import yaml

    return yaml.safe_dump(obj)
