"""The admin API (`/_emulator/...`): what tests set up and read besides ARM and Entra themselves.

Every handler takes the emulator, the request and the JSON body, and answers JSON. None ever answers a
credential value, except the secret of a registration or secret the same call created.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from wsconn_testbed.emulator import answers
from wsconn_testbed.emulator.principals import Certificate, Principal
from wsconn_testbed.emulator.state import Stamp, now_iso

if TYPE_CHECKING:
    from wsconn_testbed.emulator.server import Emulator

Handler = Callable[["Emulator", web.Request, Any], Any]


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
                **answers.resource(c, answers.LATEST),
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
    connection.modified = Stamp(now_iso(), "out-of-band", "Application")
    return answers.resource(connection, answers.LATEST)


def _delete_connection(emu: Emulator, _: web.Request, body: Any) -> Any:
    found = emu.store.find(body["id"])
    if found is not None:
        del emu.store.connections[found[0]]
    return {"deleted": found is not None}


def _add_workspace(emu: Emulator, _: web.Request, body: Any) -> Any:
    return {"id": emu.add_workspace(body)}


def _remove_workspace(emu: Emulator, _: web.Request, body: Any) -> Any:
    gone = emu.store.remove_workspace(body["subscription"], body["resource_group"], body["workspace"])
    return {"connections_deleted": gone}


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
    return {
        "limits": emu.throttling.limits,
        "global": emu.throttling.global_limits,
        "enabled": emu.throttling.enabled,
    }


def _authorization(emu: Emulator, _: web.Request, body: Any) -> Any:
    emu.authorization.deny = [dict(rule) for rule in body.get("deny", [])]
    return {"deny": emu.authorization.deny}


def _settings(emu: Emulator, _: web.Request, body: Any) -> Any:
    config = emu.arm_config
    if "page_size" in body:
        config.page_size = max(1, int(body["page_size"]))
    if "echo_body_in_errors" in body:
        config.echo_body_in_errors = bool(body["echo_body_in_errors"])
    if "token_ttl" in body:
        emu.entra.token_ttl = int(body["token_ttl"])
    if "max_name_length" in body:
        config.max_name_length = int(body["max_name_length"])
    if "added_metadata" in body:
        config.added_metadata = {str(k): dict(v) for k, v in body["added_metadata"].items()}
    return {
        "page_size": config.page_size,
        "echo_body_in_errors": config.echo_body_in_errors,
        "token_ttl": emu.entra.token_ttl,
        "max_name_length": config.max_name_length,
        "added_metadata": config.added_metadata,
    }


def _described(principal: Principal) -> dict[str, Any]:
    """A principal without its secrets: names, tenant, object id, scopes, how many secrets, which certificates."""
    key = "client_id" if principal.kind == "Application" else "username"
    return {
        key: principal.name,
        "kind": principal.kind,
        "tenant_id": principal.tenant_id,
        "object_id": principal.object_id,
        "scopes": list(principal.scopes),
        "secrets": len(principal.secrets),
        "certificates": [c.thumbprint for c in principal.certificates],
    }


def _add_client(emu: Emulator, _: web.Request, body: Any) -> Any:
    app = emu.entra.directory.add(emu.app_from(body))
    return {**_described(app), "secret": app.secrets[0] if app.secrets else ""}


def _add_user(emu: Emulator, _: web.Request, body: Any) -> Any:
    return _described(emu.entra.directory.add(emu.user_from(body)))


def _app(emu: Emulator, body: Any) -> Principal:
    app = emu.entra.directory.app(body["client_id"])
    if app is None:
        raise KeyError(body["client_id"])
    return app


def _principal(emu: Emulator, body: Any) -> Principal:
    if "client_id" in body:
        return _app(emu, body)
    user = emu.entra.directory.user(body["username"])
    if user is None:
        raise KeyError(body["username"])
    return user


def _add_secret(emu: Emulator, _: web.Request, body: Any) -> Any:
    app = _app(emu, body)
    secret = body.get("secret") or secrets.token_urlsafe(32)
    app.secrets.append(secret)
    return {**_described(app), "secret": secret}


def _revoke_secret(emu: Emulator, _: web.Request, body: Any) -> Any:
    app = _app(emu, body)
    app.secrets = [s for s in app.secrets if "secret" in body and s != body["secret"]]
    return _described(app)


def _add_certificate(emu: Emulator, _: web.Request, body: Any) -> Any:
    app = _app(emu, body)
    app.certificates.append(Certificate.load(body["certificate"]))
    return _described(app)


def _remove_certificate(emu: Emulator, _: web.Request, body: Any) -> Any:
    app = _app(emu, body)
    wanted = str(body.get("thumbprint", "")).upper()
    app.certificates = [c for c in app.certificates if wanted and c.thumbprint != wanted]
    return _described(app)


def _scopes(emu: Emulator, _: web.Request, body: Any) -> Any:
    principal = _principal(emu, body)
    principal.scopes = tuple(str(s) for s in body["scopes"])
    return _described(principal)


def _revoke_tokens(emu: Emulator, _: web.Request, body: Any) -> Any:
    principal = _principal(emu, body)
    return {**_described(principal), "revoked": emu.entra.directory.revoke_tokens(principal.object_id)}


def _reset(emu: Emulator, _: web.Request, __: Any) -> Any:
    emu.reset()
    return {}


ROUTES: dict[tuple[str, str], Handler] = {
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
    ("POST", "clients/secrets"): _add_secret,
    ("DELETE", "clients/secrets"): _revoke_secret,
    ("POST", "clients/certificates"): _add_certificate,
    ("DELETE", "clients/certificates"): _remove_certificate,
    ("POST", "users"): _add_user,
    ("PUT", "principals/scopes"): _scopes,
    ("POST", "principals/revoke-tokens"): _revoke_tokens,
    ("POST", "reset"): _reset,
}
