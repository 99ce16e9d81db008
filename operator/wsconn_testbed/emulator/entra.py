"""Microsoft Entra ID, as far as azure-identity needs it: OpenID configuration, instance discovery, JWKS and
the v2.0 token endpoint for client credentials (secret, or a federated assertion as Workload Identity sends).

Tokens are RS256 JWTs carrying issuer, audience, tenant, application id and expiry; ARM verifies them with
the same key. Errors use Entra's JSON shape with AADSTS codes, so azure-identity reports them as it would in
Azure.
"""

from __future__ import annotations

import base64
import datetime as dt
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

FEDERATED_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"


@dataclass(frozen=True)
class Client:
    """An app registration: a secret, or a federated credential (issuer + subject), or both."""

    client_id: str
    tenant_id: str
    object_id: str
    secret: str = ""
    federated_issuer: str = ""
    federated_subject: str = ""


class TokenError(Exception):
    """An Entra error response."""

    def __init__(self, status: int, error: str, code: int, description: str) -> None:
        super().__init__(description)
        self.status, self.error, self.code, self.description = status, error, code, description

    def body(self) -> dict[str, Any]:
        """Entra's error JSON."""
        return {
            "error": self.error,
            "error_description": f"AADSTS{self.code}: {self.description}",
            "error_codes": [self.code],
            "timestamp": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ"),
            "trace_id": str(uuid.uuid4()),
            "correlation_id": str(uuid.uuid4()),
        }


class InvalidToken(Exception):
    """A bearer token ARM refuses; `expired` tells an expired one apart."""

    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


@dataclass
class Entra:
    """Issues and verifies tokens for one emulated cloud."""

    authority: str
    audience: str
    clients: dict[str, Client] = field(default_factory=dict)
    token_ttl: int = 3600
    key: rsa.RSAPrivateKey = field(default_factory=lambda: rsa.generate_private_key(65537, 2048))
    kid: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    issued: int = 0

    def issuer(self, tenant: str) -> str:
        """The `iss` of tokens for a tenant (v2.0 endpoint)."""
        return f"{self.authority}/{tenant}/v2.0"

    def openid_configuration(self, tenant: str) -> dict[str, Any]:
        """The tenant's OpenID configuration document."""
        base = f"{self.authority}/{tenant}"
        return {
            "issuer": self.issuer(tenant),
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "jwks_uri": f"{base}/discovery/v2.0/keys",
            "response_types_supported": ["code", "id_token", "token"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"],
            "tenant_region_scope": "WW",
        }

    def instance_discovery(self, authorization_endpoint: str = "") -> dict[str, Any]:
        """MSAL's instance discovery answer: this host is its own authority.

        As Entra does, the tenant discovery endpoint names the tenant of the `authorization_endpoint` the
        client asked about (MSAL then reads that tenant's OpenID configuration); `common` when none is given.
        """
        host = self.authority.split("://", 1)[1]
        segments = [s for s in urlparse(authorization_endpoint).path.split("/") if s]
        tenant = segments[0] if segments else "common"
        return {
            "tenant_discovery_endpoint": f"{self.authority}/{tenant}/v2.0/.well-known/openid-configuration",
            "api-version": "1.1",
            "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}],
        }

    def jwks(self) -> dict[str, Any]:
        """The signing key as a JWKS."""
        numbers = self.key.public_key().public_numbers()

        def b64(value: int) -> str:
            raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
            return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

        return {
            "keys": [
                {
                    "kty": "RSA",
                    "use": "sig",
                    "alg": "RS256",
                    "kid": self.kid,
                    "n": b64(numbers.n),
                    "e": b64(numbers.e),
                }
            ]
        }

    def token(self, tenant: str, form: dict[str, str]) -> dict[str, Any]:
        """Answer a token request (client_credentials grant) or raise TokenError."""
        if form.get("grant_type") != "client_credentials":
            raise TokenError(
                400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type."
            )
        client = self.clients.get(form.get("client_id", ""))
        if client is None:
            raise TokenError(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{form.get('client_id', '')}' was not found in the directory.",
            )
        if client.tenant_id.lower() != tenant.lower():
            raise TokenError(400, "invalid_request", 90002, f"Tenant '{tenant}' not found.")
        self._authenticate(client, form)
        scope = form.get("scope", "")
        resource = scope.removesuffix("/.default").rstrip("/")
        if not scope.endswith("/.default") or resource != self.audience.rstrip("/"):
            raise TokenError(
                400,
                "invalid_resource",
                500011,
                f"The resource principal named {resource or '(none)'} was not found in the tenant.",
            )
        now = int(time.time())
        claims = {
            "iss": self.issuer(tenant),
            "aud": self.audience,
            "tid": client.tenant_id,
            "appid": client.client_id,
            "azp": client.client_id,
            "oid": client.object_id,
            "sub": client.object_id,
            "iat": now,
            "nbf": now,
            "exp": now + self.token_ttl,
            "idtyp": "app",
            "ver": "2.0",
        }
        self.issued += 1
        access = jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.kid})
        return {
            "token_type": "Bearer",
            "expires_in": self.token_ttl,
            "ext_expires_in": self.token_ttl,
            "access_token": access,
        }

    def _authenticate(self, client: Client, form: dict[str, str]) -> None:
        if "client_secret" in form:
            if not client.secret or form["client_secret"] != client.secret:
                raise TokenError(
                    401,
                    "invalid_client",
                    7000215,
                    f"Invalid client secret provided. Ensure the secret being sent in the request is the "
                    f"client secret value, not the client secret ID, for a secret added to app "
                    f"'{client.client_id}'.",
                )
            return
        if form.get("client_assertion_type") == FEDERATED_ASSERTION_TYPE and "client_assertion" in form:
            self._federated(client, form["client_assertion"])
            return
        raise TokenError(
            401,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        )

    def _federated(self, client: Client, assertion: str) -> None:
        """Workload Identity: the assertion's issuer and subject must match the federated credential.

        The emulator does not fetch the issuer's keys (the cluster's OIDC discovery is out of its reach);
        it checks the claims Entra matches on, the exchange audience and expiry.
        """
        try:
            claims = jwt.decode(assertion, options={"verify_signature": False, "verify_aud": False})
        except jwt.PyJWTError:
            raise TokenError(400, "invalid_client", 50027, "JWT token is invalid or malformed.") from None
        if not client.federated_issuer:
            raise TokenError(400, "invalid_client", 70021, "No matching federated identity record found.")
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if (
            claims.get("iss") != client.federated_issuer
            or claims.get("sub") != client.federated_subject
            or EXCHANGE_AUDIENCE not in audiences
        ):
            raise TokenError(
                400,
                "invalid_client",
                70021,
                "No matching federated identity record found for presented assertion issuer, subject "
                "and audience.",
            )
        if float(claims.get("exp", 0)) < time.time():
            raise TokenError(
                400, "invalid_client", 700024, "Client assertion is not within its valid time range."
            )

    def verify(self, token: str) -> dict[str, Any]:
        """Claims of a bearer token ARM accepts, or InvalidToken."""
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self.key.public_key(),
                algorithms=["RS256"],
                audience=self.audience,
                options={"require": ["exp", "iss", "aud", "tid"]},
            )
        except jwt.ExpiredSignatureError:
            raise InvalidToken("The access token has expired.", expired=True) from None
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"The access token is invalid: {type(exc).__name__}.") from None
        if claims["iss"] != self.issuer(claims["tid"]):
            raise InvalidToken("The access token is from the wrong issuer.")
        return claims
