"""Every class of bad input gets a precise answer: refused by `kubectl apply` with a message naming the
field, or `Stalled=True` with a reason and a message naming the field or Secret; meanwhile a good resource in
the same namespace still becomes Ready."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client

from tests.e2e.amlconn import Workspace, load_examples, retarget, wait_condition
from tests.e2e.kube import Kubectl
from tests.e2e.operator_process import OperatorProcess
from wsconn_testbed.emulator.client import EmulatorClient


def _objects(
    workspace: Workspace, namespace: str, name: str, auth_type: str = "PAT", **spec: Any
) -> list[dict[str, Any]]:
    example = next(e for e in load_examples() if e.auth_type == auth_type)
    objects = retarget(example, workspace, name=name, api_version=None)
    for key, value in spec.items():
        if value is None:
            objects[-1]["spec"].pop(key, None)
        else:
            objects[-1]["spec"][key] = value
    for obj in objects:
        obj["metadata"]["namespace"] = namespace
    return objects


REFUSED: dict[str, tuple[dict[str, Any], list[str]]] = {
    "unknown-authtype": ({"authType": "Kerberos"}, ["spec.authType", "Kerberos"]),
    "credentials-not-fitting": (
        {"authType": "AAD"},
        ["spec.credentials.pat", "only valid with authType PAT"],
    ),
    "literal-secret-value": ({"credentials": {"pat": {"value": "ghp_plaintext"}}}, ["spec.credentials.pat"]),
    "bad-expiry": ({"expiryTime": "next tuesday"}, ["spec.expiryTime"]),
    "non-string-metadata": ({"metadata": {"retries": 5}}, ["spec.metadata.retries", "string"]),
    "bad-connection-name": ({"connectionName": "-starts-with-dash"}, ["spec.connectionName"]),
    "pinecone-on-2024": (
        {"authType": "ApiKey", "category": "Pinecone", "azureApiVersion": "2024-04-01", "credentials": None},
        [
            "spec.category: Invalid value",
            "category Pinecone is not available in azureApiVersion 2024-04-01",
            "spec.credentials: Required value: authType ApiKey requires credentials key",
        ],
    ),
    "missing-required": (
        {"authType": "AccessKey", "credentials": {"accessKeyId": {"value": "AKIA"}}},
        [
            "spec.credentials: Required value: authType AccessKey requires credentials accessKeyId, secretAccessKey"
        ],
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_refused_by_kubectl_apply(
    case: str, crd: None, kubectl: Kubectl, namespace: str, workspace: Workspace
) -> None:
    spec, fragments = REFUSED[case]
    objects = _objects(workspace, namespace, f"bad-{case}", **spec)
    result = kubectl.apply(objects[-1], check=False)
    assert result.returncode != 0, f"{case} was accepted"
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr
    assert "ghp_plaintext" not in result.stderr


def test_connection_name_is_immutable(
    crd: None, kubectl: Kubectl, namespace: str, workspace: Workspace
) -> None:
    objects = _objects(workspace, namespace, "renamed", connectionName="first-name")
    kubectl.apply(objects)
    objects[-1]["spec"]["connectionName"] = "second-name"
    result = kubectl.apply(objects[-1], check=False)
    assert result.returncode != 0
    assert "spec.connectionName" in result.stderr
    assert "immutable" in result.stderr


def stalled_inputs(workspace: Workspace, namespace: str) -> dict[str, list[dict[str, Any]]]:
    """The objects of the Stalled test, by resource name (the API server accepts every one)."""
    missing_key = _objects(workspace, namespace, "missing-key")
    missing_key[-1]["spec"]["credentials"]["pat"]["secretKeyRef"]["key"] = "no-such-key"
    empty_value = _objects(workspace, namespace, "empty-value")
    empty_value[0]["stringData"] = {"pat": "   "}
    nowhere = Workspace(workspace.subscription, workspace.resource_group, "ws-does-not-exist")
    return {
        "missing-secret": _objects(workspace, namespace, "missing-secret")[-1:],
        "missing-key": missing_key,
        "empty-value": empty_value,
        "no-workspace": _objects(nowhere, namespace, "no-workspace"),
        **{name: _objects(workspace, namespace, name) for name in ("arm-400", "arm-401", "arm-403", "good")},
    }


def test_stalled_outcomes_while_good_resources_reconcile(
    operator: OperatorProcess,
    kubectl: Kubectl,
    kube: client.ApiClient,
    namespace: str,
    workspace: Workspace,
    emulator: EmulatorClient,
) -> None:
    inputs = stalled_inputs(workspace, namespace)
    emulator.faults(
        [
            {
                "methods": ["PUT"],
                "path_contains": workspace.connection_id(name),
                "error_rate": 1.0,
                "statuses": [status],
            }
            for name, status in (("arm-400", 400), ("arm-401", 401), ("arm-403", 403))
        ]
    )
    try:
        kubectl.apply([o for objects in inputs.values() for o in objects])

        wait_condition(kube, namespace, "good", "Ready")
        expectations = {
            "missing-secret": ("SecretNotFound", ["missing-secret-git-pat", "spec.credentials.pat"]),
            "missing-key": ("SecretKeyNotFound", ["no-such-key", "spec.credentials.pat"]),
            "empty-value": ("SecretValueEmpty", ["spec.credentials.pat"]),
            "no-workspace": ("WorkspaceNotFound", ["ws-does-not-exist"]),
            "arm-400": ("AzureRejected", ["BadRequest"]),
            "arm-401": ("AzureAuthenticationFailed", ["401"]),
            "arm-403": ("AzureAuthorizationFailed", ["AuthorizationFailed"]),
        }
        # A missing Secret or key is Reconciling while the missing-Secret grace lasts (test_grace.py covers
        # its end), with the reason and message that Stalled carries after it.
        waited_for = {"missing-secret", "missing-key"}
        for name, (reason, fragments) in expectations.items():
            kind = "Reconciling" if name in waited_for else "Stalled"
            obj = wait_condition(kube, namespace, name, kind)
            stalled = next(c for c in obj["status"]["conditions"] if c["type"] == kind)
            ready = next(c for c in obj["status"]["conditions"] if c["type"] == "Ready")
            assert stalled["reason"] == reason, (name, stalled)
            assert ready["status"] == "False", name
            for fragment in fragments:
                assert fragment in stalled["message"], (name, stalled["message"])
    finally:
        emulator.admin("DELETE", "faults")

    stored = {c["name"] for c in emulator.connections(prefix=workspace.id)}
    assert stored == {"good"}, "nothing bad reached Azure"
