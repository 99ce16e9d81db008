"""The ARM client for workspace connections: HTTP only, no Kubernetes.

Works by resource ID and api-version. One pooled httpx.AsyncClient per process; every request carries a
fresh `x-ms-client-request-id` and the reconcile's `x-ms-correlation-request-id`; every error is logged with
ARM's `x-ms-request-id`. Requests take a token from the subscription's bucket first (throttle.py), and a
bounded number of in-call retries cover transient failures (5xx, 408, 429 with a short Retry-After, dropped
connections, timeouts). Anything longer is raised for the reconciler to reschedule: a handler never sleeps
for minutes. Accepted status codes per operation are data, from the contract (CONNECTIONS.md §1).
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import httpx

from wsconn.arm.errors import ArmError, ArmTransportError, parse_error
from wsconn.arm.throttle import OpClass, Throttle
from wsconn.core.ids import subscription_of

log = logging.getLogger("wsconn.arm")

USER_AGENT: Final = "wsconn-operator/0.1"
GONE_CODES: Final = frozenset({"ResourceGroupNotFound", "ParentResourceNotFound"})
_RETRYABLE_STATUS: Final = frozenset({408, 429, 500, 502, 503, 504})

Observer = Callable[[str, int, float], None]
"""Called after every response: (method, status or 0 for no answer, seconds)."""


@dataclass(frozen=True)
class RetryPolicy:
    """In-call retries: few and short; the reconciler owns long waits."""

    attempts: int = 3
    base_delay: float = 0.5
    max_inline_wait: float = 10.0


def tls_context() -> ssl.SSLContext:
    """The system trust store; OpenSSL also honours SSL_CERT_FILE / SSL_CERT_DIR."""
    return ssl.create_default_context()


class ArmClient:
    """PUT/GET/DELETE/listsecrets on connections, by ARM ID."""

    def __init__(
        self,
        *,
        endpoint: str,
        auth: httpx.Auth,
        throttle: Throttle,
        concurrency: int = 32,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        observer: Observer | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not endpoint.startswith("https://"):
            raise ValueError(f"ARM endpoint must use https, got {endpoint!r}")
        self._http = httpx.AsyncClient(
            base_url=endpoint.rstrip("/"),
            auth=auth,
            verify=tls_context(),
            timeout=httpx.Timeout(timeout, connect=10.0),
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
            headers={"User-Agent": USER_AGENT, "x-ms-return-client-request-id": "true"},
            transport=transport,
        )
        self._throttle = throttle
        self._slots = asyncio.Semaphore(concurrency)
        self._retry = retry or RetryPolicy()
        self._observer = observer

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def put(
        self, resource_id: str, api_version: str, body: dict[str, Any], *, correlation_id: str
    ) -> dict[str, Any]:
        """Create or replace (200; 201 tolerated as the generic RPC allows it)."""
        response = await self._send(
            "PUT", resource_id, api_version, "write", correlation_id=correlation_id, json=body
        )
        return self._expect(response, {200, 201})

    async def get(self, resource_id: str, api_version: str, *, correlation_id: str) -> dict[str, Any] | None:
        """The connection without credentials; None when it does not exist (its workspace does)."""
        response = await self._send("GET", resource_id, api_version, "read", correlation_id=correlation_id)
        if response.status_code == 404:
            error = parse_error(404, response.content, response.headers)
            if error.code in GONE_CODES or error.code == "SubscriptionNotFound":
                raise error
            return None
        return self._expect(response, {200})

    async def list_secrets(
        self, resource_id: str, api_version: str, *, correlation_id: str
    ) -> dict[str, Any]:
        """The connection with its credentials (a POST: ARM counts it as a write)."""
        response = await self._send(
            "POST", f"{resource_id}/listsecrets", api_version, "write", correlation_id=correlation_id
        )
        return self._expect(response, {200})

    async def delete(self, resource_id: str, api_version: str, *, correlation_id: str) -> int:
        """Delete; returns the status. 200, 204 and a 404 for the connection or its parents all mean gone."""
        response = await self._send(
            "DELETE", resource_id, api_version, "delete", correlation_id=correlation_id
        )
        if response.status_code in {200, 204}:
            return response.status_code
        if response.status_code == 404:
            error = parse_error(404, response.content, response.headers)
            if error.code != "SubscriptionNotFound":
                return 404
            raise error
        raise self._error(response)

    def _expect(self, response: httpx.Response, accepted: set[int]) -> dict[str, Any]:
        if response.status_code not in accepted:
            raise self._error(response)
        data = response.json() if response.content else {}
        return data if isinstance(data, dict) else {}

    def _error(self, response: httpx.Response) -> ArmError:
        error = parse_error(response.status_code, response.content, response.headers)
        log.warning(
            "ARM %s %s answered %s %s (x-ms-request-id %s)",
            response.request.method,
            response.request.url.path,
            error.status,
            error.code,
            error.request_id,
            extra={"arm_request_id": error.request_id, "arm_status": error.status},
        )
        return error

    async def _send(
        self,
        method: str,
        path: str,
        api_version: str,
        op: OpClass,
        *,
        correlation_id: str,
        json: dict[str, Any] | None = None,
    ) -> httpx.Response:
        subscription = subscription_of(path)
        inline_wait = 0.0
        for attempt in range(self._retry.attempts):
            client_request_id = str(uuid.uuid4())
            headers = {
                "x-ms-client-request-id": client_request_id,
                "x-ms-correlation-request-id": correlation_id,
            }
            async with self._throttle.admitted(subscription, op, self._slots) as waited:
                inline_wait += waited
                log.debug(
                    "ARM %s %s sending (client request id %s, attempt %d)",
                    method,
                    path,
                    client_request_id,
                    attempt + 1,
                )
                started = time.monotonic()
                response = await self._exchange(method, path, api_version, headers=headers, json=json)
            if isinstance(response, httpx.TransportError):
                self._observe(method, 0, started)
                log.warning(
                    "ARM %s %s failed: %s (client request id %s, attempt %d)",
                    method,
                    path,
                    type(response).__name__,
                    client_request_id,
                    attempt + 1,
                )
                if attempt + 1 == self._retry.attempts:
                    raise ArmTransportError(
                        f"{method} failed without an answer: {type(response).__name__}"
                    ) from None
                delay = self._delay(attempt, None)
            else:
                self._observe(method, response.status_code, started)
                if response.status_code not in _RETRYABLE_STATUS:
                    return response
                retry_after = parse_error(response.status_code, b"", response.headers).retry_after
                if response.status_code == 429 and retry_after:
                    # Every 429 backs off every worker, also one whose caller is not retried here.
                    self._throttle.bucket(subscription, op).drain(retry_after)
                    log.info(
                        "ARM %s %s answered 429: %s requests wait %.1fs (x-ms-request-id %s)",
                        method,
                        path,
                        op,
                        retry_after,
                        response.headers.get("x-ms-request-id", ""),
                    )
                if attempt + 1 == self._retry.attempts:
                    return response
                delay = self._delay(attempt, retry_after)
                if inline_wait + delay > self._retry.max_inline_wait:
                    return response
                log.info(
                    "ARM %s %s answered %s; retrying in %.1fs (x-ms-request-id %s)",
                    method,
                    path,
                    response.status_code,
                    delay,
                    response.headers.get("x-ms-request-id", ""),
                )
            inline_wait += delay
            await asyncio.sleep(delay)
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _exchange(
        self, method: str, path: str, api_version: str, *, headers: dict[str, str], json: Any
    ) -> httpx.Response | httpx.TransportError:
        """One request and its answer, or the transport error that stands in for one."""
        try:
            return await self._http.request(
                method, path, params={"api-version": api_version}, json=json, headers=headers
            )
        except httpx.TransportError as exc:
            return exc

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        backoff = self._retry.base_delay * (2**attempt) * (0.5 + random.random())  # noqa: S311 - jitter
        return float(max(backoff, retry_after or 0.0))

    def _observe(self, method: str, status: int, started: float) -> None:
        if self._observer is not None:
            self._observer(method, status, time.monotonic() - started)
