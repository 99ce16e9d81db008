"""Azure identities per namespace and per resource (docs/design.md §2), as a platform team sets them up: two team
namespaces, two app registrations in the emulator's Entra, each allowed (ARM scope) on its own connection
only, credential Secrets applied with kubectl, and the emulator's request log saying which principal made
every call. The operator's own identity is allowed nowhere here (WSCONN_OPERATOR_IDENTITY_NAMESPACES=""), so
any call it made would show its client id in the log."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from kubernetes import client

from tests.certificates import self_signed
from tests.e2e.amlconn import Workspace, condition, get, wait_condition
from tests.e2e.kube import Kubectl, wait_for
from tests.e2e.operator_process import OperatorProcess
from wsconn_testbed.emulator.client import EmulatorClient

NAMESPACE_SECRET = "wsconn-azure-credentials"
ARM_WRITES = {"PUT", "PATCH", "POST", "DELETE"}


def connection(namespace: str, name: str, workspace: Workspace, **spec: Any) -> dict[str, Any]:
    """An AAD connection (no credential Secrets of its own, so only the identity's Secret matters)."""
    return {
        "apiVersion": "azureml.dev/v1alpha1",
        "kind": "WorkspaceConnection",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "workspace": workspace.spec(),
            "authType": "AAD",
            "category": "AzureBlob",
            "target": f"https://{name}.blob.core.windows.net/",
            **spec,
        },
    }


def azure_secret(
    namespace: str, name: str, tenant: str, client_id: str, labels: dict[str, str] | None = None, **data: str
) -> dict[str, Any]:
    """A credential Secret as a team would apply it."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
        "stringData": {"AZURE_TENANT_ID": tenant, "AZURE_CLIENT_ID": client_id, **data},
    }


def register(emulator: EmulatorClient, scopes: list[str], **extra: Any) -> tuple[str, str]:
    """An app registration allowed only at `scopes`; returns (client id, its first secret or "")."""
    client_id = str(uuid.uuid4())
    registered = emulator.admin("POST", "clients", {"client_id": client_id, "scopes": scopes, **extra})
    return client_id, str(registered["secret"])


def ready_reason(
    kube: client.ApiClient, namespace: str, name: str, reason: str, timeout: float = 30
) -> dict[str, Any]:
    """Wait until Ready is False with `reason` for the current generation; returns the object."""

    def refused() -> dict[str, Any] | None:
        obj = get(kube, namespace, name)
        ready = condition(obj, "Ready") or {}
        current = ready.get("observedGeneration") == (obj or {}).get("metadata", {}).get("generation")
        return obj if current and ready.get("status") == "False" and ready.get("reason") == reason else None

    found: dict[str, Any] = wait_for(
        refused, timeout=timeout, interval=0.2, what=f"{namespace}/{name} {reason}"
    )
    return found


def calls_on(emulator: EmulatorClient, path: str, since: int = 0) -> list[dict[str, Any]]:
    """ARM requests on one connection (path compared case-insensitively, as ARM does)."""
    return [e for e in emulator.requests(since) if e["path"].lower().startswith(path.lower())]


@pytest.fixture
def team_b_namespace(kube: client.ApiClient, namespace: str) -> Iterator[str]:
    """A second team's namespace beside the test's own."""
    core = client.CoreV1Api(kube)
    name = f"{namespace[:50]}-b"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    core.delete_namespace(name)


@pytest.fixture
def teams(
    start_operator: Callable[..., OperatorProcess], namespace: str, team_b_namespace: str
) -> Callable[..., OperatorProcess]:
    """Start an operator watching both team namespaces, its own identity allowed nowhere."""

    def start(**env: str) -> OperatorProcess:
        settings = {
            "WSCONN_NAMESPACES": f"{namespace},{team_b_namespace}",
            "WSCONN_OPERATOR_IDENTITY_NAMESPACES": "",
            **env,
        }
        return start_operator(**settings)

    return start


def test_each_team_writes_with_its_own_identity_and_nothing_else_is_sent(
    teams: Callable[..., OperatorProcess],
    kubectl: Kubectl,
    kube: client.ApiClient,
    namespace: str,
    team_b_namespace: str,
    workspace: Workspace,
    emulator: EmulatorClient,
) -> None:
    tenant = emulator.info["tenant_id"]
    operator_client = next(iter(emulator.info["clients"]))
    conn_a, conn_b = workspace.connection_id("team-a-conn"), workspace.connection_id("team-b-conn")
    team_a, secret_a = register(emulator, [conn_a])
    team_b, secret_b = register(emulator, [conn_b])
    kubectl.apply(
        [
            # team A: the namespace's identity; team B: a Secret its resource names.
            azure_secret(namespace, NAMESPACE_SECRET, tenant, team_a, AZURE_CLIENT_SECRET=secret_a),
            connection(namespace, "team-a-conn", workspace),
            azure_secret(team_b_namespace, "team-b-azure", tenant, team_b, AZURE_CLIENT_SECRET=secret_b),
            connection(
                team_b_namespace,
                "team-b-conn",
                workspace,
                azureCredentials={"secretRef": {"name": "team-b-azure"}},
            ),
            # team B naming team A's Secret, which exists only in team A's namespace.
            connection(
                team_b_namespace,
                "borrows-a",
                workspace,
                azureCredentials={"secretRef": {"name": NAMESPACE_SECRET}},
            ),
            # team B without any identity: the operator's own is not allowed in its namespace.
            connection(team_b_namespace, "no-identity", workspace),
        ]
    )
    teams()

    a = wait_condition(kube, namespace, "team-a-conn")
    b = wait_condition(kube, team_b_namespace, "team-b-conn")
    borrowed = ready_reason(kube, team_b_namespace, "borrows-a", "AzureCredentialsNotFound")
    refused = ready_reason(kube, team_b_namespace, "no-identity", "OperatorIdentityNotAllowed")

    assert a["status"]["azureIdentity"] == {"source": "Namespace", "tenantId": tenant, "clientId": team_a}
    assert b["status"]["azureIdentity"] == {"source": "Resource", "tenantId": tenant, "clientId": team_b}
    assert "azureIdentity" not in borrowed["status"]
    assert (
        f"{NAMESPACE_SECRET!r} not found in namespace {team_b_namespace!r}"
        in (condition(borrowed, "Ready") or {})["message"]
    )
    assert "--operator-identity-namespaces" in (condition(refused, "Ready") or {})["message"]
    for path, principal in ((conn_a, team_a), (conn_b, team_b)):
        calls = calls_on(emulator, path)
        # The first pass looks (404: not there yet), then writes.
        assert [(c["method"], c["status"]) for c in calls] == [("GET", 404), ("PUT", 200)]
        assert {c["client_id"] for c in calls} == {principal}
    assert calls_on(emulator, workspace.connection_id("borrows-a")) == []
    assert calls_on(emulator, workspace.connection_id("no-identity")) == []
    on_workspace = [e for e in emulator.requests(0) if e["path"].lower().startswith(workspace.id.lower())]
    assert operator_client not in {e["client_id"] for e in on_workspace}, (
        "the operator's identity sent nothing"
    )

    # Deleting team A's resource deletes its connection as team A.
    kubectl.run("delete", "-n", namespace, "workspaceconnection", "team-a-conn", "--wait=true", timeout=60)
    deletes = [c for c in calls_on(emulator, conn_a) if c["method"] == "DELETE"]
    assert [(c["client_id"], c["status"]) for c in deletes] == [(team_a, 200)]


def test_a_rotated_client_secret_is_used_on_the_next_write_without_a_put_of_its_own(
    teams: Callable[..., OperatorProcess],
    kubectl: Kubectl,
    kube: client.ApiClient,
    namespace: str,
    workspace: Workspace,
    emulator: EmulatorClient,
) -> None:
    tenant = emulator.info["tenant_id"]
    path = workspace.connection_id("rotates")
    team, old = register(emulator, [path])
    kubectl.apply(
        [
            azure_secret(namespace, NAMESPACE_SECRET, tenant, team, AZURE_CLIENT_SECRET=old),
            connection(namespace, "rotates", workspace),
        ]
    )
    teams()
    wait_condition(kube, namespace, "rotates")
    since = emulator.last_seq()

    # The rotation, as a team does it: a new secret on the app, the Secret updated, the old one revoked
    # (with every token issued for it, so a cached token cannot hide a stale credential).
    new = emulator.admin("POST", "clients/secrets", {"client_id": team})["secret"]
    core = client.CoreV1Api(kube)
    core.patch_namespaced_secret(NAMESPACE_SECRET, namespace, {"stringData": {"AZURE_CLIENT_SECRET": new}})
    meta = core.read_namespaced_secret(NAMESPACE_SECRET, namespace).metadata
    assert meta is not None
    version = meta.resource_version
    emulator.admin("DELETE", "clients/secrets", {"client_id": team, "secret": old})
    emulator.admin("POST", "principals/revoke-tokens", {"client_id": team})
    wait_for(
        lambda: (
            (get(kube, namespace, "rotates") or {})["status"].get("secretVersions", {}).get(NAMESPACE_SECRET)
            == version
        ),
        timeout=10,
        interval=0.05,
        what="the pass the rotation triggers",
    )
    time.sleep(1)  # a PUT the rotation caused would have been sent by now
    assert [e for e in emulator.requests(since) if e["method"] in ARM_WRITES] == [], (
        "no PUT from the rotation"
    )
    assert wait_condition(kube, namespace, "rotates")["status"]["azureIdentity"]["clientId"] == team

    kubectl.apply(
        connection(namespace, "rotates", workspace, target="https://rotated.blob.core.windows.net/")
    )
    obj = wait_condition(kube, namespace, "rotates")
    assert obj["metadata"]["generation"] == 2
    puts = [e for e in calls_on(emulator, path, since) if e["method"] == "PUT"]
    assert [(e["client_id"], e["status"]) for e in puts] == [(team, 200)], (
        "the next write, with the new secret"
    )
    tokens = [e for e in emulator.requests(since, kind="entra") if e["client_id"] == team]
    assert [e["status"] for e in tokens] == [200], (
        "one token, from the new secret; the old one was never tried"
    )


def _service_account_token(path: Path, issuer: str, subject: str) -> None:
    """What the kubelet projects for Azure Workload Identity: a ServiceAccount token for the exchange
    audience (signed with a key of the test's own: the emulator checks claims, not the cluster's keys)."""
    key = rsa.generate_private_key(65537, 2048)
    now = int(time.time())
    claims = {
        "iss": issuer,
        "sub": subject,
        "aud": ["api://AzureADTokenExchange"],
        "iat": now,
        "exp": now + 3600,
    }
    path.write_text(jwt.encode(claims, key, algorithm="RS256"))


def test_certificate_and_workload_identity_credentials(
    teams: Callable[..., OperatorProcess],
    kubectl: Kubectl,
    kube: client.ApiClient,
    namespace: str,
    workspace: Workspace,
    emulator: EmulatorClient,
    tmp_path: Path,
) -> None:
    tenant = emulator.info["tenant_id"]
    cert_pem, key_pem = self_signed("team-cert")
    by_cert, _ = register(emulator, [workspace.connection_id("by-cert")], certificates=[cert_pem])
    issuer, subject = "https://oidc.cluster.example/", "system:serviceaccount:wsconn-system:wsconn-operator"
    by_workload, _ = register(
        emulator,
        [workspace.connection_id("by-workload")],
        federated_issuer=issuer,
        federated_subject=subject,
    )
    token_file = tmp_path / "azure-identity-token"
    _service_account_token(token_file, issuer, subject)
    kubectl.apply(
        [
            azure_secret(
                namespace, "cert-azure", tenant, by_cert, AZURE_CLIENT_CERTIFICATE=cert_pem + key_pem
            ),
            connection(
                namespace, "by-cert", workspace, azureCredentials={"secretRef": {"name": "cert-azure"}}
            ),
            azure_secret(namespace, "wi-azure", tenant, by_workload, AZURE_USE_WORKLOAD_IDENTITY="true"),
            connection(
                namespace, "by-workload", workspace, azureCredentials={"secretRef": {"name": "wi-azure"}}
            ),
        ]
    )
    teams(AZURE_FEDERATED_TOKEN_FILE=str(token_file))

    for name, principal in (("by-cert", by_cert), ("by-workload", by_workload)):
        obj = wait_condition(kube, namespace, name)
        assert obj["status"]["azureIdentity"]["clientId"] == principal
        assert {c["client_id"] for c in calls_on(emulator, workspace.connection_id(name))} == {principal}
    auth = {e["client_id"]: e["auth"] for e in emulator.requests(0, kind="entra") if e["status"] == 200}
    assert auth[by_cert].startswith("certificate")
    assert auth[by_workload] == "federated"


def test_the_secret_selector_refuses_unlabelled_secrets_with_nothing_sent(
    teams: Callable[..., OperatorProcess],
    kubectl: Kubectl,
    kube: client.ApiClient,
    namespace: str,
    workspace: Workspace,
    emulator: EmulatorClient,
) -> None:
    tenant = emulator.info["tenant_id"]
    label = {"wsconn.azureml.dev/usable": "true"}
    team, secret = register(emulator, [workspace.id])
    pat = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "ado-pat", "namespace": namespace},
        "stringData": {"pat": "pat-value-for-the-selector-test"},
    }
    conn = connection(namespace, "selective", workspace)
    conn["spec"].update(
        authType="PAT",
        category="Git",
        target="https://github.com/contoso/repo",
        credentials={"pat": {"secretKeyRef": {"name": "ado-pat", "key": "pat"}}},
    )
    kubectl.apply(
        [
            azure_secret(namespace, NAMESPACE_SECRET, tenant, team, labels=label, AZURE_CLIENT_SECRET=secret),
            pat,
            conn,
        ]
    )
    teams(WSCONN_SECRET_SELECTOR="wsconn.azureml.dev/usable=true")

    refused = ready_reason(kube, namespace, "selective", "SecretNotFound")
    message = (condition(refused, "Ready") or {})["message"]
    assert "matching the operator's --secret-selector 'wsconn.azureml.dev/usable=true'" in message
    assert calls_on(emulator, workspace.connection_id("selective")) == []

    kubectl.run("label", "-n", namespace, "secret", "ado-pat", "wsconn.azureml.dev/usable=true")
    wait_condition(kube, namespace, "selective", timeout=30)
    assert [c["client_id"] for c in calls_on(emulator, workspace.connection_id("selective"))] == [team, team]
    assert json.dumps(get(kube, namespace, "selective")).count("pat-value") == 0
