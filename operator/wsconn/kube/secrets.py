"""Reading the Secrets a resource references, from its own namespace only.

The namespace is always the resource's: there is no namespace field in a reference, by design (docs/design.md §5),
so a manifest can never point at another namespace's Secret. Reads use the synchronous client in a worker
thread, off the event loop. Values are decoded into the returned objects and nowhere else; nothing here logs
data, and the operator never writes to a Secret.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterable

import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from wsconn.api.references import SecretRef
from wsconn.core import classify
from wsconn.core.credentials import FetchedSecret


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

    def __init__(self, api: client.ApiClient) -> None:
        self._core = client.CoreV1Api(api)

    async def fetch(self, refs: Iterable[SecretRef]) -> dict[SecretRef, FetchedSecret | None]:
        """Each Secret, or None where it does not exist."""
        unique = sorted(set(refs))
        found = await asyncio.gather(*(asyncio.to_thread(self._read, ref) for ref in unique))
        return dict(zip(unique, found, strict=True))

    def _read(self, ref: SecretRef) -> FetchedSecret | None:
        try:
            secret = self._core.read_namespaced_secret(ref.name, ref.namespace, _request_timeout=15)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise SecretReadError(ref, int(exc.status or 0), str(exc.reason or "")) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise SecretReadError(ref, 0, type(exc).__name__) from None
        data = {key: base64.b64decode(value) for key, value in (secret.data or {}).items()}
        meta = secret.metadata
        return FetchedSecret(
            name=ref.name,
            resource_version=str(meta.resource_version or "") if meta else "",
            data=data,
            uid=str(meta.uid or "") if meta else "",
            labels=dict(meta.labels or {}) if meta else {},
        )
