"""Namespace isolation: a WorkspaceConnection can only use Secrets of its own namespace. Crafted names are
refused by the API server; fields smuggled past the schema (a `namespace` beside a Secret reference) are
pruned by it; names that the API server allows but that only look foreign resolve in the resource's own
namespace. The victim's Secret value never reaches Azure."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from kubernetes import client

from tests.e2e.amlconn import Workspace, condition, get, wait_condition
from tests.e2e.kube import Kubectl
from tests.e2e.operator_process import OperatorProcess
from wsconn_testbed.emulator.client import EmulatorClient

VICTIM_VALUE = f"VICTIM{uuid.uuid4().hex}"


@pytest.fixture
def victim(kube: client.ApiClient) -> Iterator[str]:
    """Another namespace holding a Secret the attacker's namespace must not reach."""
    core = client.CoreV1Api(kube)
    name = f"victim-{uuid.uuid4().hex[:6]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    core.create_namespaced_secret(
        name,
        client.V1Secret(
            metadata=client.V1ObjectMeta(name="stolen"),
            string_data={"pat": VICTIM_VALUE, "key": VICTIM_VALUE},
        ),
    )
    yield name
    core.delete_namespace(name)


def _pat(namespace: str, workspace: Workspace, name: str, ref: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "azureml.dev/v1alpha1",
        "kind": "WorkspaceConnection",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "workspace": workspace.spec(),
            "authType": "PAT",
            "category": "Git",
            "target": "https://example.com/repo.git",
            "credentials": {"pat": {"secretKeyRef": ref}},
        },
    }


def test_secrets_of_other_namespaces_are_out_of_reach(
    operator: OperatorProcess,
    kubectl: Kubectl,
    kube: client.ApiClient,
    namespace: str,
    victim: str,
    workspace: Workspace,
    emulator: EmulatorClient,
) -> None:
    crafted = [
        f"{victim}/stolen",
        f"../{victim}/stolen",
        "stolen/",
        f"/api/v1/namespaces/{victim}/secrets/stolen",
    ]
    for i, name in enumerate(crafted):
        result = kubectl.apply(
            _pat(namespace, workspace, f"crafted-{i}", {"name": name, "key": "pat"}), check=False
        )
        assert result.returncode != 0, name
        assert "spec.credentials.pat.secretKeyRef.name" in result.stderr, result.stderr
    keys = kubectl.apply(
        {
            **_pat(namespace, workspace, "crafted-keys", {"name": "x", "key": "pat"}),
            "spec": {
                "workspace": workspace.spec(),
                "authType": "CustomKeys",
                "credentials": {"keys": {"secretRef": {"name": f"{victim}/stolen"}}},
            },
        },
        check=False,
    )
    assert keys.returncode != 0
    assert "spec.credentials.keys.secretRef.name" in keys.stderr, keys.stderr

    # Allowed by the API server without strict validation: a `namespace` beside the reference is pruned, and a dotted name that merely
    # mentions the victim is a name in the resource's own namespace.
    smuggled = _pat(namespace, workspace, "smuggled", {"name": "stolen", "key": "pat", "namespace": victim})
    dotted = _pat(namespace, workspace, "dotted", {"name": f"stolen.{victim}", "key": "pat"})
    custom_keys = _pat(namespace, workspace, "whole", {"name": "x", "key": "pat"})
    custom_keys["spec"] = {
        "workspace": workspace.spec(),
        "authType": "CustomKeys",
        "credentials": {"keys": {"secretRef": {"name": "stolen", "namespace": victim}}},
    }
    strict = kubectl.apply(smuggled, check=False)
    assert strict.returncode != 0, "kubectl's strict field validation refuses the unknown field"
    assert 'unknown field "spec.credentials.pat.secretKeyRef.namespace"' in strict.stderr, strict.stderr
    kubectl.run(
        "apply", "--validate=false", "-f", "-", stdin=yaml.safe_dump_all([smuggled, dotted, custom_keys])
    )

    stored = get(kube, namespace, "smuggled")
    assert "namespace" not in stored["spec"]["credentials"]["pat"]["secretKeyRef"], "pruned by the schema"
    assert "namespace" not in get(kube, namespace, "whole")["spec"]["credentials"]["keys"]["secretRef"]
    for name in ("smuggled", "dotted", "whole"):
        # Reconciling while the missing-Secret grace lasts (test_grace.py), with the same reason and message
        # that Stalled carries after it.
        obj = wait_condition(kube, namespace, name, "Reconciling")
        waiting = condition(obj, "Reconciling") or {}
        assert waiting["reason"] == "SecretNotFound", (name, waiting)
        assert victim not in waiting["message"] or name == "dotted", waiting["message"]

    assert emulator.connections(prefix=workspace.id) == [], "nothing reached Azure"
    assert VICTIM_VALUE not in operator.logs()
