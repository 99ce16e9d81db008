"""In-memory stand-ins for the reconciler's ports, and virtual time, for the shell's unit tests.

What is faked: ARM (a dict of connections, with scripted failures and latency), the Secret reader (a dict of
Secrets), the status writer (a list of patches) and time (looptime's event loop: sleeps, deadlines and
timeouts run in virtual seconds, tests/unit/virtual.py, so no test waits real seconds). What is not: the reconciler, its passes,
the plan, the classifier, the conditions and the status model are the real ones.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import datetime as dt
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from wsconn.api.references import ObjectRef, SecretRef
from wsconn.core.credentials import FetchedSecret
from wsconn.core.identity import Identity
from wsconn.reconciler import ObjectView, ReconcileConfig, Reconciler

SUB = "00000000-0000-0000-0000-000000000001"
WORKSPACE = {"subscriptionId": SUB, "resourceGroup": "rg", "name": "ws-main"}
NOW = dt.datetime(2026, 6, 1, 10, 0, 0, tzinfo=dt.UTC)
API_VERSION = "2025-06-01"


def connection_id(name: str, workspace: Mapping[str, str] = WORKSPACE) -> str:
    """The ARM ID of connection `name` in `workspace`."""
    return (
        f"/subscriptions/{workspace['subscriptionId']}/resourceGroups/{workspace['resourceGroup']}"
        f"/providers/Microsoft.MachineLearningServices/workspaces/{workspace['name']}/connections/{name}"
    )


def apikey_spec(secret: str = "openai", **changes: Any) -> dict[str, Any]:
    """An ApiKey spec whose key comes from Secret `secret`."""
    spec: dict[str, Any] = {
        "workspace": dict(WORKSPACE),
        "azureApiVersion": API_VERSION,
        "authType": "ApiKey",
        "category": "AzureOpenAI",
        "target": "https://contoso.openai.azure.com/",
        "credentials": {"key": {"secretKeyRef": {"name": secret, "key": "api-key"}}},
    }
    spec.update(changes)
    return spec


def view(
    name: str = "conn",
    spec: Mapping[str, Any] | None = None,
    status: Mapping[str, Any] | None = None,
    *,
    generation: int = 1,
    uid: str | None = None,
) -> ObjectView:
    """A WorkspaceConnection as a pass sees it."""
    return ObjectView(
        namespace="ns",
        name=name,
        uid=uid or f"uid-{name}",
        generation=generation,
        spec=dict(spec if spec is not None else apikey_spec()),
        status=dict(status or {}),
    )


def secret(name: str, data: Mapping[str, bytes] | None = None, version: str = "1") -> FetchedSecret:
    """A Secret as read from the API server."""
    return FetchedSecret(
        name=name, resource_version=version, data=dict(data or {"api-key": b"sk-canary-value"})
    )


@dataclass
class FakeSecrets:
    """Secrets by reference; a missing one reads as None; `error` is raised instead of reading. With `watched`,
    `versions` answers as the Secret watch does (the stored Secrets' versions); without, it knows nothing
    (the watch narrowed by --secret-selector, or a namespace not listed yet)."""

    secrets: dict[SecretRef, FetchedSecret] = field(default_factory=dict)
    error: Exception | None = None
    reads: list[SecretRef] = field(default_factory=list)
    watched: bool = False

    def put(self, namespace: str, found: FetchedSecret) -> None:
        """Store a Secret in `namespace`."""
        self.secrets[SecretRef(namespace, found.name)] = found

    async def fetch(self, refs: Iterable[SecretRef]) -> dict[SecretRef, FetchedSecret | None]:
        """Each Secret, or None."""
        refs = list(refs)
        self.reads += refs
        if self.error is not None:
            raise self.error
        return {ref: self.secrets.get(ref) for ref in refs}

    async def credential(self, ref: SecretRef, keys: Collection[str]) -> FetchedSecret | None:
        """The Secret with only `keys` of its data, read as `fetch` reads (kube/secrets.py keeps it per
        version; its own tests hold that)."""
        found = (await self.fetch([ref]))[ref]
        if found is None:
            return None
        return dataclasses.replace(found, data={k: v for k, v in found.data.items() if k in keys})

    def versions(self, refs: Iterable[SecretRef]) -> dict[SecretRef, str] | None:
        """The stored Secrets' versions when `watched` and all exist; else None."""
        refs = list(refs)
        if not self.watched or any(ref not in self.secrets for ref in refs):
            return None
        return {ref: self.secrets[ref].resource_version for ref in refs}


@dataclass
class Call:
    """One ARM call as the fake saw it."""

    method: str
    resource_id: str
    api_version: str
    body: dict[str, Any] | None = None
    principal: str = "operator"


@dataclass
class FakeArm:
    """ARM as a dict of connections. `failures[method]` holds exceptions raised by the next calls of that
    method, in order; `latency[method]` virtual seconds each call of it takes; `answers["PUT"]` replaces the
    PUT's answer (to play a misbehaving service)."""

    connections: dict[str, dict[str, Any]] = field(default_factory=dict)
    failures: dict[str, list[Exception]] = field(default_factory=dict)
    latency: dict[str, float] = field(default_factory=dict)
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    listed_credentials: dict[str, Any] | None = None
    identities: list[Identity] = field(default_factory=list)
    refuse: Exception | None = None

    def arm(self, identity: Identity) -> FakeArmAs:
        """The Principals port: this ARM as `identity` (recorded; `refuse` is raised instead, as when a
        credential cannot be built)."""
        self.identities.append(identity)
        if self.refuse is not None:
            raise self.refuse
        return FakeArmAs(self, identity.principal)

    def principals(self) -> list[str]:
        """The principal of each call, in order."""
        return [c.principal for c in self.calls]

    async def _enter(
        self,
        method: str,
        resource_id: str,
        api_version: str,
        body: Any = None,
        principal: str = "operator",
    ) -> None:
        self.calls.append(Call(method, resource_id, api_version, copy.deepcopy(body), principal))
        if self.latency.get(method):
            await asyncio.sleep(self.latency[method])
        pending = self.failures.get(method)
        if pending:
            raise pending.pop(0)

    def methods(self) -> list[str]:
        """The methods called, in order."""
        return [c.method for c in self.calls]

    async def put(
        self,
        resource_id: str,
        api_version: str,
        body: dict[str, Any],
        *,
        correlation_id: str,
        principal: str = "operator",
    ) -> dict[str, Any]:
        """Create or replace; answers without credentials, with the server's group."""
        await self._enter("PUT", resource_id, api_version, body, principal)
        props = {k: v for k, v in body["properties"].items() if k != "credentials"}
        stored = {
            "id": resource_id,
            "name": resource_id.rsplit("/", 1)[-1],
            "properties": {**props, "group": "AzureAI"},
        }
        self.connections[resource_id.lower()] = stored
        return copy.deepcopy(self.answers.get("PUT", stored))

    async def get(
        self, resource_id: str, api_version: str, *, correlation_id: str, principal: str = "operator"
    ) -> dict[str, Any] | None:
        """The stored connection, or None."""
        await self._enter("GET", resource_id, api_version, principal=principal)
        found = self.connections.get(resource_id.lower())
        return copy.deepcopy(found) if found is not None else None

    async def list_secrets(
        self, resource_id: str, api_version: str, *, correlation_id: str, principal: str = "operator"
    ) -> dict[str, Any]:
        """The connection with the credentials set in `listed_credentials`."""
        await self._enter("POST", resource_id, api_version, principal=principal)
        return {"properties": {"credentials": copy.deepcopy(self.listed_credentials)}}

    async def delete(
        self, resource_id: str, api_version: str, *, correlation_id: str, principal: str = "operator"
    ) -> int:
        """Delete: 200 when it existed, else 204."""
        await self._enter("DELETE", resource_id, api_version, principal=principal)
        return 200 if self.connections.pop(resource_id.lower(), None) is not None else 204


@dataclass
class FakeArmAs:
    """The fake ARM as one principal: each call is recorded with it."""

    fake: FakeArm
    principal: str

    async def put(
        self, resource_id: str, api_version: str, body: dict[str, Any], *, correlation_id: str
    ) -> dict[str, Any]:
        """PUT as this principal."""
        return await self.fake.put(
            resource_id, api_version, body, correlation_id=correlation_id, principal=self.principal
        )

    async def get(self, resource_id: str, api_version: str, *, correlation_id: str) -> dict[str, Any] | None:
        """GET as this principal."""
        return await self.fake.get(
            resource_id, api_version, correlation_id=correlation_id, principal=self.principal
        )

    async def list_secrets(
        self, resource_id: str, api_version: str, *, correlation_id: str
    ) -> dict[str, Any]:
        """listsecrets as this principal."""
        return await self.fake.list_secrets(
            resource_id, api_version, correlation_id=correlation_id, principal=self.principal
        )

    async def delete(self, resource_id: str, api_version: str, *, correlation_id: str) -> int:
        """DELETE as this principal."""
        return await self.fake.delete(
            resource_id, api_version, correlation_id=correlation_id, principal=self.principal
        )


@dataclass
class FakeStatusWriter:
    """Records interim status patches; `error` is raised instead."""

    patches: list[tuple[ObjectRef, dict[str, Any]]] = field(default_factory=list)
    error: Exception | None = None

    async def patch_status(self, ref: ObjectRef, patch: Mapping[str, Any]) -> None:
        """Record (or fail)."""
        if self.error is not None:
            raise self.error
        self.patches.append((ref, dict(patch)))


@dataclass
class Shell:
    """A real Reconciler over the fakes, at a fixed wall-clock time and with jitter 0."""

    arm: FakeArm = field(default_factory=FakeArm)
    secrets: FakeSecrets = field(default_factory=FakeSecrets)
    writer: FakeStatusWriter = field(default_factory=FakeStatusWriter)
    now: dt.datetime = NOW
    workers: int = 8
    config: ReconcileConfig = field(
        default_factory=lambda: ReconcileConfig(default_api_version=API_VERSION, drift_interval=600)
    )
    reconciler: Reconciler = field(init=False)

    def __post_init__(self) -> None:
        self.secrets.put("ns", secret("openai"))
        self.reconciler = Reconciler(
            principals=self.arm,
            secrets=self.secrets,
            status_writer=self.writer,
            config=self.config,
            workers=self.workers,
            clock=lambda: self.now,
            jitter=lambda: 0.0,
        )
