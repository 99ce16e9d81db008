"""The emulator's resources: subscriptions (each in a tenant), resource groups, workspaces (each in a
location) and their connections.

Names compare case-insensitively and are echoed with the casing of the request that created them, as the ARM
RPC requires. A connection keeps what its last write sent (after the service's own additions); how it is
answered per api-version is `answers.py`'s business. Credentials live beside the other properties and leave
this module only through `answers.resource(..., with_secrets=True)` (listsecrets) or `credential_digest`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

PROVIDER = "Microsoft.MachineLearningServices"
CONNECTION_TYPE = f"{PROVIDER}/workspaces/connections"
DEFAULT_LOCATION = "westeurope"


def now_iso(*, offset: bool = False) -> str:
    """The current UTC time as the service writes it: 100-ns precision with trailing zeros dropped
    (`2026-03-27T04:21:03.301316Z`), ending `Z`, or `+00:00` with `offset` (the RP's error bodies)."""
    seconds, nanos = divmod(time.time_ns(), 1_000_000_000)
    base = dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    fraction = f"{nanos // 100:07d}".rstrip("0")
    return base + (f".{fraction}" if fraction else "") + ("+00:00" if offset else "Z")


def _key(*parts: str) -> tuple[str, ...]:
    return tuple(p.lower() for p in parts)


@dataclass(frozen=True)
class Stamp:
    """Who did something and when, as systemData reports it."""

    at: str
    by: str
    by_type: str


@dataclass(frozen=True)
class Workspace:
    """A workspace: its ARM id (with the casing it was created with) and its location."""

    id: str
    location: str


@dataclass
class Connection:
    """One stored workspace connection."""

    id: str
    name: str
    workspace: Workspace
    properties: dict[str, Any]
    credentials: dict[str, Any] | None
    created: Stamp
    modified: Stamp
    writes: int = 1

    def credential_digest(self) -> str:
        """SHA-256 of the canonical credentials JSON ('' when none), for comparisons without values."""
        if self.credentials is None:
            return ""
        canonical = json.dumps(self.credentials, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass
class Store:
    """Everything the emulator knows; not thread-safe (one event loop owns it)."""

    subscriptions: dict[str, tuple[str, str]] = field(default_factory=dict)
    """lower-cased id -> (id as created, tenant id)."""
    resource_groups: dict[tuple[str, ...], str] = field(default_factory=dict)
    workspaces: dict[tuple[str, ...], Workspace] = field(default_factory=dict)
    connections: dict[tuple[str, ...], Connection] = field(default_factory=dict)

    def add_workspace(
        self, subscription: str, resource_group: str, workspace: str, *, tenant: str, location: str
    ) -> str:
        """Make a workspace (and its subscription and resource group) exist; returns its ARM id."""
        self.subscriptions.setdefault(subscription.lower(), (subscription, tenant))
        self.resource_groups.setdefault(_key(subscription, resource_group), resource_group)
        ws_id = (
            f"/subscriptions/{subscription}/resourceGroups/{resource_group}"
            f"/providers/{PROVIDER}/workspaces/{workspace}"
        )
        return self.workspaces.setdefault(
            _key(subscription, resource_group, workspace), Workspace(ws_id, location)
        ).id

    def remove_workspace(self, subscription: str, resource_group: str, workspace: str) -> int:
        """Delete a workspace and its connections; returns how many connections went with it."""
        ws = _key(subscription, resource_group, workspace)
        self.workspaces.pop(ws, None)
        gone = [k for k in self.connections if k[:3] == ws]
        for k in gone:
            del self.connections[k]
        return len(gone)

    def remove_resource_group(self, subscription: str, resource_group: str) -> None:
        """Delete a resource group with everything in it."""
        rg = _key(subscription, resource_group)
        self.resource_groups.pop(rg, None)
        for ws in [k for k in self.workspaces if k[:2] == rg]:
            self.remove_workspace(*ws)

    def tenant_of(self, subscription: str) -> str | None:
        """The tenant a subscription belongs to (None when it does not exist)."""
        found = self.subscriptions.get(subscription.lower())
        return found[1] if found else None

    def resource_group_known(self, subscription: str, resource_group: str) -> bool:
        """Whether the resource group exists."""
        return _key(subscription, resource_group) in self.resource_groups

    def workspace(self, subscription: str, resource_group: str, workspace: str) -> Workspace | None:
        """The workspace, if it exists."""
        return self.workspaces.get(_key(subscription, resource_group, workspace))

    def get(self, subscription: str, resource_group: str, workspace: str, name: str) -> Connection | None:
        """The connection, if it exists."""
        return self.connections.get(_key(subscription, resource_group, workspace, name))

    def put(
        self,
        where: tuple[str, str, str, str],
        *,
        properties: dict[str, Any],
        credentials: dict[str, Any] | None,
        stamp: Stamp,
        created: Stamp | None = None,
    ) -> Connection:
        """Create or replace, modified by `stamp`. A PUT's replace is a new resource to the service (the
        recordings: `createdAt` moves to the replace's time), so `created` defaults to `stamp`; a PATCH passes
        the existing one. The stored casing of an existing name is kept (ARM RPC)."""
        key = _key(*where)
        workspace = self.workspaces[key[:3]]
        existing = self.connections.get(key)
        name = existing.name if existing else where[3]
        connection = Connection(
            id=f"{workspace.id}/connections/{name}",
            name=name,
            workspace=workspace,
            properties=properties,
            credentials=credentials,
            created=created or stamp,
            modified=stamp,
            writes=existing.writes + 1 if existing else 1,
        )
        self.connections[key] = connection
        return connection

    def delete(self, subscription: str, resource_group: str, workspace: str, name: str) -> bool:
        """Delete; True when it existed."""
        return self.connections.pop(_key(subscription, resource_group, workspace, name), None) is not None

    def in_workspace(self, subscription: str, resource_group: str, workspace: str) -> list[Connection]:
        """Connections of a workspace in a stable order (by lower-cased name)."""
        ws = _key(subscription, resource_group, workspace)
        return [c for k, c in sorted(self.connections.items()) if k[:3] == ws]

    def find(self, resource_id: str) -> tuple[tuple[str, ...], Connection] | None:
        """Look a connection up by its ARM id (any casing)."""
        parts = resource_id.strip("/").split("/")
        if len(parts) != 10:
            return None
        key = _key(parts[1], parts[3], parts[7], parts[9])
        found = self.connections.get(key)
        return (key, found) if found else None
