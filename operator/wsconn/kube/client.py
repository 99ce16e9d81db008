"""The operator's own small Kubernetes client, for what Kopf does not do for it: Secret reads, status and
annotation patches and Events outside a handler. httpx, async, over the endpoint and credentials Kopf logged in
with (handlers.py `login`: the ServiceAccount in a Pod, else the kubeconfig).

Not the `kubernetes` package: importing it and building its CoreV1Api cost about 36 MiB of resident memory
(issue 16, measured with the operator's other imports loaded), its calls block a worker thread each, and the
operator needs four requests of the whole API.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

REQUEST_TIMEOUT = 15.0
# Requests in flight to the API server at once; more wait their turn (as long as they must: a pass has its
# own deadline). Unbounded bursts (1,000 trigger patches at once) met the API server's 429s, and waiting in
# httpx's own pool queue costs CPU quadratic in its length (py-spy: all of a restart's CPU at N = 1,000).
# Each open TLS connection holds about 300 KiB (asyncio's read buffer and OpenSSL's); eight carry a request
# each in a few milliseconds, over a thousand a second.
MAX_CONNECTIONS = 8
MERGE_PATCH = "application/merge-patch+json"


@dataclass(frozen=True)
class Endpoint:
    """Where the API server is, the TLS to reach it with (its CA, a client certificate) and the headers that
    authenticate (a bearer token or basic auth): what Kopf's login made of the ServiceAccount or kubeconfig."""

    server: str
    tls: ssl.SSLContext = field(compare=False)
    headers: Mapping[str, str] = field(default_factory=dict)


class KubeError(Exception):
    """The API server answered with an error status, or did not answer (`status` 0)."""

    def __init__(self, status: int, reason: str) -> None:
        self.status = status
        self.reason = reason
        super().__init__(f"{status} {reason}")


class KubeClient:
    """Requests to the API server, logged in by `login` (again after a 401: a ServiceAccount token rotates)."""

    def __init__(
        self,
        login: Callable[[], Endpoint],
        *,
        timeout: float = REQUEST_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._login = login
        self._timeout = timeout
        self._transport = transport  # None: httpx's own (TLS per the endpoint)
        self._client: httpx.AsyncClient | None = None
        self._turns = asyncio.Semaphore(MAX_CONNECTIONS)

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | None = None,
        content_type: str = "application/json",
        accept: str = "application/json",
    ) -> dict[str, Any] | None:
        """The answer's JSON to `method path`; None for 404; KubeError for any other failure."""
        async with self._turns:
            return await self._request(method, path, body, content_type, accept)

    async def _request(
        self, method: str, path: str, body: Mapping[str, Any] | None, content_type: str, accept: str
    ) -> dict[str, Any] | None:
        for attempt in range(2):
            client = self._connected(fresh=attempt > 0)
            try:
                answer = await client.request(
                    method,
                    path,
                    json=dict(body) if body is not None else None,
                    headers={
                        "Accept": accept,
                        **({"Content-Type": content_type} if body is not None else {}),
                    },
                )
            except httpx.HTTPError as exc:
                raise KubeError(0, type(exc).__name__) from None
            if answer.status_code == 401 and attempt == 0:
                continue
            if answer.status_code == 404:
                return None
            if answer.status_code >= 400:
                raise KubeError(answer.status_code, answer.reason_phrase)
            data: dict[str, Any] = answer.json()
            return data
        raise KubeError(401, "Unauthorized")

    async def close(self) -> None:
        """Close the connections."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _connected(self, *, fresh: bool) -> httpx.AsyncClient:
        if self._client is not None and not fresh:
            return self._client
        endpoint = self._login()
        old = self._client
        self._client = httpx.AsyncClient(
            base_url=endpoint.server,
            verify=endpoint.tls,
            headers=dict(endpoint.headers),
            timeout=httpx.Timeout(self._timeout, pool=None),
            limits=httpx.Limits(max_connections=MAX_CONNECTIONS),
            trust_env=False,
            transport=self._transport,
        )
        if old is not None:
            # Requests still running on the old client (logged in with the old token) may finish first.
            asyncio.get_running_loop().call_later(
                2 * self._timeout, lambda: asyncio.ensure_future(old.aclose())
            )
        return self._client
