"""The emulator's HTTPS server: Entra ID, ARM and the admin API on one loopback port.

Entra answers under `/{tenant}/...` and `/common/discovery/instance`, ARM under `/subscriptions/...`, and
the admin API under `/_emulator/...` (bearer admin token, printed only in the ready file). The TLS
certificate comes from a CA generated at start into the state directory; the ready file names a trust
bundle (system CAs + that CA) for SSL_CERT_FILE.
"""

from __future__ import annotations

import hmac
import json
import secrets
import ssl
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from wsconn_testbed import pki
from wsconn_testbed.emulator import contract
from wsconn_testbed.emulator.arm import Arm, ArmConfig
from wsconn_testbed.emulator.control import Authorization, Faults, RequestLog, Throttling
from wsconn_testbed.emulator.entra import Client, Entra, TokenError
from wsconn_testbed.emulator.state import Store, now_iso

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
    clients: list[dict[str, str]] = field(default_factory=list)
    workspaces: list[dict[str, str]] = field(default_factory=lambda: [dict(DEFAULT_WORKSPACE)])
    throttle: dict[str, Any] = field(default_factory=dict)
    token_ttl: int = 3600
    page_size: int = 20
    log_limit: int = 200_000

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
        self.arm_config = ArmConfig(page_size=config.page_size)
        self.entra = Entra(authority="", audience=config.audience, token_ttl=config.token_ttl)
        self.client_secrets: dict[str, str] = {}
        self.arm = Arm(
            store=self.store,
            entra=self.entra,
            throttling=self.throttling,
            faults=self.faults,
            authorization=self.authorization,
            log=self.log,
            config=self.arm_config,
        )
        self._apply_initial()
        for raw in config.clients or [{"client_id": DEFAULT_CLIENT}]:
            self.add_client(raw)

    def _apply_initial(self) -> None:
        self.throttling.configure(self.config.throttle)
        for ws in self.config.workspaces:
            self.store.add_workspace(ws["subscription"], ws["resource_group"], ws["workspace"])

    def add_client(self, raw: dict[str, str]) -> Client:
        """Register an app; a client without a secret or federation gets a generated secret."""
        secret = raw.get("secret", "")
        if not secret and not raw.get("federated_issuer"):
            secret = secrets.token_urlsafe(32)
        client = Client(
            client_id=raw["client_id"],
            tenant_id=raw.get("tenant_id", self.config.tenant_id),
            object_id=raw.get("object_id", str(uuid.uuid5(uuid.NAMESPACE_URL, raw["client_id"]))),
            secret=secret,
            federated_issuer=raw.get("federated_issuer", ""),
            federated_subject=raw.get("federated_subject", ""),
        )
        self.entra.clients[client.client_id] = client
        if secret:
            self.client_secrets[client.client_id] = secret
        return client

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
        return {
            "port": port,
            "arm_endpoint": self.authority,
            "authority_host": self.authority,
            "audience": self.config.audience,
            "tenant_id": self.config.tenant_id,
            "clients": dict(self.client_secrets),
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

    def _entra_log(self, request: web.Request, status: int, client_id: str = "") -> None:
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
                "subscription": "",
                "correlation_id": "",
                "request_id": "",
                "retry_after": 0,
                "body_sha256": "",
                "body": None,
                "fault": "",
            }
        )

    async def _instance_discovery(self, request: web.Request) -> web.Response:
        self._entra_log(request, 200)
        return web.json_response(
            self.entra.instance_discovery(request.query.get("authorization_endpoint", ""))
        )

    async def _openid(self, request: web.Request) -> web.Response:
        self._entra_log(request, 200)
        return web.json_response(self.entra.openid_configuration(request.match_info["tenant"]))

    async def _jwks(self, request: web.Request) -> web.Response:
        self._entra_log(request, 200)
        return web.json_response(self.entra.jwks())

    async def _token(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        try:
            answer = self.entra.token(request.match_info["tenant"], form)
        except TokenError as exc:
            self._entra_log(request, exc.status, form.get("client_id", ""))
            return web.json_response(exc.body(), status=exc.status)
        self._entra_log(request, 200, form.get("client_id", ""))
        return web.json_response(answer)

    async def _admin(self, request: web.Request) -> web.Response:
        supplied = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(supplied, self.admin_token):
            return web.json_response({"error": "admin token required"}, status=401)
        body: Any = await request.json() if request.can_read_body else {}
        route = (request.method, request.match_info["tail"].strip("/"))
        handler = _ADMIN.get(route)
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
        """Back to the start-up state: no connections, empty log, no faults or denials, fresh buckets.

        Registered clients stay, so credentials handed out before the reset keep working.
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
        self.throttling.limits = Throttling().limits
        self.throttling.enabled = True
        self.throttling.throttled = 0
        self.arm_config.page_size = self.config.page_size
        self.arm_config.echo_body_in_errors = False
        self.entra.token_ttl = self.config.token_ttl
        self._apply_initial()


AdminHandler = Any


def _requests(emu: Emulator, request: web.Request, _: Any) -> Any:
    entries = emu.log.since(int(request.query.get("since", "0")))
    kind = request.query.get("kind")
    if kind:
        entries = [e for e in entries if e["kind"] == kind]
    return {"entries": entries, "last": emu.log.seq}


def _clear_requests(emu: Emulator, _: web.Request, __: Any) -> Any:
    emu.log.entries.clear()
    return {"last": emu.log.seq}


def _counters(emu: Emulator, _: web.Request, __: Any) -> Any:
    return {
        "requests": dict(emu.log.counters),
        "throttled": emu.throttling.throttled,
        "injected": dict(emu.faults.injected),
        "tokens_issued": emu.entra.issued,
        "connections": len(emu.store.connections),
    }


def _connections(emu: Emulator, request: web.Request, _: Any) -> Any:
    prefix = request.query.get("prefix", "").lower()
    return {
        "value": [
            {
                **c.resource(),
                "credentialFields": sorted(c.credentials or {}),
                "credentialDigest": c.credential_digest(),
                "writes": c.writes,
            }
            for c in emu.store.connections.values()
            if c.id.lower().startswith(prefix)
        ]
    }


def _edit_connection(emu: Emulator, _: web.Request, body: Any) -> Any:
    found = emu.store.find(body["id"])
    if found is None:
        raise KeyError(body["id"])
    connection = found[1]
    for key, value in body.get("properties", {}).items():
        if value is None:
            connection.properties.pop(key, None)
        else:
            connection.properties[key] = value
    if "credentials" in body:
        connection.credentials = body["credentials"]
    connection.modified_at, connection.modified_by = now_iso(), "out-of-band"
    return connection.resource()


def _delete_connection(emu: Emulator, _: web.Request, body: Any) -> Any:
    found = emu.store.find(body["id"])
    if found is not None:
        del emu.store.connections[found[0]]
    return {"deleted": found is not None}


def _add_workspace(emu: Emulator, _: web.Request, body: Any) -> Any:
    return {"id": emu.store.add_workspace(body["subscription"], body["resource_group"], body["workspace"])}


def _remove_workspace(emu: Emulator, _: web.Request, body: Any) -> Any:
    return {
        "connections_deleted": emu.store.remove_workspace(
            body["subscription"], body["resource_group"], body["workspace"]
        )
    }


def _remove_resource_group(emu: Emulator, _: web.Request, body: Any) -> Any:
    emu.store.remove_resource_group(body["subscription"], body["resource_group"])
    return {}


def _faults(emu: Emulator, _: web.Request, body: Any) -> Any:
    emu.faults.configure(body)
    return {"rules": len(emu.faults.rules)}


def _clear_faults(emu: Emulator, _: web.Request, __: Any) -> Any:
    emu.faults.configure({"rules": []})
    return {"injected": dict(emu.faults.injected)}


def _throttle(emu: Emulator, _: web.Request, body: Any) -> Any:
    emu.throttling.configure(body)
    return {"limits": emu.throttling.limits, "enabled": emu.throttling.enabled}


def _authorization(emu: Emulator, _: web.Request, body: Any) -> Any:
    emu.authorization.deny = [dict(rule) for rule in body.get("deny", [])]
    return {"deny": emu.authorization.deny}


def _settings(emu: Emulator, _: web.Request, body: Any) -> Any:
    if "page_size" in body:
        emu.arm_config.page_size = max(1, int(body["page_size"]))
    if "echo_body_in_errors" in body:
        emu.arm_config.echo_body_in_errors = bool(body["echo_body_in_errors"])
    if "token_ttl" in body:
        emu.entra.token_ttl = int(body["token_ttl"])
    return {
        "page_size": emu.arm_config.page_size,
        "echo_body_in_errors": emu.arm_config.echo_body_in_errors,
        "token_ttl": emu.entra.token_ttl,
    }


def _add_client(emu: Emulator, _: web.Request, body: Any) -> Any:
    client = emu.add_client(body)
    return {"client_id": client.client_id, "secret": client.secret}


def _reset(emu: Emulator, _: web.Request, __: Any) -> Any:
    emu.reset()
    return {}


_ADMIN: dict[tuple[str, str], AdminHandler] = {
    ("GET", "requests"): _requests,
    ("DELETE", "requests"): _clear_requests,
    ("GET", "counters"): _counters,
    ("GET", "connections"): _connections,
    ("PATCH", "connections"): _edit_connection,
    ("DELETE", "connections"): _delete_connection,
    ("PUT", "workspaces"): _add_workspace,
    ("DELETE", "workspaces"): _remove_workspace,
    ("DELETE", "resource-groups"): _remove_resource_group,
    ("PUT", "faults"): _faults,
    ("DELETE", "faults"): _clear_faults,
    ("PUT", "throttle"): _throttle,
    ("PUT", "authorization"): _authorization,
    ("PUT", "settings"): _settings,
    ("POST", "clients"): _add_client,
    ("POST", "reset"): _reset,
}
