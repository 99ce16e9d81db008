"""Reading the Secrets a resource references, from its own namespace only.

The namespace is always the resource's: there is no namespace field in a reference, by design (docs/design.md §5),
so a manifest can never point at another namespace's Secret. Values are decoded into the returned objects and
nowhere else; nothing here logs data, and the operator never writes to a Secret.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import dataclasses
import logging
from collections.abc import Collection, Iterable
from typing import Protocol

from wsconn.api.references import SecretRef
from wsconn.core import classify
from wsconn.core.credentials import FetchedSecret
from wsconn.kube.client import KubeClient, KubeError

log = logging.getLogger("wsconn.secrets")
LIST_CHUNK = 500


def metadata_only(kind: str) -> str:
    """The Accept header that asks for `kind` (PartialObjectMetadata or PartialObjectMetadataList): metadata
    without data. Plain JSON is the fallback, as client-go's metadata client asks, so a server or proxy that
    does not know `as=` answers whole objects instead of 406."""
    return f"application/json;as={kind};g=meta.k8s.io;v=v1,application/json"


# The list as metadata only: names are all it needs, and Secret data never travels for it.
METADATA_ONLY = metadata_only("PartialObjectMetadataList")


class SecretReadError(Exception):
    """A Secret could not be read for a reason other than its absence; `status` is the HTTP status (0: no
    answer)."""

    def __init__(self, ref: SecretRef, status: int, reason: str) -> None:
        self.status = status
        super().__init__(f"reading Secret {ref.name!r} failed: {status} {reason}")

    @property
    def fault(self) -> classify.Fault:
        """What happened, for the classifier."""
        return classify.KubeAnswered(self.status)


class SeenSecrets:
    """Which Secrets exist, per namespace, and at which resourceVersion: a list of their metadata, taken the
    first time a pass asks about the namespace, kept current by the Secret watch's events (`changed`). Until
    the list has arrived, nobody knows (None), and the Secret is read.

    Events that arrive while the list is on its way are applied on top of it, so a Secret created or deleted
    meanwhile is not lost. A Secret created a moment before a pass asks may be missed; its creation event then
    triggers the resources that use it, as any Secret change does. Not a Kopf index: Kopf holds back every
    handler until all its indexes are filled, and indexing every Secret of the watched namespaces delayed the
    first passes after a start by 13 s at 1,750 Secrets (issue 16).
    """

    def __init__(self, kube: KubeClient) -> None:
        self._kube = kube
        self._versions: dict[str, dict[str, str]] = {}  # namespace -> name -> resourceVersion
        # namespace -> (name, version or None when gone), for events that arrive while the list is on its way
        self._pending: dict[str, list[tuple[str, str | None]]] = {}
        self._listing: dict[str, asyncio.Task[None]] = {}

    def seen(self, ref: SecretRef) -> bool | None:
        """Whether `ref` exists (None: its namespace is not listed yet; the list is then asked for)."""
        versions = self._listed(ref.namespace)
        return None if versions is None else ref.name in versions

    def version(self, ref: SecretRef) -> str | None:
        """The resourceVersion the watch last saw of `ref`; None when it does not exist or its namespace is not
        listed yet (the list is then asked for)."""
        versions = self._listed(ref.namespace)
        return None if versions is None else versions.get(ref.name)

    def changed(self, ref: SecretRef, *, version: str | None) -> None:
        """A watch event of the Secret `ref`: now at `version`, or gone (None)."""
        pending = self._pending.get(ref.namespace)
        if pending is not None:
            pending.append((ref.name, version))
        versions = self._versions.get(ref.namespace)
        if versions is not None:
            _apply(versions, ref.name, version)

    async def close(self) -> None:
        """Stop lists on their way."""
        for task in self._listing.values():
            task.cancel()
        await asyncio.gather(*self._listing.values(), return_exceptions=True)

    def _listed(self, namespace: str) -> dict[str, str] | None:
        versions = self._versions.get(namespace)
        if versions is None and namespace not in self._listing:
            self._pending[namespace] = []
            self._listing[namespace] = asyncio.create_task(self._list(namespace))
        return versions

    async def _list(self, namespace: str) -> None:
        try:
            versions = await self._list_versions(namespace)
        except KubeError as exc:
            log.warning(
                "could not list the Secrets of namespace %s (they are read one by one): %s", namespace, exc
            )
            self._pending.pop(namespace, None)
            return  # the next pass that asks lists again
        finally:
            self._listing.pop(namespace, None)
        for name, version in self._pending.pop(namespace, []):
            _apply(versions, name, version)
        self._versions[namespace] = versions

    async def _list_versions(self, namespace: str) -> dict[str, str]:
        versions: dict[str, str] = {}
        token = ""
        while True:
            query = f"?limit={LIST_CHUNK}" + (f"&continue={token}" if token else "")
            page = await self._kube.request(
                "GET", f"/api/v1/namespaces/{namespace}/secrets{query}", accept=METADATA_ONLY
            )
            if page is None:
                return versions
            for item in page.get("items") or []:
                meta = item.get("metadata") or {}
                versions[str(meta.get("name"))] = str(meta.get("resourceVersion") or "")
            token = str((page.get("metadata") or {}).get("continue") or "")
            if not token:
                return versions


def _apply(versions: dict[str, str], name: str, version: str | None) -> None:
    if version is None:
        versions.pop(name, None)
    else:
        versions[name] = version


class SecretWatch(Protocol):
    """What the Secret watch knows (SeenSecrets)."""

    def seen(self, ref: SecretRef) -> bool | None: ...

    def version(self, ref: SecretRef) -> str | None: ...


class SecretReader:
    """Fetches Secrets by reference (namespace and name).

    With `watch` (SeenSecrets), a Secret known not to exist is absent without a request: every pass asks
    for its namespace's `wsconn-azure-credentials`, which most namespaces do not have (one read per resource
    and pass saved, issue 16); and `versions` answers from it, so that a pass whose Secrets are at the versions
    it applied need not read their values. Without it (the watch narrowed by --secret-selector, where a Secret
    outside the selector must be reported as such), every Secret is read.
    """

    def __init__(self, kube: KubeClient, *, watch: SecretWatch | None = None) -> None:
        self._kube = kube
        self._watch = watch
        # Credential Secrets as last read, with only the keys a credential is built from: arm/principals.py
        # keeps that credential (and so those values) as long as the Secret version anyway.
        self._credentials: dict[SecretRef, FetchedSecret] = {}

    async def fetch(self, refs: Iterable[SecretRef]) -> dict[SecretRef, FetchedSecret | None]:
        """Each Secret, or None where it does not exist."""
        unique = sorted(set(refs))
        found = await asyncio.gather(*(self._read_unless_unseen(ref) for ref in unique))
        return dict(zip(unique, found, strict=True))

    async def credential(self, ref: SecretRef, keys: Collection[str]) -> FetchedSecret | None:
        """A credential Secret with only `keys` of its data, or None where it does not exist. Read once per
        version: while the Secret watch sees the version last read, that copy answers without a request (a
        pass at rest used to read its namespace's credential Secret every time: 10,596 reads in a restart of
        10,000 resources, issue 16). Without the watch it is read every time, as `fetch` does."""
        kept = self._credentials.get(ref)
        if kept is not None and self._watch is not None and self._watch.version(ref) == kept.resource_version:
            return kept
        found = (await self.fetch([ref]))[ref]
        if found is None:
            self._credentials.pop(ref, None)
            return None
        kept = dataclasses.replace(found, data={k: v for k, v in found.data.items() if k in keys})
        if self._watch is not None:
            self._credentials[ref] = kept
        return kept

    def versions(self, refs: Iterable[SecretRef]) -> dict[SecretRef, str] | None:
        """The resourceVersion the Secret watch last saw of each of `refs`, without a request; None unless
        the watch knows every one of them to exist."""
        if self._watch is None:
            return None
        known: dict[SecretRef, str] = {}
        for ref in refs:
            version = self._watch.version(ref)
            if not version:
                return None
            known[ref] = version
        return known

    async def _read_unless_unseen(self, ref: SecretRef) -> FetchedSecret | None:
        if self._watch is not None and self._watch.seen(ref) is False:
            return None
        return await self._read(ref)

    async def _read(self, ref: SecretRef) -> FetchedSecret | None:
        path = f"/api/v1/namespaces/{ref.namespace}/secrets/{ref.name}"
        try:
            secret = await self._kube.request("GET", path)
        except KubeError as exc:
            raise SecretReadError(ref, exc.status, exc.reason) from None
        if secret is None:
            return None
        try:
            data = {key: base64.b64decode(value) for key, value in (secret.get("data") or {}).items()}
        except (binascii.Error, TypeError):
            raise SecretReadError(ref, 0, "undecodable data") from None
        meta = secret.get("metadata") or {}
        return FetchedSecret(
            name=ref.name,
            resource_version=str(meta.get("resourceVersion") or ""),
            data=data,
            uid=str(meta.get("uid") or ""),
            labels=dict(meta.get("labels") or {}),
        )
