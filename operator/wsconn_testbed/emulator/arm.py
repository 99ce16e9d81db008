"""Azure Resource Manager for `Microsoft.MachineLearningServices/workspaces/connections`.

Checks run in ARM's order: the bearer token (401), the api-version's presence (400), the token's tenant
against the subscription's (401), the throttling buckets (429), the resource type (404), the subscription and
resource group (404, answered by ARM itself), the api-version being registered (400), injected faults,
authorization (403: the principal's scopes, then deny rules), then the RP's own checks: parent workspace
(404), name (400), body (400), and the operation. Every answer carries ARM's request headers and both
families of remaining-quota headers.
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from wsconn_testbed.emulator import answers, categories, contract
from wsconn_testbed.emulator.control import Authorization, RequestLog, body_digest, redact_body
from wsconn_testbed.emulator.entra import Entra, InvalidToken
from wsconn_testbed.emulator.faults import BodyPlan, FaultDecision, Faults, compact, plan
from wsconn_testbed.emulator.principals import Principal
from wsconn_testbed.emulator.state import Stamp, Store, now_iso
from wsconn_testbed.emulator.throttling import Grant, Throttling, op_class, retry_after_seconds

MAX_BODY = 4 * 1024 * 1024
_PATH = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourcegroups/(?P<rg>[^/]+)/providers/microsoft\.machinelearningservices"
    r"/workspaces/(?P<ws>[^/]+)/connections(?:/(?P<name>[^/]+)(?P<action>/listsecrets)?)?/?$",
    re.IGNORECASE,
)
_ACTION = "Microsoft.MachineLearningServices/workspaces/connections"
_NOUN = {"reads": "read", "writes": "write", "deletes": "delete"}


class ArmFailure(Exception):
    """An ARM error answer: an ErrorResponse, or the RP's own body (`payload`)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        details: list[dict[str, Any]] | None = None,
        gateway: bool = False,
        headers: dict[str, str] | None = None,
        payload: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.details, self.gateway, self.headers = details, gateway, headers or {}
        self.payload = payload

    def body(self) -> dict[str, Any]:
        """The answer's body."""
        if self.payload is not None:
            return self.payload
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            error["details"] = self.details
        return {"error": error}


@dataclass
class ArmConfig:
    """Service behaviour a configuration or tests may change."""

    page_size: int = 20
    echo_body_in_errors: bool = False
    max_name_length: int = contract.DEFAULT_MAX_NAME_LENGTH
    added_metadata: dict[str, dict[str, str]] = field(
        default_factory=lambda: copy.deepcopy(categories.DEFAULT_ADDED_METADATA)
    )


@dataclass
class Call:
    """What is known about one request while it is handled."""

    method: str
    path: str
    api_version: str
    correlation_id: str
    request_id: str
    claims: dict[str, Any] = field(default_factory=dict)
    principal: Principal | None = None
    subscription: str = ""
    grant: Grant = field(default_factory=Grant)
    op: str = ""
    fault: str = ""
    body_sha256: str = ""
    body: Any = None

    def stamp(self) -> Stamp:
        """systemData's who and when for a write by this caller."""
        if self.claims.get("idtyp") == "user":
            return Stamp(now_iso(), str(self.claims.get("upn", "")), "User")
        return Stamp(now_iso(), str(self.claims.get("appid", "")), "Application")

    def who(self) -> str:
        """How ARM names the caller in an authorization error."""
        return str(self.claims.get("upn") or self.claims.get("appid", ""))

    def log_entry(self, status: int, retry_after: int) -> dict[str, Any]:
        """The request-log entry (no credential value: the body is redacted)."""
        return {
            "time": now_iso(),
            "kind": "arm",
            "method": self.method,
            "path": self.path,
            "api_version": self.api_version,
            "status": status if self.fault != "drop" else 0,
            "op": self.op,
            "client_id": str(self.claims.get("appid", "")),
            "object_id": str(self.claims.get("oid", "")),
            "tenant_id": str(self.claims.get("tid", "")),
            "principal_type": "User" if self.claims.get("idtyp") == "user" else "Application",
            "subscription": self.subscription,
            "correlation_id": self.correlation_id,
            "request_id": self.request_id,
            "retry_after": retry_after,
            "body_sha256": self.body_sha256,
            "body": self.body,
            "fault": self.fault,
        }


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
            op=op_class(request.method),
        )
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
            body_fault = decision.body if 200 <= status < 300 and payload is not None else None
            if body_fault is not None:
                call.fault = body_fault.kind
                self.faults.injected[body_fault.kind] += 1
            self.log.add(call.log_entry(status, int(extra.get("Retry-After", 0))))
        if call.fault == "drop":
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=500)
        headers = self._headers(request, call, extra)
        if body_fault is not None:
            return await _stream(request, status, headers, plan(body_fault, payload))
        if payload is None:
            return web.Response(status=status, headers=headers)
        return web.Response(
            status=status,
            headers=headers,
            body=compact(payload),
            content_type="application/json",
            charset="utf-8",
        )

    def _headers(self, request: web.Request, call: Call, extra: dict[str, str]) -> dict[str, str]:
        headers = {
            "x-ms-request-id": call.request_id,
            "x-ms-correlation-request-id": call.correlation_id,
            "x-ms-routing-request-id": f"LOCAL:{now_iso().replace('-', '').replace(':', '')[:15]}Z:{call.request_id}",
            **extra,
        }
        if call.grant.remaining is not None:
            headers[f"x-ms-ratelimit-remaining-subscription-{call.op}"] = str(call.grant.remaining)
            headers[f"x-ms-ratelimit-remaining-subscription-global-{call.op}"] = str(
                call.grant.remaining_global
            )
        if request.headers.get("x-ms-return-client-request-id", "").lower() == "true":
            headers["x-ms-client-request-id"] = request.headers.get("x-ms-client-request-id", "")
        return headers

    def _preflight(self, request: web.Request, call: Call) -> FaultDecision:
        call.claims = self._authenticate(request)
        call.principal = self.entra.directory.by_object_id(str(call.claims["oid"]))
        if not call.api_version:
            raise ArmFailure(
                400,
                "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required for all requests.",
                gateway=True,
            )
        segments = call.path.strip("/").split("/")
        call.subscription = segments[1] if len(segments) > 1 else ""
        self._check_tenant(call)
        call.grant = self.throttling.take(call.subscription, str(call.claims["oid"]), op_class(call.method))
        if call.grant.wait:
            seconds = retry_after_seconds(call.grant.wait)
            limits = (
                self.throttling.limits if call.grant.scope == "principal" else self.throttling.global_limits
            )
            which = "" if call.grant.scope == "principal" else "global "
            raise ArmFailure(
                429,
                "SubscriptionRequestsThrottled",
                f"Number of {_NOUN[call.op]} requests for subscription '{call.subscription}' exceeded the "
                f"{which}limit of '{int(limits[call.op]['capacity'])}' for time interval. "
                f"Please try again after '{seconds}' seconds.",
                gateway=True,
                headers={"Retry-After": str(seconds)},
            )
        match = _PATH.match(call.path)
        if match is None:
            raise ArmFailure(
                404,
                "InvalidResourceType",
                f"The resource type could not be found in the namespace for api version '{call.api_version}'.",
                gateway=True,
            )
        sub, rg = match["sub"], match["rg"]
        if self.store.tenant_of(sub) is None:
            raise ArmFailure(
                404, "SubscriptionNotFound", f"The subscription '{sub}' could not be found.", gateway=True
            )
        if not self.store.resource_group_known(sub, rg):
            raise ArmFailure(
                404, "ResourceGroupNotFound", f"Resource group '{rg}' could not be found.", gateway=True
            )
        if call.api_version not in contract.VERSIONS:
            raise ArmFailure(
                400,
                "NoRegisteredProviderFound",
                f"No registered resource provider found for location 'westeurope' and API version "
                f"'{call.api_version}' for type 'workspaces/connections'. The supported api-versions are "
                f"'{', '.join(contract.API_VERSIONS)}'. The supported locations are 'westeurope'.",
                gateway=True,
            )
        return self.faults.decide(call.method, call.path)

    def _check_tenant(self, call: Call) -> None:
        """ARM refuses a token from another tenant than the subscription's."""
        tenant = self.store.tenant_of(call.subscription)
        token_tenant = str(call.claims["tid"])
        if tenant is None or tenant.lower() == token_tenant.lower():
            return
        authority = self.entra.authority
        raise ArmFailure(
            401,
            "InvalidAuthenticationTokenTenant",
            f"The access token is from the wrong issuer '{self.entra.issuer(token_tenant)}'. It must match the "
            f"tenant '{self.entra.issuer(tenant)}' associated with this subscription. Please use the authority "
            f"(URL) '{authority}/{tenant}' to get the token. Note, if the subscription is transferred to another "
            "tenant there is no impact to the services, but information about new tenant could take time to "
            "propagate (up to an hour). If you just transferred your subscription and see this error message, "
            "please try back later.",
            gateway=True,
            headers={
                "WWW-Authenticate": f'Bearer authorization_uri="{authority}/{tenant}", error="invalid_token", '
                'error_description="The access token is from the wrong issuer."'
            },
        )

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

    def _authorize(self, call: Call, verb: str, scope: str) -> None:
        """ARM's RBAC: the principal's scopes, then the deny rules tests set."""
        allowed = call.principal is None or call.principal.may_act_on(scope)
        if allowed and not self.authorization.denied(str(call.claims.get("appid", "")), verb, scope):
            return
        action = f"{_ACTION}/listsecrets/action" if verb == "listsecrets" else f"{_ACTION}/{verb}"
        raise ArmFailure(
            403,
            "AuthorizationFailed",
            f"The client '{call.who()}' with object id '{call.claims.get('oid', '')}' does not have "
            f"authorization to perform action '{action}' over scope '{scope}' or the scope is invalid. If "
            "access was recently granted, please refresh your credentials.",
            gateway=True,
        )

    async def _operate(self, request: web.Request, call: Call, raw: bytes) -> tuple[int, Any]:
        match = _PATH.match(call.path)
        assert match is not None
        sub, rg, ws, name, action = match["sub"], match["rg"], match["ws"], match["name"], match["action"]
        verb = "listsecrets" if action else {"GET": "read", "DELETE": "delete"}.get(call.method, "write")
        self._authorize(call, verb, call.path.removesuffix("/listsecrets"))
        if self.store.workspace(sub, rg, ws) is None:
            raise ArmFailure(
                404,
                "ParentResourceNotFound",
                f"Can not perform requested operation on nested resource. Parent resource '{ws}' not found.",
            )
        if name is None:
            if call.method != "GET":
                raise ArmFailure(
                    405, "MethodNotAllowed", f"{call.method} is not supported on the collection."
                )
            return 200, self._list(request, call, sub, rg, ws)
        problem = contract.name_problem(name, self.config.max_name_length)
        if problem:
            raise ArmFailure(
                400,
                "ValidationError",
                problem,
                details=[{"code": "InvalidName", "target": "connectionName", "message": problem}],
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
            return 200, answers.resource(self._found(existing, where), call.api_version, with_secrets=True)
        if call.method == "GET":
            return 200, answers.resource(self._found(existing, where), call.api_version)
        if call.method == "DELETE":
            return (200 if self.store.delete(*where) else 204), None
        if call.method not in ("PUT", "PATCH"):
            raise ArmFailure(405, "MethodNotAllowed", f"{call.method} is not supported on a connection.")
        if call.method == "PATCH" and not contract.VERSIONS[call.api_version].patch:
            raise ArmFailure(
                405,
                "MethodNotAllowed",
                f"PATCH on workspaces/connections is not supported in api-version '{call.api_version}'.",
            )
        # The PATCH body (WorkspaceConnectionUpdateParameter) is optional in the spec: none means no change.
        body = {} if call.method == "PATCH" and not raw else self._parse(raw)
        call.body = redact_body(body)
        stamp = call.stamp()
        created = None
        if call.method == "PATCH":
            found = self._found(existing, where)
            self._validate(contract.validate_patch(call.api_version, body), body)
            merged = _merge_patch(
                {**found.properties, "credentials": found.credentials}, (body or {}).get("properties") or {}
            )
            properties = {k: v for k, v in merged.items() if v is not None}
            self._validate(
                contract.validate_put(call.api_version, {"properties": properties}, where[3]), body
            )
            created = found.created
        else:
            self._validate(contract.validate_put(call.api_version, body, where[3]), body)
            properties = copy.deepcopy(body["properties"])
        kept = contract.stored(call.api_version, properties)
        credentials = kept.pop("credentials", None)
        if "category" in kept:
            kept["category"] = categories.canonical(str(kept["category"]))
        metadata = categories.with_added_metadata(
            kept.get("category"), kept.get("metadata"), self.config.added_metadata
        )
        if metadata is not None:
            kept["metadata"] = metadata
        stored = self.store.put(where, properties=kept, credentials=credentials, stamp=stamp, created=created)
        return 200, answers.resource(stored, call.api_version)

    def _found(self, existing: Any, where: tuple[str, str, str, str]) -> Any:
        if existing is None:
            sub, rg, ws, name = where
            workspace = self.store.workspace(sub, rg, ws)
            location = workspace.location if workspace else ""
            raise ArmFailure(
                404,
                "UserError",
                f"Connection {name} can't be found in this workspace",
                payload=answers.connection_not_found(name, location),
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
        result: dict[str, Any] = {"value": [answers.resource(c, call.api_version) for c in page]}
        if skip + self.config.page_size < len(items):
            query = {k: v for k, v in request.query.items() if k != "$skipToken"}
            query["$skipToken"] = str(skip + self.config.page_size)
            result["nextLink"] = f"{request.scheme}://{request.host}{request.path}?{urlencode(query)}"
        return result


async def _stream(
    request: web.Request, status: int, headers: dict[str, str], body: BodyPlan
) -> web.StreamResponse:
    """Send a body fault's plan: its chunks, pausing after each but the last; a client that gives up ends it."""
    response = web.StreamResponse(status=status, headers={**headers, "Content-Type": body.content_type})
    response.content_length = body.length
    await response.prepare(request)
    try:
        first = True
        for chunk in body.chunks:
            if not first and body.delay:
                await asyncio.sleep(body.delay)
            first = False
            await response.write(chunk)
        await response.write_eof()
    except ConnectionResetError:
        pass  # the client's deadline fired, which is what a trickle is for
    return response


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
