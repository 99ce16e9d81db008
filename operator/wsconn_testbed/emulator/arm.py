"""Azure Resource Manager for `Microsoft.MachineLearningServices/workspaces/connections`.

Checks run in ARM's order: the bearer token (401), the api-version's presence (400), the subscription's
throttling buckets (429), the subscription and resource group (404, answered by ARM itself), the api-version
being registered (400), injected faults, authorization (403), then the RP's own checks: parent workspace
(404), name pattern (400), body (400), and the operation. Every answer carries ARM's request headers.
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from wsconn_testbed.emulator import contract
from wsconn_testbed.emulator.control import (
    Authorization,
    FaultDecision,
    Faults,
    RequestLog,
    Throttling,
    body_digest,
    op_class,
    redact_body,
    retry_after_seconds,
)
from wsconn_testbed.emulator.entra import Entra, InvalidToken
from wsconn_testbed.emulator.state import CONNECTION_TYPE, Store, now_iso

MAX_BODY = 4 * 1024 * 1024
_PATH = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourcegroups/(?P<rg>[^/]+)/providers/microsoft\.machinelearningservices"
    r"/workspaces/(?P<ws>[^/]+)/connections(?:/(?P<name>[^/]+)(?P<action>/listsecrets)?)?/?$",
    re.IGNORECASE,
)


class ArmFailure(Exception):
    """An ARM error answer."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        details: list[dict[str, Any]] | None = None,
        gateway: bool = False,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.details, self.gateway, self.headers = details, gateway, headers or {}

    def body(self) -> dict[str, Any]:
        """ARM's ErrorResponse."""
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            error["details"] = self.details
        return {"error": error}


@dataclass
class ArmConfig:
    """Service behaviour tests may change."""

    page_size: int = 20
    echo_body_in_errors: bool = False


@dataclass
class Call:
    """What is known about one request while it is handled."""

    method: str
    path: str
    api_version: str
    correlation_id: str
    request_id: str
    client_id: str = ""
    subscription: str = ""
    remaining: int | None = None
    op: str = ""
    fault: str = ""
    body_sha256: str = ""
    body: Any = None


class Arm:
    """The ARM request handler."""

    def __init__(
        self,
        *,
        store: Store,
        entra: Entra,
        throttling: Throttling,
        faults: Faults,
        authorization: Authorization,
        log: RequestLog,
        config: ArmConfig,
    ) -> None:
        self.store, self.entra, self.throttling, self.faults = store, entra, throttling, faults
        self.authorization, self.log, self.config = authorization, log, config
        self.lock = asyncio.Lock()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Entry point for every /subscriptions/... request."""
        call = Call(
            method=request.method,
            path=request.path,
            api_version=request.query.get("api-version", ""),
            correlation_id=request.headers.get("x-ms-correlation-request-id") or str(uuid.uuid4()),
            request_id=str(uuid.uuid4()),
        )
        call.op = op_class(call.method)
        status, payload, decision = 500, None, FaultDecision()
        extra: dict[str, str] = {}
        try:
            raw = await request.read()
            call.body_sha256 = body_digest(raw)
            decision = self._preflight(request, call)
            if decision.delay:
                await asyncio.sleep(decision.delay)
            if decision.phase == "before" and (decision.status or decision.drop):
                self._inject(call, decision, raw)  # raises for a status; marks a drop
            if call.fault != "drop":  # a connection dropped before the operation never reaches it
                status, payload = await self._operate(request, call, raw)
            if decision.phase == "after" and (decision.status or decision.drop):
                self._inject(call, decision, raw)
        except ArmFailure as failure:
            status, payload, extra = failure.status, failure.body(), dict(failure.headers)
            if failure.gateway:
                extra["x-ms-failure-cause"] = "gateway"
        finally:
            self.log.add(
                {
                    "time": now_iso(),
                    "kind": "arm",
                    "method": call.method,
                    "path": call.path,
                    "api_version": call.api_version,
                    "status": status if call.fault != "drop" else 0,
                    "op": call.op,
                    "client_id": call.client_id,
                    "subscription": call.subscription,
                    "correlation_id": call.correlation_id,
                    "request_id": call.request_id,
                    "retry_after": int(extra.get("Retry-After", 0)),
                    "body_sha256": call.body_sha256,
                    "body": call.body,
                    "fault": call.fault,
                }
            )
        if call.fault == "drop":
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=500)
        return self._respond(request, call, status, payload, extra)

    def _respond(
        self, request: web.Request, call: Call, status: int, payload: Any, extra: dict[str, str]
    ) -> web.Response:
        headers = {
            "x-ms-request-id": call.request_id,
            "x-ms-correlation-request-id": call.correlation_id,
            "x-ms-routing-request-id": f"LOCAL:{now_iso().replace('-', '').replace(':', '')[:15]}Z:{call.request_id}",
            **extra,
        }
        if call.remaining is not None:
            headers[f"x-ms-ratelimit-remaining-subscription-{call.op}"] = str(call.remaining)
        if request.headers.get("x-ms-return-client-request-id", "").lower() == "true":
            headers["x-ms-client-request-id"] = request.headers.get("x-ms-client-request-id", "")
        if payload is None:
            return web.Response(status=status, headers=headers)
        return web.json_response(payload, status=status, headers=headers)

    def _preflight(self, request: web.Request, call: Call) -> FaultDecision:
        claims = self._authenticate(request)
        call.client_id = str(claims.get("appid", ""))
        if not call.api_version:
            raise ArmFailure(
                400,
                "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required for all requests.",
                gateway=True,
            )
        match = _PATH.match(call.path)
        segments = call.path.strip("/").split("/")
        call.subscription = segments[1] if len(segments) > 1 else ""
        wait = self.throttling.take(call.subscription, call.op)  # type: ignore[arg-type]
        if wait:
            seconds = retry_after_seconds(wait)
            noun = {"reads": "read", "writes": "write", "deletes": "delete"}[call.op]
            raise ArmFailure(
                429,
                "SubscriptionRequestsThrottled",
                f"Number of {noun} requests for subscription '{call.subscription}' exceeded the limit of "
                f"'{int(self.throttling.limits[call.op]['capacity'])}' for time interval. "
                f"Please try again after '{seconds}' seconds.",
                gateway=True,
                headers={"Retry-After": str(seconds)},
            )
        if self.throttling.enabled:
            call.remaining = self.throttling.bucket(call.subscription, call.op).remaining  # type: ignore[arg-type]
        if match is None:
            raise ArmFailure(
                404,
                "InvalidResourceType",
                f"The resource type could not be found in the namespace for api version '{call.api_version}'.",
                gateway=True,
            )
        sub, rg = match["sub"], match["rg"]
        if not self.store.subscription_known(sub):
            raise ArmFailure(
                404, "SubscriptionNotFound", f"The subscription '{sub}' could not be found.", gateway=True
            )
        if not self.store.resource_group_known(sub, rg):
            raise ArmFailure(
                404, "ResourceGroupNotFound", f"Resource group '{rg}' could not be found.", gateway=True
            )
        if call.api_version not in contract.API_VERSIONS:
            raise ArmFailure(
                400,
                "NoRegisteredProviderFound",
                f"No registered resource provider found for location 'westeurope' and API version "
                f"'{call.api_version}' for type 'workspaces/connections'. The supported api-versions are "
                f"'{', '.join(contract.API_VERSIONS)}'. The supported locations are 'westeurope'.",
                gateway=True,
            )
        return self.faults.decide(call.method, call.path)

    def _authenticate(self, request: web.Request) -> dict[str, Any]:
        header = request.headers.get("Authorization", "")
        challenge = f'Bearer authorization_uri="{self.entra.authority}", error="invalid_token"'
        if not header.lower().startswith("bearer "):
            raise ArmFailure(
                401,
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is missing.",
                gateway=True,
                headers={"WWW-Authenticate": f'Bearer authorization_uri="{self.entra.authority}"'},
            )
        try:
            return self.entra.verify(header[7:].strip())
        except InvalidToken as exc:
            code = "ExpiredAuthenticationToken" if exc.expired else "InvalidAuthenticationToken"
            description = "The access token has expired" if exc.expired else "The access token is invalid"
            raise ArmFailure(
                401,
                code,
                str(exc),
                gateway=True,
                headers={"WWW-Authenticate": f'{challenge}, error_description="{description}"'},
            ) from None

    def _inject(self, call: Call, decision: FaultDecision, raw: bytes) -> None:
        if decision.drop:
            call.fault = "drop"
            return
        call.fault = str(decision.status)
        headers = {"Retry-After": str(decision.retry_after)} if decision.retry_after else {}
        code = {
            400: "BadRequest",
            401: "InvalidAuthenticationToken",
            403: "AuthorizationFailed",
            404: "NotFound",
            408: "RequestTimeout",
            409: "Conflict",
            429: "TooManyRequests",
            503: "ServiceUnavailable",
            504: "GatewayTimeout",
        }
        raise ArmFailure(
            decision.status,
            code.get(decision.status, "InternalServerError"),
            "Injected fault: the service could not complete the request." + self._echo(raw),
            headers=headers,
        )

    def _echo(self, raw: bytes) -> str:
        """The request body for an error message, when tests ask the emulator to echo it (some RPs do)."""
        if not self.config.echo_body_in_errors or not raw:
            return ""
        return f" Request: {raw.decode(errors='replace')}"

    async def _operate(self, request: web.Request, call: Call, raw: bytes) -> tuple[int, Any]:
        match = _PATH.match(call.path)
        assert match is not None
        sub, rg, ws, name, action = match["sub"], match["rg"], match["ws"], match["name"], match["action"]
        scope = call.path.removesuffix("/listsecrets")
        verb = "listsecrets" if action else {"GET": "read", "DELETE": "delete"}.get(call.method, "write")
        if self.authorization.denied(call.client_id, verb, scope):
            raise ArmFailure(
                403,
                "AuthorizationFailed",
                f"The client '{call.client_id}' with object id '{call.client_id}' does not have authorization "
                f"to perform action 'Microsoft.MachineLearningServices/workspaces/connections/{verb}' over "
                f"scope '{scope}' or the scope is invalid.",
            )
        missing = self.store.missing_parent(sub, rg, ws)
        if missing:
            raise ArmFailure(404, *missing)
        if name is None:
            if call.method != "GET":
                raise ArmFailure(
                    405, "MethodNotAllowed", f"{call.method} is not supported on the collection."
                )
            return 200, self._list(request, call, sub, rg, ws)
        if not contract.NAME_PATTERN.match(name):
            raise ArmFailure(
                400,
                "ValidationError",
                f"The connection name must match {contract.NAME_PATTERN.pattern}.",
                details=[{"code": "InvalidName", "target": "connectionName", "message": "pattern mismatch"}],
            )
        async with self.lock:
            return self._on_connection(call, raw, (sub, rg, ws, name), bool(action))

    def _on_connection(
        self, call: Call, raw: bytes, where: tuple[str, str, str, str], listsecrets: bool
    ) -> tuple[int, Any]:
        existing = self.store.get(*where)
        if listsecrets:
            if call.method != "POST":
                raise ArmFailure(405, "MethodNotAllowed", "listsecrets is a POST action.")
            return 200, self._found(existing, where).with_secrets()
        if call.method == "GET":
            return 200, self._found(existing, where).resource()
        if call.method == "DELETE":
            return (200 if self.store.delete(*where) else 204), None
        if call.method not in ("PUT", "PATCH"):
            raise ArmFailure(405, "MethodNotAllowed", f"{call.method} is not supported on a connection.")
        if call.method == "PATCH" and call.api_version == "2024-04-01":
            raise ArmFailure(
                405,
                "MethodNotAllowed",
                "PATCH on workspaces/connections is not supported in api-version '2024-04-01'.",
            )
        # The PATCH body (WorkspaceConnectionUpdateParameter) is optional in the spec: none means no change.
        body = {} if call.method == "PATCH" and not raw else self._parse(raw)
        call.body = redact_body(body)
        if call.method == "PATCH":
            found = self._found(existing, where)
            self._validate(contract.validate_patch(call.api_version, body), body)
            properties = _merge_patch(
                {**found.properties, "credentials": found.credentials}, (body or {}).get("properties") or {}
            )
            for read_only in ("group", "createdByWorkspaceArmId"):
                properties.pop(read_only, None)
            properties = {k: v for k, v in properties.items() if v is not None}
            self._validate(contract.validate_put(call.api_version, {"properties": properties}), body)
        else:
            self._validate(contract.validate_put(call.api_version, body), body)
            properties = copy.deepcopy(body["properties"])
        stored = self.store.put(*where, properties=contract.normalise(properties), principal=call.client_id)
        return 200, stored.resource()

    def _found(self, existing: Any, where: tuple[str, str, str, str]) -> Any:
        if existing is None:
            _, rg, ws, name = where
            raise ArmFailure(
                404,
                "ResourceNotFound",
                f"The Resource '{CONNECTION_TYPE.replace('workspaces/', f'workspaces/{ws}/')}/{name}' "
                f"under resource group '{rg}' was not found.",
            )
        return existing

    def _parse(self, raw: bytes) -> Any:
        if len(raw) > MAX_BODY:
            raise ArmFailure(413, "RequestEntityTooLarge", "The request content exceeds 4 MB.", gateway=True)
        if not raw:
            raise ArmFailure(400, "InvalidRequestContent", "The request content was invalid: it is empty.")
        try:
            return json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ArmFailure(
                400, "InvalidRequestContent", "The request content was invalid and could not be deserialized."
            ) from None

    def _validate(self, problems: list[str], body: Any) -> None:
        if not problems:
            return
        message = f"The request body is invalid: {'; '.join(problems[:10])}." + self._echo(
            json.dumps(body).encode()
        )
        raise ArmFailure(
            400,
            "ValidationError",
            message,
            details=[
                {"code": "InvalidRequestContent", "target": p.split(":", 1)[0], "message": p}
                for p in problems[:10]
            ],
        )

    def _list(self, request: web.Request, call: Call, sub: str, rg: str, ws: str) -> dict[str, Any]:
        items = self.store.in_workspace(sub, rg, ws)
        target, category = request.query.get("target"), request.query.get("category")
        if target is not None:
            items = [c for c in items if c.properties.get("target") == target]
        if category is not None:
            items = [c for c in items if str(c.properties.get("category", "")).lower() == category.lower()]
        try:
            skip = max(0, int(request.query.get("$skipToken", "0")))
        except ValueError:
            raise ArmFailure(400, "InvalidSkipToken", "The $skipToken is not valid.") from None
        page = items[skip : skip + self.config.page_size]
        result: dict[str, Any] = {"value": [c.resource() for c in page]}
        if skip + self.config.page_size < len(items):
            query = {k: v for k, v in request.query.items() if k != "$skipToken"}
            query["$skipToken"] = str(skip + self.config.page_size)
            result["nextLink"] = f"{request.scheme}://{request.host}{request.path}?{urlencode(query)}"
        return result


def _merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON merge-patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = _merge_patch(out.get(key), value)
    return out
