"""WorkspaceConnection helpers for e2e tests: manifests from examples/, status reading, and the credentials a
manifest should produce in Azure, computed here independently of the operator's code."""

from __future__ import annotations

import base64
import copy
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import yaml
from kubernetes import client

from tests.e2e.kube import wait_for
from wsconn.api import contract

GROUP, VERSION, PLURAL = "azureml.dev", "v1alpha1", "workspaceconnections"
API_VERSIONS = contract.API_VERSIONS
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@dataclass(frozen=True)
class Workspace:
    """An Azure ML workspace that exists in the emulator."""

    subscription: str
    resource_group: str
    name: str

    def spec(self) -> dict[str, str]:
        """The `spec.workspace` block."""
        return {"subscriptionId": self.subscription, "resourceGroup": self.resource_group, "name": self.name}

    def connection_id(self, connection: str) -> str:
        """The ARM id of a connection in this workspace."""
        return (
            f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}/providers/"
            f"Microsoft.MachineLearningServices/workspaces/{self.name}/connections/{connection}"
        )

    @property
    def id(self) -> str:
        """The workspace's ARM id."""
        return self.connection_id("x").rsplit("/connections/", 1)[0]


@dataclass
class Example:
    """One examples/*.yaml file: its Secrets and its WorkspaceConnection."""

    file: str
    secrets: list[dict[str, Any]]
    connection: dict[str, Any]

    @property
    def auth_type(self) -> str:
        """The example's authType."""
        return str(self.connection["spec"]["authType"])


def load_examples() -> list[Example]:
    """Every example manifest, in file order."""
    out = []
    for path in sorted(EXAMPLES.glob("*.yaml")):
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
        secrets = [d for d in docs if d["kind"] == "Secret"]
        (connection,) = [d for d in docs if d["kind"] == "WorkspaceConnection"]
        out.append(Example(path.name, secrets, connection))
    return out


def retarget(
    example: Example, workspace: Workspace, *, name: str, api_version: str | None
) -> list[dict[str, Any]]:
    """The example's objects renamed (`name` for the connection, `<name>-<secret>` for Secrets), pointed at
    `workspace`, pinned to `api_version`, with unique secret values so nothing can match by accident."""
    renames = {s["metadata"]["name"]: f"{name}-{s['metadata']['name']}" for s in example.secrets}
    secrets = []
    for secret in example.secrets:
        s = copy.deepcopy(secret)
        s["metadata"] = {"name": renames[secret["metadata"]["name"]]}
        s["stringData"] = {k: f"{k}-{uuid.uuid4().hex}" for k in secret.get("stringData", {})}
        secrets.append(s)
    conn = copy.deepcopy(example.connection)
    conn["metadata"] = {"name": name}
    conn["spec"]["workspace"] = workspace.spec()
    if api_version is None:
        conn["spec"].pop("azureApiVersion", None)
    else:
        conn["spec"]["azureApiVersion"] = api_version
    for source in (conn["spec"].get("credentials") or {}).values():
        for ref_kind in ("secretKeyRef", "secretRef"):
            if ref_kind in source:
                source[ref_kind]["name"] = renames[source[ref_kind]["name"]]
    return [*secrets, conn]


def secret_data(secret: dict[str, Any]) -> dict[str, str]:
    """A Secret manifest's values as text (stringData, or data decoded)."""
    data = {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}
    data.update(secret.get("stringData") or {})
    return data


def expected_credentials(objects: list[dict[str, Any]]) -> dict[str, Any] | None:
    """What listsecrets should return for the WorkspaceConnection among `objects` (None: no credentials)."""
    secrets = {s["metadata"]["name"]: secret_data(s) for s in objects if s["kind"] == "Secret"}
    (conn,) = [o for o in objects if o["kind"] == "WorkspaceConnection"]
    credentials = conn["spec"].get("credentials")
    if not credentials:
        return None
    out: dict[str, Any] = {}
    for field, source in credentials.items():
        if "value" in source:
            out[field] = source["value"]
        elif "secretKeyRef" in source:
            ref = source["secretKeyRef"]
            out[field] = secrets[ref["name"]][ref["key"]]
        else:
            out[field] = dict(secrets[source["secretRef"]["name"]])
    return out


def expected_properties(conn: dict[str, Any]) -> dict[str, Any]:
    """The non-secret properties a WorkspaceConnection's spec asks for, by ARM name."""
    spec = conn["spec"]
    names = (
        "authType",
        "category",
        "target",
        "metadata",
        "isSharedToAll",
        "sharedUserList",
        "expiryTime",
        "peRequirement",
        "useWorkspaceManagedIdentity",
        "value",
        "valueFormat",
    )
    return {n: spec[n] for n in names if n in spec}


def custom(kube: client.ApiClient) -> client.CustomObjectsApi:
    """The custom-objects API."""
    return client.CustomObjectsApi(kube)


def get(kube: client.ApiClient, namespace: str, name: str) -> dict[str, Any]:
    """A WorkspaceConnection as the API server has it."""
    obj = custom(kube).get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
    return cast(dict[str, Any], obj)


def items(kube: client.ApiClient, namespace: str) -> list[dict[str, Any]]:
    """Every WorkspaceConnection in a namespace."""
    listed = custom(kube).list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL)
    return cast(list[dict[str, Any]], cast(dict[str, Any], listed)["items"])


def condition(obj: dict[str, Any], kind: str) -> dict[str, Any] | None:
    """The condition of type `kind`, if present."""
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return dict(cond)
    return None


def is_current(obj: dict[str, Any], kind: str) -> dict[str, Any] | None:
    """The condition `kind` when it is True for the object's current generation."""
    cond = condition(obj, kind)
    status = obj.get("status") or {}
    if (
        cond
        and cond.get("status") == "True"
        and status.get("observedGeneration") == obj["metadata"]["generation"]
        and cond.get("observedGeneration", status.get("observedGeneration")) == obj["metadata"]["generation"]
    ):
        return cond
    return None


def wait_condition(
    kube: client.ApiClient, namespace: str, name: str, kind: str = "Ready", timeout: float = 60
) -> dict[str, Any]:
    """Wait until condition `kind` is True for the current generation; returns the object."""

    def current() -> dict[str, Any] | None:
        obj = get(kube, namespace, name)
        return obj if is_current(obj, kind) else None

    found: dict[str, Any] = wait_for(
        current,
        timeout=timeout,
        interval=0.2,
        what=f"{namespace}/{name} {kind}=True",
    )
    return found


def all_ready(kube: client.ApiClient, namespace: str, expected: int) -> list[dict[str, Any]] | None:
    """Every WorkspaceConnection in the namespace, when `expected` of them exist and all are Ready."""
    found = items(kube, namespace)
    if len(found) == expected and all(is_current(i, "Ready") for i in found):
        return found
    return None
