"""One owner per Azure connection (docs/design.md §2, "Ownership").

A connection is named by its workspace and connection name, compared case-insensitively as ARM compares
them. Of the resources in the cluster that name it (the claimants), the owner is the one that has it applied
(`status.appliedFingerprint`), else the oldest (creationTimestamp, then namespace/name to break a tie); if
several have it applied (written before this rule existed), the oldest of those. Every other claimant is
Stalled with `ConnectionConflict`: it never writes the connection and its deletion never deletes it.

The claimants come from what the cluster holds (the operator's index over every watched resource), not from
the order events arrive in, so the decision is the same after a restart. A claimant being deleted stays the
owner until it is gone: its deletion may still delete the connection, and the next in line must not write
before that. Pure: the shell hands in the claimants.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from wsconn.api.status import parse_time

_EPOCH = dt.datetime.min.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class Claimant:
    """A resource that names a connection, as the index holds it."""

    namespace: str
    name: str
    created: str  # metadata.creationTimestamp (RFC 3339)
    applied: bool  # its status says the connection is applied

    @property
    def ref(self) -> str:
        """`namespace/name`, as messages name it."""
        return f"{self.namespace}/{self.name}"


def connection_key(spec: Mapping[str, Any], metadata_name: str) -> str | None:
    """The connection a raw spec names, lower-cased (`subscription/resourceGroup/workspace/connection`), read
    leniently: None when the spec does not name one (the index must not fail on a bad spec)."""
    workspace = spec.get("workspace")
    if not isinstance(workspace, Mapping):
        return None
    parts = [workspace.get(k) for k in ("subscriptionId", "resourceGroup", "name")]
    name = spec.get("connectionName") or metadata_name
    parts.append(name)
    if not all(isinstance(p, str) and p for p in parts):
        return None
    return "/".join(str(p).lower() for p in parts)


def owner(claimants: Iterable[Claimant]) -> Claimant | None:
    """The owner among `claimants` (None when there are none)."""
    return min(claimants, key=_rank, default=None)


def rival_owner(namespace: str, name: str, claimants: Iterable[Claimant]) -> Claimant | None:
    """The owner when it is another resource than `namespace/name` (None: this one owns the connection, or the
    index does not know it yet)."""
    found = owner(claimants)
    if found is None or (found.namespace, found.name) == (namespace, name):
        return None
    return found


def _rank(claimant: Claimant) -> tuple[bool, dt.datetime, str, str]:
    created = parse_time(claimant.created) or _EPOCH
    return (not claimant.applied, created, claimant.namespace, claimant.name)
