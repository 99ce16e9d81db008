"""The ARM client for workspace connections: HTTP only, no Kubernetes.

Works by resource ID and api-version. One pooled httpx.AsyncClient per process; every request carries a
fresh `x-ms-client-request-id` and the reconcile's `x-ms-correlation-request-id`; every error is logged with
ARM's `x-ms-request-id`. Requests take a token from the bucket of their principal and subscription first
(throttle.py; ARM's own limits are per principal and subscription), then one of the connection slots, shared fairly between subscriptions and workspaces (slots.py); a bounded number of
in-call retries cover transient failures (5xx, 408, 429 with a short Retry-After, dropped connections).
Anything longer is raised for the reconciler to reschedule: a handler never sleeps for minutes. Accepted
status codes per operation are data, from the contract (CONNECTIONS.md §1).

What ARM sends is not trusted blindly: each request has a total deadline, connect to last byte (an endpoint
that trickles a byte every few seconds defeats an idle timeout), and an answer is read only up to
`MAX_BODY`; a 2xx answer that is not a JSON object is refused. Those end the call at once, without in-call
retries: the deadline was already spent, and a proxy's page or a runaway body will not change in a second.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import random
import ssl
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import httpx

from wsconn.arm.errors import (
    ArmDeadlineError,
    ArmError,
    ArmMalformedError,
    ArmTransportError,
    parse_error,
    parse_retry_after,
)
from wsconn.arm.slots import FairSlots
from wsconn.arm.throttle import OpClass, Throttle
from wsconn.core.identity import OPERATOR_PRINCIPAL
from wsconn.core.ids import scope_of

log = logging.getLogger("wsconn.arm")

USER_AGENT: Final = "wsconn-operator/0.1"
GONE_CODES: Final = frozenset({"ResourceGroupNotFound", "ParentResourceNotFound"})
MAX_BODY: Final = 4 * 1024 * 1024
_RETRYABLE_STATUS: Final = frozenset({408, 429, 500, 502, 503, 504})

Observer = Callable[[str, int, float], None]
"""Called after every response: (method, status or 0 for no answer, seconds)."""


@dataclass(frozen=True)
class RetryPolicy:
    """In-call retries: few and short; the reconciler owns long waits."""

    attempts: int = 3
    base_delay: float = 0.5
    max_inline_wait: float = 10.0


@dataclass(frozen=True)
class Signer:
    """Who signs a request: the principal (the key of its client-side buckets) and its httpx auth."""

    principal: str
    auth: httpx.Auth


@dataclass(frozen=True)
class Answer:
    """A complete answer, read within the deadline and the size cap."""

    method: str
    path: str
    status: int
    headers: httpx.Headers
    body: bytes

    @property
    def request_id(self) -> str:
        """ARM's x-ms-request-id."""
        return str(self.headers.get("x-ms-request-id", ""))

    def describe(self, size: str = "") -> str:
        """What came back, without the body (it may hold a credential); `size` replaces the body's length."""
        kind = self.headers.get("content-type") or "no content type"
        return (
            f"{self.status} to {self.method} ({kind}, {size or f'{len(self.body)} bytes'}, "
            f"x-ms-request-id {self.request_id or '-'})"
        )


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
        max_body: int = MAX_BODY,
    ) -> None:
        if not endpoint.startswith("https://"):
            raise ValueError(f"ARM endpoint must use https, got {endpoint!r}")
        self._signer = Signer(OPERATOR_PRINCIPAL, auth)
        self._http = httpx.AsyncClient(
            base_url=endpoint.rstrip("/"),
            verify=tls_context(),
            timeout=httpx.Timeout(timeout, connect=min(10.0, timeout)),
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
            headers={"User-Agent": USER_AGENT, "x-ms-return-client-request-id": "true"},
            transport=transport,
        )
        self._throttle = throttle
        self._slots = FairSlots(concurrency)
        self._timeout = timeout
        self._retry = retry or RetryPolicy()
        self._observer = observer
        self._max_body = max_body

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    def acting_as(self, signer: Signer) -> SignedArm:
        """This client (its pool, buckets and slots) signing as `signer`."""
        return SignedArm(self, signer)

    async def put(
        self,
        resource_id: str,
        api_version: str,
        body: dict[str, Any],
        *,
        correlation_id: str,
        signer: Signer | None = None,
    ) -> dict[str, Any]:
        """Create or replace (200; 201 tolerated as the generic RPC allows it)."""
        answer = await self._send(
            "PUT", resource_id, api_version, "write", correlation_id=correlation_id, json=body, signer=signer
        )
        return self._expect(answer, {200, 201})

    async def get(
        self, resource_id: str, api_version: str, *, correlation_id: str, signer: Signer | None = None
    ) -> dict[str, Any] | None:
        """The connection without credentials; None when it does not exist (its workspace does)."""
        answer = await self._send(
            "GET", resource_id, api_version, "read", correlation_id=correlation_id, signer=signer
        )
        if answer.status == 404:
            error = parse_error(404, answer.body, answer.headers)
            if error.code in GONE_CODES or error.code == "SubscriptionNotFound":
                raise error
            return None
        return self._expect(answer, {200})

    async def list_secrets(
        self, resource_id: str, api_version: str, *, correlation_id: str, signer: Signer | None = None
    ) -> dict[str, Any]:
        """The connection with its credentials (a POST: ARM counts it as a write)."""
        answer = await self._send(
            "POST",
            f"{resource_id}/listsecrets",
            api_version,
            "write",
            correlation_id=correlation_id,
            signer=signer,
        )
        return self._expect(answer, {200})

    async def delete(
        self, resource_id: str, api_version: str, *, correlation_id: str, signer: Signer | None = None
    ) -> int:
        """Delete; returns the status. 200, 204 and a 404 for the connection or its parents all mean gone."""
        answer = await self._send(
            "DELETE", resource_id, api_version, "delete", correlation_id=correlation_id, signer=signer
        )
        if answer.status in {200, 204}:
            return answer.status
        if answer.status == 404:
            error = parse_error(404, answer.body, answer.headers)
            if error.code != "SubscriptionNotFound":
                return 404
            raise error
        raise self._error(answer)

    def _expect(self, answer: Answer, accepted: set[int]) -> dict[str, Any]:
        if answer.status not in accepted:
            raise self._error(answer)
        if not answer.body:
            return {}
        try:
            data = json.loads(answer.body)
        except ValueError:
            raise self._malformed(answer, "a body that is not JSON") from None
        if not isinstance(data, dict):
            raise self._malformed(answer, f"a JSON {type(data).__name__}, not an object")
        return data

    def _malformed(self, answer: Answer, what: str, size: str = "") -> ArmMalformedError:
        log.warning(
            "ARM %s %s answered %s with %s (x-ms-request-id %s)",
            answer.method,
            answer.path,
            answer.status,
            what,
            answer.request_id,
            extra={"arm_request_id": answer.request_id, "arm_status": answer.status},
        )
        return ArmMalformedError(f"Azure answered {answer.describe(size)} with {what}")

    def _error(self, answer: Answer) -> ArmError:
        error = parse_error(answer.status, answer.body, answer.headers)
        log.warning(
            "ARM %s %s answered %s %s (x-ms-request-id %s)",
            answer.method,
            answer.path,
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
        signer: Signer | None = None,
    ) -> Answer:
        signer = signer or self._signer
        subscription, workspace = scope_of(path)
        # ARM limits each principal per subscription, so the client-side buckets are keyed by both.
        bucket_key = f"{signer.principal}|{subscription}"
        slot = functools.partial(self._slots.slot, (subscription, workspace))
        inline_wait = 0.0
        for attempt in range(self._retry.attempts):
            client_request_id = str(uuid.uuid4())
            headers = {
                "x-ms-client-request-id": client_request_id,
                "x-ms-correlation-request-id": correlation_id,
            }
            async with self._throttle.admitted(bucket_key, op, slot) as admission:
                inline_wait += admission.waited
                log.debug(
                    "ARM %s %s sending (client request id %s, attempt %d)",
                    method,
                    path,
                    client_request_id,
                    attempt + 1,
                )
                answer = await self._exchange(
                    method, path, api_version, headers=headers, json=json, auth=signer.auth
                )
                if not isinstance(answer, httpx.TransportError):
                    admission.follow(answer.headers, op)
            if isinstance(answer, httpx.TransportError):
                log.warning(
                    "ARM %s %s failed: %s (client request id %s, attempt %d)",
                    method,
                    path,
                    type(answer).__name__,
                    client_request_id,
                    attempt + 1,
                )
                if attempt + 1 == self._retry.attempts:
                    raise ArmTransportError(
                        f"{method} failed without an answer: {type(answer).__name__}"
                    ) from None
                delay = self._delay(attempt, None)
            else:
                if answer.status not in _RETRYABLE_STATUS:
                    return answer
                retry_after = parse_retry_after(answer.headers.get("retry-after"))
                if answer.status == 429 and retry_after:
                    # Every 429 backs off every worker, also one whose caller is not retried here.
                    self._throttle.bucket(bucket_key, op).drain(retry_after)
                    log.info(
                        "ARM %s %s answered 429: %s requests wait %.1fs (x-ms-request-id %s)",
                        method,
                        path,
                        op,
                        retry_after,
                        answer.request_id,
                    )
                if attempt + 1 == self._retry.attempts:
                    return answer
                delay = self._delay(attempt, retry_after)
                if inline_wait + delay > self._retry.max_inline_wait:
                    return answer
                log.info(
                    "ARM %s %s answered %s; retrying in %.1fs (x-ms-request-id %s)",
                    method,
                    path,
                    answer.status,
                    delay,
                    answer.request_id,
                )
            inline_wait += delay
            await asyncio.sleep(delay)
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _exchange(
        self,
        method: str,
        path: str,
        api_version: str,
        *,
        headers: dict[str, str],
        json: Any,
        auth: httpx.Auth,
    ) -> Answer | httpx.TransportError:
        """One request and its whole answer within the deadline, or the transport error that stands in for
        one; raises when the deadline passes or the answer is too large."""
        request = self._http.build_request(
            method, path, params={"api-version": api_version}, json=json, headers=headers
        )
        started = asyncio.get_running_loop().time()
        status = 0
        try:
            async with asyncio.timeout(self._timeout):
                response = await self._http.send(request, stream=True, auth=auth)
                status = response.status_code
                try:
                    body = await self._read(method, path, response)
                finally:
                    await response.aclose()
        except TimeoutError:
            status = 0  # headers without the whole body are no answer
            log.warning("ARM %s %s: no complete answer within %gs", method, path, self._timeout)
            raise ArmDeadlineError(
                f"{method} got no complete answer within the {self._timeout:g}s deadline per request "
                "(--arm-timeout)"
            ) from None
        except httpx.TransportError as exc:
            return exc
        finally:
            self._observe(method, status, started)
        return Answer(method, path, status, response.headers, body)

    async def _read(self, method: str, path: str, response: httpx.Response) -> bytes:
        """The body, up to the cap: a larger one is dropped unread, so it never fills the process's memory."""
        declared = response.headers.get("content-length", "")
        too_large = declared.isdigit() and int(declared) > self._max_body
        chunks: list[bytes] = []
        size = 0
        if not too_large:
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > self._max_body:
                    too_large = True
                    break
                chunks.append(chunk)
        if too_large:
            answer = Answer(method, path, response.status_code, response.headers, b"")
            seen = f"{declared} bytes declared" if declared.isdigit() else f"over {self._max_body} bytes"
            cap = f"a body larger than the {self._max_body // 1024 // 1024} MiB cap, dropped unread"
            raise self._malformed(answer, cap, seen)
        return b"".join(chunks)

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        backoff = self._retry.base_delay * (2**attempt) * (0.5 + random.random())  # noqa: S311 - jitter
        return float(max(backoff, retry_after or 0.0))

    def _observe(self, method: str, status: int, started: float) -> None:
        if self._observer is not None:
            self._observer(method, status, asyncio.get_running_loop().time() - started)


class SignedArm:
    """The ARM operations of one client as one principal: what a pass holds (reconciler/model.Arm)."""

    def __init__(self, client: ArmClient, signer: Signer) -> None:
        self._client = client
        self._signer = signer

    async def put(
        self, resource_id: str, api_version: str, body: dict[str, Any], *, correlation_id: str
    ) -> dict[str, Any]:
        """PUT as this principal."""
        return await self._client.put(
            resource_id, api_version, body, correlation_id=correlation_id, signer=self._signer
        )

    async def get(self, resource_id: str, api_version: str, *, correlation_id: str) -> dict[str, Any] | None:
        """GET as this principal."""
        return await self._client.get(
            resource_id, api_version, correlation_id=correlation_id, signer=self._signer
        )

    async def list_secrets(
        self, resource_id: str, api_version: str, *, correlation_id: str
    ) -> dict[str, Any]:
        """listsecrets as this principal."""
        return await self._client.list_secrets(
            resource_id, api_version, correlation_id=correlation_id, signer=self._signer
        )

    async def delete(self, resource_id: str, api_version: str, *, correlation_id: str) -> int:
        """DELETE as this principal."""
        return await self._client.delete(
            resource_id, api_version, correlation_id=correlation_id, signer=self._signer
        )
