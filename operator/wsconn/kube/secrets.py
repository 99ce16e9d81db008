"""Reading the Secrets a resource references, from its own namespace only.

The namespace is always the resource's: there is no namespace field in a reference, by design (docs/design.md §5),
so a manifest can never point at another namespace's Secret. Values are decoded into the returned objects and
nowhere else; nothing here logs data, and the operator never writes to a Secret.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from wsconn.api.references import SecretRef
from wsconn.core import classify
from wsconn.core.credentials import FetchedSecret
from wsconn.kube.client import KubeClient, KubeError


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
    """Which Secrets the operator's Secret watch has seen: Kopf's index of them (handlers.py), handed over by the
    first handler call. Kopf runs no handler before every index is filled from the initial listing, so from
    then on a Secret not in it does not exist, or did not a moment ago (its creation then triggers the
    resources that use it, as any Secret change does)."""

    def __init__(self) -> None:
        self._index: Mapping[SecretRef, Any] | None = None

    def attach(self, index: Mapping[SecretRef, Any] | None) -> None:
        """Use Kopf's index (None: not known yet)."""
        if index is not None:
            self._index = index

    def seen(self, ref: SecretRef) -> bool | None:
        """Whether the watch has seen `ref` (None: no index yet, so nobody knows)."""
        return None if self._index is None else ref in self._index


class SecretReader:
    """Fetches Secrets by reference (namespace and name).

    With `seen`, a Secret the watch has not seen is absent without a request: every pass asks for its
    namespace's `wsconn-azure-credentials`, which most namespaces do not have (one read per resource and pass
    saved, issue 16). Without it (the watch narrowed by --secret-selector, where an unseen Secret may exist
    outside the selector and must be reported as such), every Secret is read.
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
