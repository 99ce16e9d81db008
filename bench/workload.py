"""The benchmark's workload: N WorkspaceConnections built from examples/ (one manifest per authType), spread
over a few namespaces, each with Secrets of its own holding unique values.

A small copy of what tests/e2e/amlconn.py does (the bench must not depend on the test tree).
"""

from __future__ import annotations

import copy
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bench.kube import Kube, connection_path, secret_path
from wsconn.api.contract import DEFAULT_API_VERSION

LABEL = "bench.wsconn.dev/run"


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


def build(
    examples: list[Example], count: int, namespaces: list[str], workspaces: list[Workspace], run: str
) -> list[Item]:
    """`count` connections: item i is example i mod 12, in namespace (i // 12) mod 3, so every authType
    appears in every namespace, and in workspace i mod K (one per subscription). Names are unique across
    namespaces and workspaces."""
    items = []
    for i in range(count):
        example = examples[i % len(examples)]
        namespace = namespaces[(i // len(examples)) % len(namespaces)]
        name = f"b{i:05d}-{example.stem}"
        items.append(_retarget(example, namespace, name, workspaces[i % len(workspaces)], run))
    return items


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
                response = client.post(path, json=obj)
                if response.status_code >= 400:
                    raise RuntimeError(f"POST {path}: {response.status_code} {response.text[:300]}")

    with ThreadPoolExecutor(threads) as pool:
        for future in [pool.submit(post, c) for c in chunks if c]:
            future.result()


def secret_objects(items: list[Item]) -> list[tuple[str, dict[str, Any]]]:
    """Every Secret of the workload with its collection path."""
    return [(secret_path(i.namespace), s) for i in items for s in i.secrets]


def connection_objects(items: list[Item]) -> list[tuple[str, dict[str, Any]]]:
    """Every WorkspaceConnection of the workload with its collection path, in item order."""
    return [(connection_path(i.namespace), i.connection) for i in items]
