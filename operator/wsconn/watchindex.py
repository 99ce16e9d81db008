"""The operator's indexes of every watched WorkspaceConnection, fed from the watch stream as it is read.

Two indexes: which resources use each Secret (with the Secret version each applied and the trigger annotation on
it), and which resources claim each Azure connection (ownership, core/ownership.py). Until issue 16 they were
`kopf.index`es, and Kopf then held back every object's processing after a start until every listed object is
indexed, by its own worker: a restart kept every resource in Kopf's processing at once (about 70 KiB each:
744 MiB at N = 10,000), and bounding that processing deadlocks the gate (nolar/kopf#1243: the first objects
wait for the rest, which wait for a slot). Here the index is kept by the watch stream's reader
(serving.py hands every event and the end of every listing over before Kopf queues them), so it is complete
once the listings are, whatever Kopf's workers are doing; `ready` says so, and admission.py holds Kopf's
processing of a resource until then.

A listing that starts again (a watch that expired, the CRD served again) is followed by a sweep: what that
listing did not name is gone. Kopf's own indexes kept such objects for ever.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any

from wsconn.api.references import ObjectRef, SecretRef
from wsconn.api.status import Status, secret_versions_of
from wsconn.core import ownership
from wsconn.core.identity import credential_secret, requested_secret
from wsconn.core.ownership import Claimant

SecretUser = tuple[str, str | None, str | None]  # resource name, Secret version it applied, its trigger
TRIGGER_ANNOTATION = "azureml.dev/secret-trigger"


def referenced_secrets(spec: Mapping[str, Any]) -> set[str]:
    """Secret names a raw spec references, read leniently (the index must not fail on a bad spec): its
    credentials' and its Azure identity's (the Secret spec.azureCredentials names, else the namespace's
    wsconn-azure-credentials, whose creation, change or deletion changes the identity too)."""
    names: set[str] = {credential_secret(requested_secret(spec))}
    creds = spec.get("credentials")
    if not isinstance(creds, Mapping):
        return names
    for field, source in creds.items():
        if not isinstance(source, Mapping):
            continue
        ref = source.get("secretRef" if field == "keys" else "secretKeyRef")
        if isinstance(ref, Mapping) and isinstance(ref.get("name"), str):
            names.add(ref["name"])
    return names


def secret_users(
    ref: ObjectRef, spec: Mapping[str, Any], status: Mapping[str, Any], trigger: str | None
) -> dict[SecretRef, SecretUser]:
    """The Secret index's entries for one resource: each Secret it references -> (resource name, the Secret
    version last applied, the trigger annotation now on the resource)."""
    applied = secret_versions_of(status)
    return {
        secret: (ref.name, applied.get(secret.name), trigger)
        for secret in ref.secrets(referenced_secrets(spec))
    }


def connection_claims(
    ref: ObjectRef, spec: Mapping[str, Any], status: Mapping[str, Any], created: str
) -> dict[str, Claimant]:
    """The claims index's entry for one resource: the connection it names (lower-cased key) -> the resource
    as a claimant of it (none when its spec names no connection)."""
    key = ownership.connection_key(spec, ref.name)
    if key is None:
        return {}
    applied = Status.from_raw(status).applied_fingerprint is not None
    return {key: Claimant(ref.namespace, ref.name, created, applied)}


class Multi:
    """key -> the values of every resource (by uid) with an entry under it."""

    def __init__(self) -> None:
        self._data: dict[Any, dict[str, Any]] = {}

    def get(self, key: Any, default: tuple[Any, ...] = ()) -> tuple[Any, ...]:
        """The values under `key` (`default` when none)."""
        found = self._data.get(key)
        return tuple(found.values()) if found else default

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __len__(self) -> int:
        return len(self._data)

    def put(self, uid: str, entries: Mapping[Any, Any]) -> None:
        for key, value in entries.items():
            self._data.setdefault(key, {})[uid] = value

    def drop(self, uid: str, keys: Iterable[Any]) -> None:
        for key in keys:
            found = self._data.get(key)
            if found is not None:
                found.pop(uid, None)
                if not found:
                    del self._data[key]


class WatchIndex:
    """Both indexes over every watched resource, and whether every watched namespace has been listed.

    `namespaces` are those the operator watches (empty: the whole cluster, one stream). A name with a glob
    character is a pattern Kopf expands; then `ready` waits only for the streams that have started.
    """

    def __init__(self, namespaces: Iterable[str] = ()) -> None:
        names = set(namespaces)
        self._patterns = any(set(n) & set("*?[") for n in names)
        self._expected: set[str | None] = set()
        if not self._patterns:
            self._expected.update(names or {None})
        self._listing: dict[str | None, set[str]] = {}  # streams listing now -> the uids listed so far
        self._listed: set[str | None] = set()
        self._entries: dict[str, tuple[str, dict[str, Claimant], dict[SecretRef, SecretUser]]] = {}
        self.claims = Multi()
        self.secret_users = Multi()
        self.ready = asyncio.Event()

    def __len__(self) -> int:
        return len(self._entries)

    def listing(self, namespace: str | None) -> None:
        """A stream's listing starts (at each start of Kopf's watch of that namespace, or of the cluster)."""
        self._listing[namespace] = set()

    def listed(self, namespace: str | None) -> None:
        """A stream's listing ended: what it did not name is gone (a stream that never listed sweeps nothing)."""
        seen = self._listing.pop(namespace, None)
        if seen is not None:
            gone = [
                uid
                for uid, (ns, _, _) in self._entries.items()
                if (namespace is None or ns == namespace) and uid not in seen
            ]
            for uid in gone:
                self._drop(uid)
        self._listed.add(namespace)
        if self._patterns:
            self._expected |= self._listed
        if self._expected <= self._listed and not self._listing:
            self.ready.set()

    def observe(self, namespace: str | None, raw_event: Mapping[str, Any]) -> None:
        """One event of the stream (a listed object has type None)."""
        body = raw_event.get("object")
        if not isinstance(body, Mapping):
            return
        meta = body.get("metadata") or {}
        uid = str(meta.get("uid") or "")
        if not uid:
            return
        if raw_event.get("type") == "DELETED":
            self._drop(uid)
            return
        if raw_event.get("type") is None and namespace in self._listing:
            self._listing[namespace].add(uid)
        self._drop(uid)
        ref = ObjectRef(str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        spec = body.get("spec") or {}
        status = body.get("status") or {}
        trigger = (meta.get("annotations") or {}).get(TRIGGER_ANNOTATION)
        claims = connection_claims(ref, spec, status, str(meta.get("creationTimestamp") or ""))
        users = secret_users(ref, spec, status, trigger)
        self._entries[uid] = (ref.namespace, claims, users)
        self.claims.put(uid, claims)
        self.secret_users.put(uid, users)

    def _drop(self, uid: str) -> None:
        entry = self._entries.pop(uid, None)
        if entry is not None:
            _, claims, users = entry
            self.claims.drop(uid, claims)
            self.secret_users.drop(uid, users)
