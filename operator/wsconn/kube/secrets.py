"""Reading the Secrets a resource references, from its own namespace only.

The namespace is always the resource's: there is no namespace field in a reference, by design (docs/design.md §5),
so a manifest can never point at another namespace's Secret. Values are decoded into the returned objects and
nowhere else; nothing here logs data, and the operator never writes to a Secret.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Iterable

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


class SecretReader:
    """Fetches Secrets by reference (namespace and name)."""

    def __init__(self, kube: KubeClient) -> None:
        self._kube = kube

    async def fetch(self, refs: Iterable[SecretRef]) -> dict[SecretRef, FetchedSecret | None]:
        """Each Secret, or None where it does not exist."""
        unique = sorted(set(refs))
        found = await asyncio.gather(*(self._read(ref) for ref in unique))
        return dict(zip(unique, found, strict=True))

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
