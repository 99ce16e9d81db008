"""Entra ID as azure-identity and MSAL use it: the real async ClientSecretCredential and
WorkloadIdentityCredential (token endpoint only), the sync ClientSecretCredential (MSAL: OpenID
configuration), MSAL's instance discovery, the tokens' claims and signature, and Entra's error answers."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import jwt
import msal  # type: ignore[import-untyped]
import pytest
from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import ClientSecretCredential
from azure.identity.aio import ClientSecretCredential as AsyncClientSecretCredential
from azure.identity.aio import WorkloadIdentityCredential
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.emulator.support import CONNECTIONS, azure_identity_token, trust
from wsconn_testbed.emulator.client import EmulatorClient

ISSUER = "https://oidc.cluster.example.test/issuer"
SUBJECT = "system:serviceaccount:wsconn-system:wsconn-operator"
FEDERATED_CLIENT = "7d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6"


def _scope(emu: EmulatorClient) -> str:
    return str(emu.info["audience"]).rstrip("/") + "/.default"


def _first_client(emu: EmulatorClient) -> tuple[str, str]:
    client_id, secret = next(iter(emu.info["clients"].items()))
    return str(client_id), str(secret)


def _arm_status(emu: EmulatorClient, token: str) -> int:
    answer = httpx.get(
        emu.info["arm_endpoint"] + CONNECTIONS,
        params={"api-version": "2025-06-01"},
        headers={"Authorization": f"Bearer {token}"},
        verify=trust(emu.info),
    )
    return answer.status_code


def _token_request(emu: EmulatorClient, form: dict[str, str], tenant: str | None = None) -> httpx.Response:
    return httpx.post(
        f"{emu.info['authority_host']}/{tenant or emu.info['tenant_id']}/oauth2/v2.0/token",
        data=form,
        verify=trust(emu.info),
    )


def _assertion(
    *, issuer: str = ISSUER, subject: str = SUBJECT, audience: Any = None, lifetime: int = 600
) -> str:
    """A service-account token as the kubelet projects it (signed by a key the emulator does not know)."""
    now = int(time.time())
    claims = {
        "iss": issuer,
        "sub": subject,
        "aud": audience if audience is not None else ["api://AzureADTokenExchange"],
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
    }
    return jwt.encode(claims, rsa.generate_private_key(65537, 2048), algorithm="RS256")


@pytest.fixture
def federated(emu: EmulatorClient) -> str:
    """A federated app registration (Workload Identity); returns its client id."""
    registered = emu.admin(
        "POST",
        "clients",
        {"client_id": FEDERATED_CLIENT, "federated_issuer": ISSUER, "federated_subject": SUBJECT},
    )
    assert (registered["client_id"], registered["secret"], registered["secrets"]) == (FEDERATED_CLIENT, "", 0)
    return FEDERATED_CLIENT


# --- azure-identity, async: only the token endpoint ---


def test_async_client_secret_credential(emu: EmulatorClient) -> None:
    client_id, secret = _first_client(emu)
    since = emu.last_seq()
    issued = azure_identity_token(emu.info, client_id, secret)
    assert issued.expires_on > time.time() + 3000
    token = issued.token
    assert _arm_status(emu, token) == 200
    entra = [(e["method"], e["path"]) for e in emu.requests(since=since, kind="entra")]
    assert entra == [("POST", f"/{emu.info['tenant_id']}/oauth2/v2.0/token")]
    [arm] = emu.requests(since=since)
    assert arm["client_id"] == client_id


def test_async_workload_identity_credential(emu: EmulatorClient, federated: str, tmp_path: Path) -> None:
    token_file = tmp_path / "azure-identity-token"
    token_file.write_text(_assertion())

    async def fetch() -> str:
        async with WorkloadIdentityCredential(
            tenant_id=emu.info["tenant_id"],
            client_id=federated,
            token_file_path=str(token_file),
            authority=emu.info["authority_host"],
            connection_verify=emu.info["trust_bundle"],
        ) as credential:
            return (await credential.get_token(_scope(emu))).token

    since = emu.last_seq()
    token = asyncio.run(fetch())
    assert jwt.decode(token, options={"verify_signature": False})["appid"] == federated
    assert _arm_status(emu, token) == 200
    [arm] = emu.requests(since=since)
    assert arm["client_id"] == federated


def test_async_credential_errors_surface_entra_codes(
    emu: EmulatorClient, federated: str, tmp_path: Path
) -> None:
    client_id, secret = _first_client(emu)
    token_file = tmp_path / "token"
    token_file.write_text(_assertion(subject="system:serviceaccount:other:sa"))

    kw: dict[str, Any] = {
        "authority": emu.info["authority_host"],
        "connection_verify": emu.info["trust_bundle"],
    }

    async def attempt() -> list[str]:
        messages = []
        cases: list[tuple[AsyncTokenCredential, str]] = [
            (
                AsyncClientSecretCredential(emu.info["tenant_id"], client_id, secret, **kw),
                "https://management.azure.com/.default",
            ),
            (AsyncClientSecretCredential(emu.info["tenant_id"], client_id, "wrong", **kw), _scope(emu)),
            (
                WorkloadIdentityCredential(
                    tenant_id=emu.info["tenant_id"],
                    client_id=federated,
                    token_file_path=str(token_file),
                    **kw,
                ),
                _scope(emu),
            ),
        ]
        for credential, scope in cases:
            async with credential:
                with pytest.raises(ClientAuthenticationError) as raised:
                    await credential.get_token(scope)
                messages.append(str(raised.value))
        return messages

    wrong_audience, wrong_secret, wrong_subject = asyncio.run(attempt())
    assert "AADSTS500011" in wrong_audience
    assert "AADSTS7000215" in wrong_secret
    assert "AADSTS70021" in wrong_subject


# --- azure-identity, sync (MSAL) ---


def test_sync_client_secret_credential_reads_openid_configuration(emu: EmulatorClient) -> None:
    client_id, secret = _first_client(emu)
    since = emu.last_seq()
    credential = ClientSecretCredential(
        emu.info["tenant_id"],
        client_id,
        secret,
        authority=emu.info["authority_host"],
        connection_verify=emu.info["trust_bundle"],
        disable_instance_discovery=True,  # otherwise MSAL asks login.microsoftonline.com about the host
    )
    token = credential.get_token(_scope(emu))
    credential.close()
    assert _arm_status(emu, token.token) == 200
    tenant = emu.info["tenant_id"]
    entra = [(e["method"], e["path"], e["status"]) for e in emu.requests(since=since, kind="entra")]
    assert entra == [
        ("GET", f"/{tenant}/v2.0/.well-known/openid-configuration", 200),
        ("POST", f"/{tenant}/oauth2/v2.0/token", 200),
    ]


def test_msal_instance_discovery(emu: EmulatorClient, monkeypatch: pytest.MonkeyPatch) -> None:
    # requests prefers REQUESTS_CA_BUNDLE from the environment over a session's `verify`.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", emu.info["trust_bundle"])
    client_id, secret = _first_client(emu)
    host, tenant = emu.info["authority_host"], emu.info["tenant_id"]
    since = emu.last_seq()
    app = msal.ConfidentialClientApplication(
        client_id,
        client_credential=secret,
        authority=f"{host}/{tenant}",
        instance_discovery=f"{host}/common/discovery/instance",
        verify=emu.info["trust_bundle"],
    )
    result = app.acquire_token_for_client(scopes=[_scope(emu)])
    assert "access_token" in result, result
    assert _arm_status(emu, result["access_token"]) == 200
    entra = [(e["method"], e["path"]) for e in emu.requests(since=since, kind="entra")]
    assert entra == [
        ("GET", "/common/discovery/instance"),
        ("GET", f"/{tenant}/v2.0/.well-known/openid-configuration"),
        ("POST", f"/{tenant}/oauth2/v2.0/token"),
    ]


def test_discovery_documents(emu: EmulatorClient) -> None:
    host, tenant = emu.info["authority_host"], emu.info["tenant_id"]
    config = httpx.get(
        f"{host}/{tenant}/v2.0/.well-known/openid-configuration", verify=trust(emu.info)
    ).json()
    assert config["issuer"] == f"{host}/{tenant}/v2.0"
    assert config["token_endpoint"] == f"{host}/{tenant}/oauth2/v2.0/token"
    assert config["authorization_endpoint"].startswith(f"{host}/{tenant}/")
    assert config["jwks_uri"] == f"{host}/{tenant}/discovery/v2.0/keys"
    discovery = httpx.get(
        f"{host}/common/discovery/instance",
        params={
            "api-version": "1.1",
            "authorization_endpoint": f"https://127.0.0.1/{tenant}/oauth2/v2.0/authorize",
        },
        verify=trust(emu.info),
    ).json()
    assert discovery["tenant_discovery_endpoint"] == f"{host}/{tenant}/v2.0/.well-known/openid-configuration"
    assert discovery["metadata"][0]["aliases"] == [host.removeprefix("https://")]


# --- tokens ---


def test_token_claims_and_signature(emu: EmulatorClient) -> None:
    client_id, secret = _first_client(emu)
    answer = _token_request(
        emu,
        {
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": secret,
            "scope": _scope(emu),
        },
    )
    assert answer.status_code == 200
    issued = answer.json()
    assert issued["token_type"] == "Bearer"
    assert issued["expires_in"] == 3600
    tenant = emu.info["tenant_id"]
    keys = httpx.get(
        f"{emu.info['authority_host']}/{tenant}/discovery/v2.0/keys", verify=trust(emu.info)
    ).json()
    header = jwt.get_unverified_header(issued["access_token"])
    [key] = [k for k in keys["keys"] if k["kid"] == header["kid"]]
    claims = jwt.decode(
        issued["access_token"],
        jwt.PyJWK(key).key,
        algorithms=["RS256"],
        audience=emu.info["audience"],
        issuer=f"{emu.info['authority_host']}/{tenant}/v2.0",
    )
    assert (claims["tid"], claims["appid"]) == (tenant, client_id)
    assert claims["exp"] - claims["iat"] == 3600


def test_federated_assertion_is_exchanged(emu: EmulatorClient, federated: str) -> None:
    form = {
        "grant_type": "client_credentials",
        "client_id": federated,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": _assertion(audience="api://AzureADTokenExchange"),
        "scope": _scope(emu),
    }
    answer = _token_request(emu, form)
    assert answer.status_code == 200, answer.text
    assert _arm_status(emu, answer.json()["access_token"]) == 200


ASSERTION = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@pytest.mark.parametrize(
    ("change", "status", "error", "aadsts"),
    [
        ({"scope": "https://management.azure.com/.default"}, 400, "invalid_resource", 500011),
        (
            {"scope": "https://management.emulator.wsconn.test/user_impersonation"},
            400,
            "invalid_scope",
            1002012,
        ),
        (
            {"scope": "https://management.emulator.wsconn.test/.default https://graph.test/.default"},
            400,
            "invalid_scope",
            70011,
        ),
        ({"scope": "openid profile"}, 400, "invalid_scope", 70011),
        ({"client_secret": "not-the-secret"}, 401, "invalid_client", 7000215),
        ({"client_id": str(uuid.uuid4())}, 400, "unauthorized_client", 700016),
        ({"grant_type": "authorization_code"}, 400, "unsupported_grant_type", 70003),
        ({"tenant": str(uuid.uuid4())}, 400, "invalid_request", 90002),
        ({"client_secret": None}, 401, "invalid_client", 7000218),
    ],
    ids=[
        "audience",
        "scope-not-default",
        "two-resources",
        "only-oidc-scopes",
        "secret",
        "client",
        "grant",
        "tenant",
        "no-credential",
    ],
)
def test_token_errors(
    emu: EmulatorClient, change: dict[str, Any], status: int, error: str, aadsts: int
) -> None:
    client_id, secret = _first_client(emu)
    form = {
        "grant_type": "client_credentials",
        "client_id": client_id,
        "client_secret": secret,
        "scope": _scope(emu),
    }
    tenant = change.pop("tenant", None)
    form.update(change)
    answer = _token_request(emu, {k: v for k, v in form.items() if v is not None}, tenant)
    assert answer.status_code == status
    payload = answer.json()
    assert payload["error"] == error
    assert payload["error_codes"] == [aadsts]
    assert payload["error_description"].startswith(f"AADSTS{aadsts}:")
    assert {"timestamp", "trace_id", "correlation_id"} <= set(payload)
    assert secret not in answer.text


@pytest.mark.parametrize(
    ("assertion", "aadsts"),
    [
        (lambda: _assertion(subject="system:serviceaccount:default:other"), 70021),
        (lambda: _assertion(issuer="https://someone.else/issuer"), 70021),
        (lambda: _assertion(audience="api://SomethingElse"), 70021),
        (lambda: _assertion(lifetime=-60), 700024),
        (lambda: "not-a-jwt", 50027),
    ],
    ids=["subject", "issuer", "audience", "expired", "malformed"],
)
def test_federated_assertion_errors(emu: EmulatorClient, federated: str, assertion: Any, aadsts: int) -> None:
    form = {
        "grant_type": "client_credentials",
        "client_id": federated,
        "client_assertion_type": ASSERTION,
        "client_assertion": assertion(),
        "scope": _scope(emu),
    }
    answer = _token_request(emu, form)
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_client"
    assert answer.json()["error_codes"] == [aadsts]


def test_assertion_for_a_client_without_federation(emu: EmulatorClient) -> None:
    client_id, _ = _first_client(emu)
    form = {
        "grant_type": "client_credentials",
        "client_id": client_id,
        "client_assertion_type": ASSERTION,
        "client_assertion": _assertion(),
        "scope": _scope(emu),
    }
    assert _token_request(emu, form).json()["error_codes"] == [70021]


def test_registered_client_gets_a_generated_secret(emu: EmulatorClient) -> None:
    client_id = str(uuid.uuid4())
    registered = emu.admin("POST", "clients", {"client_id": client_id})
    assert len(registered["secret"]) >= 32
    form = {
        "grant_type": "client_credentials",
        "client_id": client_id,
        "client_secret": registered["secret"],
        "scope": _scope(emu),
    }
    token = _token_request(emu, form).json()["access_token"]
    assert _arm_status(emu, token) == 200
    emu.admin("POST", "reset")
    assert _arm_status(emu, token) == 200  # clients and their tokens survive a reset
    assert emu.admin("GET", "counters")["tokens_issued"] >= 1
