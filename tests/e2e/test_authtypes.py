"""Every auth type on every api-version, from the manifests users start from (examples/), end to end:
kubectl apply -> Ready -> the emulator holds exactly what the spec and the Secrets say."""

from __future__ import annotations

import pytest
from kubernetes import client

from tests.e2e.amlconn import (
    API_VERSIONS,
    Workspace,
    all_ready,
    expected_credentials,
    expected_properties,
    load_examples,
    retarget,
)
from tests.e2e.kube import Kubectl, wait_for
from tests.e2e.operator_process import OperatorProcess
from wsconn_testbed.emulator.client import EmulatorClient

ALL_AUTH_TYPES = {
    "None", "AAD", "PAT", "SAS", "ApiKey", "AccountKey", "AccessKey", "UsernamePassword",
    "ServicePrincipal", "ManagedIdentity", "OAuth2", "CustomKeys",
}  # fmt: skip


def test_examples_cover_every_auth_type() -> None:
    assert {e.auth_type for e in load_examples()} == ALL_AUTH_TYPES


@pytest.mark.parametrize("api_version", API_VERSIONS)
def test_every_auth_type_becomes_ready_with_exact_fields_and_credentials(
    api_version: str,
    operator: OperatorProcess,
    kubectl: Kubectl,
    kube: client.ApiClient,
    namespace: str,
    workspace: Workspace,
    emulator: EmulatorClient,
) -> None:
    since = emulator.last_seq()
    applied = {}
    for example in load_examples():
        name = f"conn-{example.auth_type.lower()}"
        objects = retarget(example, workspace, name=name, api_version=api_version)
        for obj in objects:
            obj["metadata"]["namespace"] = namespace
        kubectl.apply(objects)
        applied[name] = objects

    items = wait_for(
        lambda: all_ready(kube, namespace, len(applied)),
        timeout=90,
        interval=0.5,
        what="all connections Ready",
    )
    for item in items:
        status = item["status"]
        name = item["metadata"]["name"]
        assert status["id"] == workspace.connection_id(name)
        assert status["azureApiVersion"] == api_version
        assert status["appliedFingerprint"]

    stored = {c["name"]: c for c in emulator.connections(prefix=workspace.id)}
    assert set(stored) == set(applied)
    for name, objects in applied.items():
        conn = objects[-1]
        props = stored[name]["properties"]
        want = expected_properties(conn)
        # The service adds metadata keys of its own (AzureOpenAI's DeploymentApiVersion): the spec's are kept.
        metadata = want.pop("metadata", {})
        assert {k: props.get(k) for k in want} == want, name
        assert {k: (props.get("metadata") or {}).get(k) for k in metadata} == metadata, name
        assert props.get("credentials") is None, "GET-shaped data carries no credentials (null or absent)"
        answer = emulator.arm("POST", f"{workspace.connection_id(name)}/listsecrets", api_version)
        assert answer.status_code == 200
        assert answer.json()["properties"].get("credentials") == expected_credentials(objects), name

    writes = [e for e in emulator.requests(since) if e["path"].startswith(workspace.id)]
    puts = [e for e in writes if e["method"] == "PUT"]
    assert len(puts) == len(applied), "exactly one PUT per connection"
    assert all(e["status"] == 200 and e["api_version"] == api_version for e in puts), puts
    # Each new resource's first pass looks for an existing connection (adoptionPolicy) and finds none.
    looks = [e for e in writes if e["method"] == "GET" and e["status"] == 404]
    assert len(looks) == len(applied), "one look per new connection"
    assert not [e for e in writes if e["status"] >= 400 and e not in looks]
