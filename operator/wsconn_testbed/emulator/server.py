"""The emulator's HTTPS server: Entra ID, ARM and the admin API on one loopback port.

Entra answers under `/{tenant}/...` and `/common/discovery/instance`, ARM under `/subscriptions/...`, and
the admin API under `/_emulator/...` (bearer admin token, printed only in the ready file). The TLS
certificate comes from a CA generated at start into the state directory; the ready file names a trust
bundle (system CAs + that CA) for SSL_CERT_FILE.
"""

from __future__ import annotations

import copy
import hmac
import json
import secrets
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from wsconn_testbed import pki
from wsconn_testbed.emulator import admin, contract
from wsconn_testbed.emulator.arm import Arm, ArmConfig
from wsconn_testbed.emulator.categories import DEFAULT_ADDED_METADATA
from wsconn_testbed.emulator.control import Authorization, RequestLog
from wsconn_testbed.emulator.entra import Entra, Issued, TokenError
from wsconn_testbed.emulator.faults import Faults
from wsconn_testbed.emulator.principals import ALL_SCOPES, Certificate, Principal, default_object_id
from wsconn_testbed.emulator.state import DEFAULT_LOCATION, Store, now_iso
from wsconn_testbed.emulator.throttling import Throttling

DEFAULT_TENANT = "6f1c2b7e-0a5d-4c1e-9d3b-2f4a8e7c1d90"
DEFAULT_CLIENT = "3c5e7a9b-1d2f-4e6a-8b0c-9d8e7f6a5b4c"
DEFAULT_AUDIENCE = "https://management.emulator.wsconn.test/"
DEFAULT_WORKSPACE = {
    "subscription": "00000000-1111-2222-3333-444444444444",
    "resource_group": "rg-ml",
    "workspace": "ws-prod",
}


@dataclass
class EmulatorConfig:
    """Start-up configuration (the `--config` JSON file; every key optional)."""

    tenant_id: str = DEFAULT_TENANT
    audience: str = DEFAULT_AUDIENCE
    clients: list[dict[str, Any]] = field(default_factory=list)
    users: list[dict[str, Any]] = field(default_factory=list)
    workspaces: list[dict[str, str]] = field(default_factory=lambda: [dict(DEFAULT_WORKSPACE)])
    throttle: dict[str, Any] = field(default_factory=dict)
    token_ttl: int = 3600
    page_size: int = 20
    log_limit: int = 200_000
    max_name_length: int = contract.DEFAULT_MAX_NAME_LENGTH
    added_metadata: dict[str, dict[str, str]] = field(
        default_factory=lambda: copy.deepcopy(DEFAULT_ADDED_METADATA)
    )

    @classmethod
    def load(cls, path: Path | None) -> EmulatorConfig:
        """Read a config file; unknown keys are an error (a typo must not pass silently)."""
        if path is None:
            return cls()
        raw = json.loads(path.read_text())
        unknown = set(raw) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown emulator config keys: {', '.join(sorted(unknown))}")
        return cls(**raw)


class Emulator:
    """All emulated services and their shared state."""

    def __init__(self, config: EmulatorConfig, state_dir: Path) -> None:
        self.config = config
        self.state_dir = state_dir
        self.admin_token = secrets.token_urlsafe(24)
        self.authority = ""
        self.store = Store()
        self.log = RequestLog(limit=config.log_limit)
        self.throttling = Throttling()
        self.faults = Faults()
        self.authorization = Authorization()
        self.arm_config = ArmConfig()
        self.entra = Entra(authority="", audience=config.audience, tenant_id=config.tenant_id)
        self.arm = Arm(
            store=self.store,
            entra=self.entra,
            throttling=self.throttling,
            faults=self.faults,
            authorization=self.authorization,
            log=self.log,
            config=self.arm_config,
        )
        # Generated secrets are drawn once, so that a reset restores what the ready file announced.
        self.configured = [self.app_from(raw) for raw in config.clients or [{"client_id": DEFAULT_CLIENT}]]
        self.configured += [self.user_from(raw) for raw in config.users]
        self.reset()

    def app_from(self, raw: dict[str, Any]) -> Principal:
        """An app registration from its JSON; one with no secret, certificate or federation gets a secret."""
        listed = list(raw.get("secrets", []))
        if raw.get("secret"):
            listed.insert(0, raw["secret"])
        certificates = [Certificate.load(pem) for pem in raw.get("certificates", [])]
        if not listed and not certificates and not raw.get("federated_issuer"):
            listed.append(secrets.token_urlsafe(32))
        return Principal(
            kind="Application",
            name=raw["client_id"],
            tenant_id=raw.get("tenant_id", self.config.tenant_id),
            object_id=raw.get("object_id") or default_object_id(raw["client_id"]),
            secrets=listed,
            certificates=certificates,
            federated_issuer=raw.get("federated_issuer", ""),
            federated_subject=raw.get("federated_subject", ""),
            scopes=tuple(raw.get("scopes", ALL_SCOPES)),
        )

    def user_from(self, raw: dict[str, Any]) -> Principal:
        """A user from its JSON (user principal name and password)."""
        return Principal(
            kind="User",
            name=raw["username"],
            tenant_id=raw.get("tenant_id", self.config.tenant_id),
            object_id=raw.get("object_id") or default_object_id(raw["username"]),
            secrets=[raw["password"]],
            scopes=tuple(raw.get("scopes", ALL_SCOPES)),
        )

    def add_workspace(self, raw: dict[str, str]) -> str:
        """Make a workspace exist (its subscription in `tenant_id`, itself in `location`)."""
        tenant = raw.get("tenant_id", self.config.tenant_id)
        self.entra.tenants.add(tenant.lower())
        return self.store.add_workspace(
            raw["subscription"],
            raw["resource_group"],
            raw["workspace"],
            tenant=tenant,
            location=raw.get("location", DEFAULT_LOCATION),
        )

    def tls(self) -> tuple[ssl.SSLContext, Path, Path]:
        """Server TLS context, CA file and trust bundle, written into the state directory."""
        pki_dir = self.state_dir / "pki"
        authority = pki.create_authority(pki_dir, "wsconn-emulator-ca")
        leaf = authority.issue(pki_dir, "emulator")
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(leaf.cert, leaf.key)
        bundle = pki.write_trust_bundle(pki_dir / "trust-bundle.pem", authority.cert)
        return context, authority.cert, bundle

    def info(self, port: int, ca_file: Path, bundle: Path) -> dict[str, Any]:
        """What the ready file announces."""
        apps = [p for p in self.configured if p.kind == "Application"]
        users = [p for p in self.configured if p.kind == "User"]
        return {
            "port": port,
            "arm_endpoint": self.authority,
            "authority_host": self.authority,
            "audience": self.config.audience,
            "tenant_id": self.config.tenant_id,
            "clients": {p.name: p.secrets[0] if p.secrets else "" for p in apps},
            "users": {p.name: p.secrets[0] for p in users},
            "ca_file": str(ca_file),
            "trust_bundle": str(bundle),
            "admin_token": self.admin_token,
            "workspaces": self.config.workspaces,
            "api_versions": list(contract.API_VERSIONS),
        }

    def app(self) -> web.Application:
        """The aiohttp application."""
        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.router.add_route("*", "/subscriptions/{tail:.*}", self.arm.handle)
        app.router.add_route("*", "/_emulator/{tail:.*}", self._admin)
        app.router.add_get("/common/discovery/instance", self._instance_discovery)
        app.router.add_get("/{tenant}/v2.0/.well-known/openid-configuration", self._openid)
        app.router.add_get("/{tenant}/discovery/v2.0/keys", self._jwks)
        app.router.add_post("/{tenant}/oauth2/v2.0/token", self._token)
        return app

    def _entra_log(
        self, request: web.Request, status: int, client_id: str = "", issued: Issued | None = None
    ) -> None:
        principal = issued.principal if issued else None
        self.log.add(
            {
                "time": now_iso(),
                "kind": "entra",
                "method": request.method,
                "path": request.path,
                "api_version": "",
                "status": status,
                "op": "",
                "client_id": client_id,
                "object_id": principal.object_id if principal else "",
                "tenant_id": principal.tenant_id if principal else "",
                "principal_type": principal.kind if principal else "",
                "auth": issued.auth if issued else "",
                "subscription": "",
                "correlation_id": "",
                "request_id": "",
                "retry_after": 0,
                "body_sha256": "",
                "body": None,
                "fault": "",
            }
        )

    def _entra_answer(self, request: web.Request, answer: Any) -> web.Response:
        self._entra_log(request, 200)
        return web.json_response(answer)

    def _entra_error(self, request: web.Request, error: TokenError, client_id: str = "") -> web.Response:
        self._entra_log(request, error.status, client_id)
        return web.json_response(error.body(), status=error.status)

    async def _instance_discovery(self, request: web.Request) -> web.Response:
        try:
            answer = self.entra.instance_discovery(request.query.get("authorization_endpoint", ""))
        except TokenError as exc:
            return self._entra_error(request, exc)
        return self._entra_answer(request, answer)

    async def _openid(self, request: web.Request) -> web.Response:
        try:
            answer = self.entra.openid_configuration(request.match_info["tenant"])
        except TokenError as exc:
            return self._entra_error(request, exc)
        return self._entra_answer(request, answer)

    async def _jwks(self, request: web.Request) -> web.Response:
        return self._entra_answer(request, self.entra.jwks())

    async def _token(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        client_id = form.get("client_id", "")
        try:
            issued = self.entra.token(request.match_info["tenant"], form)
        except TokenError as exc:
            return self._entra_error(request, exc, client_id)
        self._entra_log(request, 200, client_id, issued)
        return web.json_response(issued.answer)

    async def _admin(self, request: web.Request) -> web.Response:
        supplied = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(supplied, self.admin_token):
            return web.json_response({"error": "admin token required"}, status=401)
        body: Any = await request.json() if request.can_read_body else {}
        route = (request.method, request.match_info["tail"].strip("/"))
        handler = admin.ROUTES.get(route)
        if handler is None:
            return web.json_response(
                {"error": f"no admin route {route[0]} /_emulator/{route[1]}"}, status=404
            )
        try:
            result = handler(self, request, body or {})
        except (KeyError, ValueError, TypeError) as exc:
            return web.json_response({"error": f"bad admin request: {exc!r}"}, status=400)
        return web.json_response(result)

    def reset(self) -> None:
        """Back to the start-up state: no connections, only the configured workspaces and principals (as
        configured), an empty log, no faults or denials, fresh buckets, settings from the config.

        Principals registered later stay, and so do tokens already issued, so credentials handed out
        before the reset keep working.
        """
        self.store.connections.clear()
        self.store.workspaces.clear()
        self.store.resource_groups.clear()
        self.store.subscriptions.clear()
        self.log.entries.clear()
        self.log.counters.clear()
        self.faults.configure({"seed": 0, "rules": []})
        self.faults.injected.clear()
        self.authorization.deny = []
        self.throttling.reset()
        self.throttling.configure(self.config.throttle)
        self.arm_config.page_size = self.config.page_size
        self.arm_config.echo_body_in_errors = False
        self.arm_config.max_name_length = self.config.max_name_length
        self.arm_config.added_metadata = copy.deepcopy(self.config.added_metadata)
        self.entra.token_ttl = self.config.token_ttl
        for principal in self.configured:
            self.entra.directory.add(copy.deepcopy(principal))
        for ws in self.config.workspaces:
            self.add_workspace(ws)
