"""Reading the Secrets a resource references, from its own namespace only.

The namespace is always the resource's: there is no namespace field in a reference, by design (docs/design.md §5),
so a manifest can never point at another namespace's Secret. Values are decoded into the returned objects and
nowhere else; nothing here logs data, and the operator never writes to a Secret.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
from collections.abc import Callable, Iterable

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
    """Which Secrets exist, per namespace: a list of their names (metadata only), taken the first time a pass
    asks about the namespace, kept current by the Secret watch's events (`changed`). Until the list has
    arrived, nobody knows (None), and the Secret is read.

    Events that arrive while the list is on its way are applied on top of it, so a Secret created or deleted
    meanwhile is not lost. A Secret created a moment before a pass asks may be missed; its creation event then
    triggers the resources that use it, as any Secret change does. Not a Kopf index: Kopf holds back every
    handler until all its indexes are filled, and indexing every Secret of the watched namespaces delayed the
    first passes after a start by 13 s at 1,750 Secrets (issue 16).
    """

    def __init__(self, kube: KubeClient) -> None:
        self._kube = kube
        self._names: dict[str, set[str]] = {}
        self._pending: dict[str, list[tuple[str, bool]]] = {}  # namespace -> (name, deleted), while listing
        self._listing: dict[str, asyncio.Task[None]] = {}

    def seen(self, ref: SecretRef) -> bool | None:
        """Whether `ref` exists (None: its namespace is not listed yet; the list is then asked for)."""
        names = self._names.get(ref.namespace)
        if names is not None:
            return ref.name in names
        if ref.namespace not in self._listing:
            self._pending[ref.namespace] = []
            self._listing[ref.namespace] = asyncio.create_task(self._list(ref.namespace))
        return None

    def changed(self, ref: SecretRef, *, deleted: bool) -> None:
        """A watch event of the Secret `ref`."""
        pending = self._pending.get(ref.namespace)
        if pending is not None:
            pending.append((ref.name, deleted))
        names = self._names.get(ref.namespace)
        if names is not None:
            (names.discard if deleted else names.add)(ref.name)

    async def close(self) -> None:
        """Stop lists on their way."""
        for task in self._listing.values():
            task.cancel()
        await asyncio.gather(*self._listing.values(), return_exceptions=True)

    async def _list(self, namespace: str) -> None:
        try:
            names = await self._list_names(namespace)
        except KubeError as exc:
            log.warning(
                "could not list the Secrets of namespace %s (they are read one by one): %s", namespace, exc
            )
            self._pending.pop(namespace, None)
            return  # the next pass that asks lists again
        finally:
            self._listing.pop(namespace, None)
        for name, deleted in self._pending.pop(namespace, []):
            (names.discard if deleted else names.add)(name)
        self._names[namespace] = names

    async def _list_names(self, namespace: str) -> set[str]:
        names: set[str] = set()
        token = ""
        while True:
            query = f"?limit={LIST_CHUNK}" + (f"&continue={token}" if token else "")
            page = await self._kube.request(
                "GET", f"/api/v1/namespaces/{namespace}/secrets{query}", accept=METADATA_ONLY
            )
            if page is None:
                return names
            names.update(str((item.get("metadata") or {}).get("name")) for item in page.get("items") or [])
            token = str((page.get("metadata") or {}).get("continue") or "")
            if not token:
                return names


class SecretReader:
    """Fetches Secrets by reference (namespace and name).

    With `seen` (SeenSecrets.seen), a Secret known not to exist is absent without a request: every pass asks
    for its namespace's `wsconn-azure-credentials`, which most namespaces do not have (one read per resource
    and pass saved, issue 16). Without it (the watch narrowed by --secret-selector, where a Secret outside the
    selector must be reported as such), every Secret is read.
    """

    def __init__(self, kube: KubeClient, *, seen: Callable[[SecretRef], bool | None] | None = None) -> None:
        self._kube = kube
        self._seen = seen

    async def fetch(self, refs: Iterable[SecretRef]) -> dict[SecretRef, FetchedSecret | None]:
        """Each Secret, or None where it does not exist."""
        unique = sorted(set(refs))
        found = await asyncio.gather(*(self._read_unless_unseen(ref) for ref in unique))
        return dict(zip(unique, found, strict=True))

    async def _read_unless_unseen(self, ref: SecretRef) -> FetchedSecret | None:
        if self._seen is not None and self._seen(ref) is False:
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
