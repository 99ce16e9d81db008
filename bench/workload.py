"""The benchmark's workload: N WorkspaceConnections built from examples/ (one manifest per authType), spread
over a few namespaces, each with Secrets of its own holding unique values; with team identities, each team
namespace in one subscription and with an Azure identity of its own (`wsconn-azure-credentials`).

A small copy of what tests/e2e/amlconn.py does (the bench must not depend on the test tree).
"""

from __future__ import annotations

import copy
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from bench.kube import Kube, connection_path, secret_path
from wsconn.api.contract import DEFAULT_API_VERSION

LABEL = "bench.wsconn.dev/run"
# The Secret a namespace's Azure identity is read from (docs/configuration.md, "Azure identities for several
# teams"): the operator uses it for every resource of the namespace that names no identity of its own.
NAMESPACE_IDENTITY_SECRET = "wsconn-azure-credentials"
OPERATOR_PRINCIPAL = "operator"  # the operator's own identity, in bucket keys (see buckets)
# API server answers worth another try while thousands of objects are submitted on two shared cores: APF's
# 429 and an overloaded etcd's 5xx. Anything else (a 422 from validation) is the workload's own error.
RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})
SUBMIT_ATTEMPTS = 6


@dataclass(frozen=True)
class Workspace:
    """The Azure ML workspace (in the emulator) every benchmark connection lives in."""

    subscription: str
    resource_group: str
    name: str

    @property
    def id(self) -> str:
        """The workspace's ARM id."""
        return (
            f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}/providers/"
            f"Microsoft.MachineLearningServices/workspaces/{self.name}"
        )


@dataclass(frozen=True)
class Example:
    """One examples/*.yaml: its Secrets and its WorkspaceConnection."""

    stem: str
    secrets: list[dict[str, Any]]
    connection: dict[str, Any]


@dataclass
class Item:
    """One benchmark connection: its manifest, its Secrets, and where it lands in ARM."""

    namespace: str
    name: str
    auth_type: str
    connection: dict[str, Any]
    secrets: list[dict[str, Any]] = field(default_factory=list)

    @property
    def arm_id(self) -> str:
        """The connection's ARM id (the operator uses metadata.name as the connection name)."""
        ws = self.connection["spec"]["workspace"]
        return (
            f"/subscriptions/{ws['subscriptionId']}/resourceGroups/{ws['resourceGroup']}/providers/"
            f"Microsoft.MachineLearningServices/workspaces/{ws['name']}/connections/{self.name}"
        )

    @property
    def api_version(self) -> str:
        """The ARM api-version this connection is applied with."""
        return str(self.connection["spec"].get("azureApiVersion") or DEFAULT_API_VERSION)


def load_examples(repo: Path) -> list[Example]:
    """Every examples/*.yaml with a WorkspaceConnection, in file order."""
    out = []
    for path in sorted((repo / "examples").glob("*.yaml")):
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
        conns = [d for d in docs if d["kind"] == "WorkspaceConnection"]
        if len(conns) != 1:
            continue
        out.append(Example(path.stem, [d for d in docs if d["kind"] == "Secret"], conns[0]))
    return out


def team_namespaces(count: int) -> list[str]:
    """The team namespaces of a run with identities: team-00, team-01, ..."""
    return [f"team-{k:02d}" for k in range(count)]


def placement(i: int, examples: int, namespaces: int, workspaces: int, teams: bool) -> tuple[int, int, int]:
    """Where item i goes: (example, namespace, workspace) indexes.

    Without teams, example i mod E in namespace (i // E) mod M and workspace i mod W: every authType in every
    namespace, the workspaces round-robin. With teams, namespace i mod M belongs to workspace (namespace mod
    W), as a team works in its own subscription, and takes example (i // M) mod E, so every authType is still
    in every namespace; consecutive items go to different namespaces and subscriptions."""
    if teams:
        namespace = i % namespaces
        return (i // namespaces) % examples, namespace, namespace % workspaces
    return i % examples, (i // examples) % namespaces, i % workspaces


def build(
    examples: list[Example],
    count: int,
    namespaces: list[str],
    workspaces: list[Workspace],
    run: str,
    *,
    teams: bool = False,
) -> list[Item]:
    """`count` connections placed by `placement`. Names are unique across namespaces and workspaces."""
    items = []
    for i in range(count):
        e, n, w = placement(i, len(examples), len(namespaces), len(workspaces), teams)
        example = examples[e]
        name = f"b{i:05d}-{example.stem}"
        items.append(_retarget(example, namespaces[n], name, workspaces[w], run))
    return items


def buckets(
    count: int, namespaces: int, workspaces: int, identities: int, teams: bool
) -> Counter[tuple[int, str]]:
    """Connections per ARM write bucket, i.e. per (workspace index, principal): ARM limits each principal in
    each subscription (one workspace per subscription here). The first `identities` namespaces act as their
    own principal; the rest, and every namespace without teams, as the operator."""
    out: Counter[tuple[int, str]] = Counter()
    for i in range(count):
        _, n, w = placement(i, 1, namespaces, workspaces, teams)
        out[(w, f"ns{n}" if n < identities else OPERATOR_PRINCIPAL)] += 1
    return out


def identity_secret(
    namespace: str, tenant_id: str, client_id: str, client_secret: str, run: str
) -> dict[str, Any]:
    """A namespace's Azure identity as the operator reads it: `wsconn-azure-credentials` with an app
    registration's tenant, client id and client secret."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": NAMESPACE_IDENTITY_SECRET, "namespace": namespace, "labels": {LABEL: run}},
        "type": "Opaque",
        "stringData": {
            "AZURE_TENANT_ID": tenant_id,
            "AZURE_CLIENT_ID": client_id,
            "AZURE_CLIENT_SECRET": client_secret,
        },
    }


def _retarget(example: Example, namespace: str, name: str, workspace: Workspace, run: str) -> Item:
    labels = {LABEL: run}
    renames = {s["metadata"]["name"]: f"{name}-{s['metadata']['name']}" for s in example.secrets}
    secrets = []
    for secret in example.secrets:
        s = copy.deepcopy(secret)
        s["metadata"] = {
            "name": renames[secret["metadata"]["name"]],
            "namespace": namespace,
            "labels": labels,
        }
        # Unique values: no two connections share a credential, so nothing can match by accident.
        s["stringData"] = {k: f"{k}-{uuid.uuid4().hex}" for k in secret.get("stringData") or {}}
        secrets.append(s)
    conn = copy.deepcopy(example.connection)
    conn["metadata"] = {"name": name, "namespace": namespace, "labels": labels}
    conn["spec"]["workspace"] = {
        "subscriptionId": workspace.subscription,
        "resourceGroup": workspace.resource_group,
        "name": workspace.name,
    }
    for source in (conn["spec"].get("credentials") or {}).values():
        for ref_kind in ("secretKeyRef", "secretRef"):
            if ref_kind in source:
                source[ref_kind]["name"] = renames[source[ref_kind]["name"]]
    return Item(namespace, name, str(conn["spec"]["authType"]), conn, secrets)


def create_all(kube: Kube, objects: list[tuple[str, dict[str, Any]]], threads: int = 8) -> None:
    """POST (path, object) pairs with a few threads, each on its own connection pool: one client
    creating 1,000 objects one by one would make the submission, not the operator, the bottleneck."""
    chunks = [objects[i::threads] for i in range(threads)]

    def post(chunk: list[tuple[str, dict[str, Any]]]) -> None:
        with kube.client() as client:
            for path, obj in chunk:
                create(client, path, obj)

    with ThreadPoolExecutor(threads) as pool:
        for future in [pool.submit(post, c) for c in chunks if c]:
            future.result()


def create(
    client: httpx.Client,
    path: str,
    obj: dict[str, Any],
    attempts: int = SUBMIT_ATTEMPTS,
    pause: float = 0.5,
) -> None:
    """POST one object, again after a transport error or a status in RETRIED_STATUSES (an overloaded API
    server at N = 10,000), waiting `pause` doubled each time. A 409 after a failed attempt means that attempt
    created it (its answer was lost); any other error status fails the run."""
    for attempt in range(attempts):
        last = attempt == attempts - 1
        try:
            response = client.post(path, json=obj)
        except httpx.TransportError:
            if last:
                raise
        else:
            if response.status_code < 400 or (response.status_code == 409 and attempt > 0):
                return
            if response.status_code not in RETRIED_STATUSES or last:
                raise RuntimeError(f"POST {path}: {response.status_code} {response.text[:300]}")
        time.sleep(pause * 2**attempt)


def secret_objects(items: list[Item]) -> list[tuple[str, dict[str, Any]]]:
    """Every Secret of the workload with its collection path."""
    return [(secret_path(i.namespace), s) for i in items for s in i.secrets]


def connection_objects(items: list[Item]) -> list[tuple[str, dict[str, Any]]]:
    """Every WorkspaceConnection of the workload with its collection path, in item order."""
    return [(connection_path(i.namespace), i.connection) for i in items]
