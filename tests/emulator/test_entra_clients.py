"""Entra as the clients the operator and its neighbours use send to it: azure-identity's certificate
credential (sync through MSAL: RS256 with `x5t`; async: PS256 with `x5t#S256`), MSAL for Go's request form
(the OIDC scopes it adds beside `/.default`, a standard-base64 `x5t`, numeric strings for `exp`/`nbf`),
MSAL's instance discovery and OpenID configuration for an authority Entra does not know, and the password
grant for users. Each answer is the one real Entra gives, down to the AADSTS code."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import time
import uuid
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt
import msal  # type: ignore[import-untyped]
import pytest
from azure.identity import CertificateCredential
from azure.identity.aio import CertificateCredential as AsyncCertificateCredential
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.emulator.support import CONNECTIONS, trust
from wsconn_testbed.emulator.client import EmulatorClient

OIDC = "openid offline_access profile"


@pytest.fixture
def cert_client(emu: EmulatorClient, certificate: tuple[str, str]) -> str:
    """An app registered with a certificate only; returns its client id."""
    client_id = str(uuid.uuid4())
    registered = emu.admin("POST", "clients", {"client_id": client_id, "certificates": [certificate[0]]})
    assert (registered["secret"], len(registered["certificates"])) == ("", 1)
    return client_id


def _token_url(emu: EmulatorClient, tenant: str | None = None) -> str:
    return f"{emu.info['authority_host']}/{tenant or emu.info['tenant_id']}/oauth2/v2.0/token"


def _post(emu: EmulatorClient, form: dict[str, str], tenant: str | None = None) -> httpx.Response:
    return httpx.post(_token_url(emu, tenant), data=form, verify=trust(emu.info))


def _arm_status(emu: EmulatorClient, token: str) -> int:
    return emu.arm("GET", CONNECTIONS, bearer=token).status_code


def _go_assertion(emu: EmulatorClient, client_id: str, key_pem: str, cert_pem: str, **claims: Any) -> str:
    """A client assertion exactly as MSAL for Go builds one (accesstokens.Credential.JWT)."""
    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    thumbprint = hashlib.sha1(cert.public_bytes(serialization.Encoding.DER)).digest()
    now = int(time.time())
    payload = {
        "aud": _token_url(emu),
        "exp": str(now + 600),
        "iss": client_id,
        "jti": str(uuid.uuid4()),
        "nbf": str(now),
        "sub": client_id,
        **claims,
    }
    headers = {"alg": "RS256", "typ": "JWT", "x5t": base64.b64encode(thumbprint).decode()}
    key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    return jwt.encode(payload, key, algorithm="RS256", headers=headers)  # type: ignore[arg-type]


# --- OIDC scopes and MSAL for Go's request form ---


def test_oidc_scopes_beside_default_are_ignored(emu: EmulatorClient) -> None:
    client_id, secret = next(iter(emu.info["clients"].items()))
    for scope in (f"{emu.scope()} {OIDC}", f"openid {emu.scope()} profile", f"{emu.scope()} email"):
        form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
        answer = _post(emu, {**form, "scope": scope})
        assert answer.status_code == 200, answer.text
        assert _arm_status(emu, answer.json()["access_token"]) == 200


def test_msal_for_go_request_form_with_a_secret(emu: EmulatorClient) -> None:
    # accesstokens.Client.FromClientSecret: url.Values encoded (keys sorted), scopes joined by spaces with
    # openid, offline_access and profile appended, as Go's URLFormCall posts it.
    client_id, secret = next(iter(emu.info["clients"].items()))
    form = {"client_id": client_id, "client_secret": secret, "grant_type": "client_credentials"}
    content = urlencode({**form, "scope": f"{emu.scope()} {OIDC}"})
    answer = httpx.post(
        _token_url(emu),
        content=content.encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        verify=trust(emu.info),
    )
    assert answer.status_code == 200, answer.text
    assert _arm_status(emu, answer.json()["access_token"]) == 200


def test_msal_for_go_certificate_assertion(
    emu: EmulatorClient, cert_client: str, certificate: tuple[str, str]
) -> None:
    # accesstokens.Client.FromAssertion: client_info=1 and the assertion of Credential.JWT (x5t in standard
    # base64, exp and nbf as strings).
    assertion = _go_assertion(emu, cert_client, certificate[1], certificate[0])
    form = {
        "client_assertion": assertion,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_id": cert_client,
        "client_info": "1",
        "grant_type": "client_credentials",
        "scope": f"{emu.scope()} {OIDC}",
    }
    answer = _post(emu, form)
    assert answer.status_code == 200, answer.text
    token = answer.json()["access_token"]
    assert jwt.decode(token, options={"verify_signature": False})["appid"] == cert_client
    assert _arm_status(emu, token) == 200


# --- certificate credentials through azure-identity ---


def test_sync_certificate_credential(
    emu: EmulatorClient, cert_client: str, certificate: tuple[str, str]
) -> None:
    since = emu.last_seq()
    credential = CertificateCredential(
        emu.info["tenant_id"],
        cert_client,
        certificate_data=(certificate[0] + certificate[1]).encode(),
        authority=emu.info["authority_host"],
        connection_verify=emu.info["trust_bundle"],
        disable_instance_discovery=True,
    )
    token = credential.get_token(emu.scope())
    credential.close()
    assert _arm_status(emu, token.token) == 200
    [issued] = [e for e in emu.requests(since=since, kind="entra") if e["path"].endswith("/token")]
    # MSAL, given the SHA-1 thumbprint azure-identity computes, signs RS256 and names the certificate by x5t.
    assert (issued["status"], issued["client_id"], issued["auth"]) == (
        200,
        cert_client,
        "certificate RS256 x5t",
    )


def test_async_certificate_credential(
    emu: EmulatorClient, cert_client: str, certificate: tuple[str, str]
) -> None:
    async def fetch() -> str:
        async with AsyncCertificateCredential(
            emu.info["tenant_id"],
            cert_client,
            certificate_data=(certificate[0] + certificate[1]).encode(),
            authority=emu.info["authority_host"],
            connection_verify=emu.info["trust_bundle"],
        ) as credential:
            return (await credential.get_token(emu.scope())).token

    since = emu.last_seq()
    assert _arm_status(emu, asyncio.run(fetch())) == 200
    [issued] = [e for e in emu.requests(since=since, kind="entra") if e["path"].endswith("/token")]
    assert issued["auth"] == "certificate PS256 x5t#S256"


def _with_cert(emu: EmulatorClient, client_id: str, assertion: str) -> httpx.Response:
    form = {
        "grant_type": "client_credentials",
        "client_id": client_id,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion,
        "scope": emu.scope(),
    }
    return _post(emu, form)


def test_certificate_assertion_errors(
    emu: EmulatorClient, cert_client: str, certificate: tuple[str, str]
) -> None:
    cert_pem, key_pem = certificate
    other_key = rsa.generate_private_key(65537, 2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    good = _go_assertion(emu, cert_client, key_pem, cert_pem)
    header, _, signature = good.split(".")
    changed = {**jwt.decode(good, options={"verify_signature": False}), "jti": "another"}
    payload = base64.urlsafe_b64encode(json.dumps(changed).encode()).rstrip(b"=").decode()
    forged = jwt.encode(
        jwt.decode(good, options={"verify_signature": False}),
        serialization.load_pem_private_key(other_key, password=None),  # type: ignore[arg-type]
        algorithm="RS256",
        headers=jwt.get_unverified_header(good),
    )
    cases = {
        "wrong-signature": (forged, 700027),
        "tampered": (f"{header}.{payload}.{signature}", 700027),
        "malformed": (f"{header}.{payload}x.{signature}", 50027),
        "audience": (
            _go_assertion(emu, cert_client, key_pem, cert_pem, aud="https://login.test/t/token"),
            700023,
        ),
        "subject": (_go_assertion(emu, cert_client, key_pem, cert_pem, sub="someone-else"), 700021),
        "expired": (
            _go_assertion(emu, cert_client, key_pem, cert_pem, exp=str(int(time.time()) - 60)),
            700024,
        ),
    }
    for case, (assertion, aadsts) in cases.items():
        answer = _with_cert(emu, cert_client, assertion)
        assert (answer.status_code, answer.json()["error_codes"]) == (
            400 if aadsts == 50027 else 401,
            [aadsts],
        ), case
    assert _with_cert(emu, cert_client, good).status_code == 200
    emu.admin("DELETE", "clients/certificates", {"client_id": cert_client})
    removed = _with_cert(emu, cert_client, _go_assertion(emu, cert_client, key_pem, cert_pem))
    assert removed.json()["error_codes"] == [700027]
    assert "is not registered on application" in removed.json()["error_description"]


def test_certificate_added_to_a_secret_client(emu: EmulatorClient, certificate: tuple[str, str]) -> None:
    client_id = str(uuid.uuid4())
    emu.admin("POST", "clients", {"client_id": client_id})
    assert _with_cert(emu, client_id, _go_assertion(emu, client_id, certificate[1], certificate[0])).json()[
        "error_codes"
    ] == [700027]
    added = emu.admin("POST", "clients/certificates", {"client_id": client_id, "certificate": certificate[0]})
    thumbprint = x509.load_pem_x509_certificate(certificate[0].encode()).fingerprint(hashes.SHA1())
    assert added["certificates"] == [thumbprint.hex().upper()]
    assert (
        _with_cert(emu, client_id, _go_assertion(emu, client_id, certificate[1], certificate[0])).status_code
        == 200
    )


# --- discovery for an authority Entra does not know ---


def test_instance_discovery_refuses_an_unknown_instance(emu: EmulatorClient) -> None:
    answer = httpx.get(
        f"{emu.info['authority_host']}/common/discovery/instance",
        params={
            "api-version": "1.1",
            "authorization_endpoint": "https://login.contoso.test/t/oauth2/v2.0/authorize",
        },
        verify=trust(emu.info),
    )
    assert answer.status_code == 400
    assert (answer.json()["error"], answer.json()["error_codes"]) == ("invalid_instance", [50049])


def test_msal_refuses_an_authority_its_discovery_does_not_know(
    emu: EmulatorClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # MSAL asks the discovery endpoint about the authority's host; for a host Entra does not know, Entra
    # answers invalid_instance and MSAL refuses the authority (users pass instance_discovery=False).
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", emu.info["trust_bundle"])
    client_id, secret = next(iter(emu.info["clients"].items()))
    other_host = emu.info["authority_host"].replace("127.0.0.1", "localhost")
    with pytest.raises(ValueError, match="invalid_instance"):
        msal.ConfidentialClientApplication(
            client_id,
            client_credential=secret,
            authority=f"{other_host}/{emu.info['tenant_id']}",
            instance_discovery=f"{emu.info['authority_host']}/common/discovery/instance",
            verify=emu.info["trust_bundle"],
        )


def test_openid_configuration_of_tenants(emu: EmulatorClient) -> None:
    host, tenant = emu.info["authority_host"], emu.info["tenant_id"]

    def config(name: str) -> httpx.Response:
        return httpx.get(f"{host}/{name}/v2.0/.well-known/openid-configuration", verify=trust(emu.info))

    known = config(tenant).json()
    assert known["issuer"] == f"{host}/{tenant}/v2.0"
    assert {"private_key_jwt", "client_secret_post"} <= set(known["token_endpoint_auth_methods_supported"])
    assert known["scopes_supported"] == ["openid", "profile", "email", "offline_access"]
    common = config("common").json()
    assert common["issuer"] == f"{host}/{{tenantid}}/v2.0"
    assert common["token_endpoint"] == f"{host}/common/oauth2/v2.0/token"
    unknown = config(str(uuid.uuid4()))
    assert unknown.status_code == 400
    assert (unknown.json()["error"], unknown.json()["error_codes"]) == ("invalid_tenant", [90002])


# --- users: the password grant ---


def test_password_grant_for_users(emu: EmulatorClient) -> None:
    emu.admin("POST", "users", {"username": "Alice@Example.test", "password": "pw-1"})
    token = emu.user_token("alice@example.test", "pw-1")
    claims = jwt.decode(token, options={"verify_signature": False})
    assert (claims["idtyp"], claims["upn"], claims["scp"]) == (
        "user",
        "Alice@Example.test",
        "user_impersonation",
    )
    assert _arm_status(emu, token) == 200
    form = {"grant_type": "password", "client_id": next(iter(emu.info["clients"])), "scope": emu.scope()}
    wrong = _post(emu, {**form, "username": "alice@example.test", "password": "nope"})
    assert (wrong.status_code, wrong.json()["error"], wrong.json()["error_codes"]) == (
        400,
        "invalid_grant",
        [50126],
    )
    other_tenant = str(uuid.uuid4())
    emu.admin("POST", "users", {"username": "bob@example.test", "password": "pw", "tenant_id": other_tenant})
    misplaced = _post(emu, {**form, "username": "bob@example.test", "password": "pw"})
    assert misplaced.json()["error_codes"] == [50034]
