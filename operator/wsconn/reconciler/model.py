"""What travels in and out of the reconciler: the object as a pass sees it, the ports it acts through, and
the results a handler turns into a status patch, Events and Kopf's retry.

The ports are Protocols, so that the shell's unit tests drive the real passes with in-memory fakes; the
operator plugs in arm/client.py, kube/secrets.py and kube/status.py.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from wsconn.api.references import ObjectRef, SecretRef
from wsconn.api.status import Status
from wsconn.core.conditions import Outcome
from wsconn.core.credentials import FetchedSecret
from wsconn.core.identity import Allowlist, Identity, resolve_identity
from wsconn.core.ownership import Claimant
from wsconn.core.selectors import Selector


class Arm(Protocol):
    """The ARM operations a pass uses (arm/client.py)."""

    async def put(
        self, resource_id: str, api_version: str, body: dict[str, Any], *, correlation_id: str
    ) -> dict[str, Any]: ...

    async def get(
        self, resource_id: str, api_version: str, *, correlation_id: str
    ) -> dict[str, Any] | None: ...

    async def list_secrets(
        self, resource_id: str, api_version: str, *, correlation_id: str
    ) -> dict[str, Any]: ...

    async def delete(self, resource_id: str, api_version: str, *, correlation_id: str) -> int: ...


class Principals(Protocol):
    """ARM as one identity (arm/principals.py): the operator's own, or one built from a credential Secret and
    cached per Secret version."""

    def arm(self, identity: Identity) -> Arm: ...


class Secrets(Protocol):
    """Reads Secrets (kube/secrets.py)."""

    async def fetch(self, refs: Iterable[SecretRef]) -> Mapping[SecretRef, FetchedSecret | None]: ...

    async def credential(self, ref: SecretRef, keys: Collection[str]) -> FetchedSecret | None:
        """A credential Secret with only `keys` of its data (None: it does not exist), read once per version
        the Secret watch sees."""
        ...

    def versions(self, refs: Iterable[SecretRef]) -> Mapping[SecretRef, str] | None:
        """The resourceVersion of each of `refs` as the Secret watch last saw it, without reading; None unless
        all are known to exist."""
        ...


class StatusWriter(Protocol):
    """Writes a status patch while a pass is still running (kube/status.py)."""

    async def patch_status(self, ref: ObjectRef, patch: Mapping[str, Any]) -> None: ...


@dataclass(frozen=True)
class ReconcileConfig:
    """The reconcile-relevant settings."""

    default_api_version: str
    drift_interval: float
    drift_jitter: float = 0.1
    # A clean drift check's time is written to status at most this often; between writes it lives in memory.
    checked_time_interval: float = 3600.0
    deep_drift_check: bool = False
    pass_timeout: float = 120.0
    # A write kept waiting this long tells the truth in status (Reconciling, reason Applying) while it waits.
    applying_after: float = 2.0
    # Seconds after a generation is first seen during which a missing Secret or key is Reconciling, not
    # Stalled (core/grace.py).
    missing_secret_grace: float = 300.0
    # Where the operator's own Azure identity may be used (--operator-identity-namespaces; default all).
    operator_identity: Allowlist = field(default_factory=lambda: Allowlist(None))
    # The operator's own (tenant, client), as far as its environment says, for status.azureIdentity.
    operator_principal: tuple[str, str] = ("", "")
    # Which Secrets may be used at all (--secret-selector); None: any Secret of the resource's namespace.
    secret_selector: Selector | None = None

    def identity(self, namespace: str, requested: str | None, fetched: FetchedSecret | None) -> Identity:
        """The identity a pass uses, by these settings (core.identity.resolve_identity; raises IdentityError)."""
        return resolve_identity(
            namespace=namespace,
            requested=requested,
            fetched=fetched,
            allowlist=self.operator_identity,
            operator=self.operator_principal,
            selector=self.secret_selector,
        )


@dataclass(frozen=True)
class ObjectView:
    """What a pass needs of the WorkspaceConnection object."""

    namespace: str
    name: str
    uid: str
    generation: int
    spec: Mapping[str, Any]
    status: Mapping[str, Any]
    # The resources in the cluster that name the same connection, this one included (the operator's index;
    # empty when nobody else does): who owns the connection is decided from them (core/ownership.py).
    claimants: tuple[Claimant, ...] = ()
    annotations: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_body(cls, body: Mapping[str, Any], claimants: Iterable[Claimant] = ()) -> ObjectView:
        """Build from a Kopf body (or any dict shaped like the object)."""
        meta = body.get("metadata", {})
        return cls(
            namespace=str(meta.get("namespace", "")),
            name=str(meta.get("name", "")),
            uid=str(meta.get("uid", "")),
            generation=int(meta.get("generation") or 0),
            spec=dict(body.get("spec") or {}),
            status=dict(body.get("status") or {}),
            claimants=tuple(claimants),
            annotations={str(k): str(v) for k, v in (meta.get("annotations") or {}).items()},
        )

    @property
    def ref(self) -> ObjectRef:
        """Namespace and name."""
        return ObjectRef(self.namespace, self.name)

    @property
    def scope(self) -> tuple[str, str]:
        """The key the worker slots are shared by (`scope_of` its spec)."""
        return scope_of(self.spec)


def scope_of(spec: Mapping[str, Any]) -> tuple[str, str]:
    """(subscription, resource group/workspace) from a raw spec, read leniently: the key the worker slots are
    shared by ('' for what the spec lacks)."""
    workspace = spec.get("workspace")
    ws = workspace if isinstance(workspace, Mapping) else {}
    sub, rg, name = (str(ws.get(k) or "") for k in ("subscriptionId", "resourceGroup", "name"))
    return sub.lower(), f"{rg}/{name}".lower()


@dataclass(frozen=True)
class Event:
    """A Kubernetes Event to post on the object."""

    type: Literal["Normal", "Warning"]
    reason: str
    message: str


@dataclass(frozen=True)
class Result:
    """The end of an apply pass: the status, the merge patch that stores it (empty when nothing changed), and
    when to come back (None: on the next change)."""

    status: Status
    patch: dict[str, Any]
    outcome: Outcome
    retry_after: float | None = None
    events: tuple[Event, ...] = ()


@dataclass(frozen=True)
class DeleteResult:
    """The end of a deletion pass: done (the finalizer may go) or not, with the status patch to show
    meanwhile and when to try again."""

    done: bool
    message: str
    patch: dict[str, Any] | None = None
    retry_after: float | None = None


class ReconcilerClosed(Exception):
    """The operator is shutting down: the pass was not run (its object is handled after the restart)."""
