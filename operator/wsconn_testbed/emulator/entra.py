"""Microsoft Entra ID, as far as azure-identity, MSAL for Python and MSAL for Go need it: instance discovery,
OpenID configuration, JWKS and the v2.0 token endpoint.

Grants: `client_credentials` with a client secret, a certificate-signed client assertion (RS256 with `x5t`, as
MSAL sends it, or PS256 with `x5t#S256`, as async azure-identity sends it) or a federated assertion (Workload
Identity); and `password` (resource-owner password credentials) for users. The OpenID Connect scopes that
MSAL for Go adds to every request (`openid offline_access profile`) are accepted and ignored beside
`<audience>/.default`, as Entra does. Tokens are RS256 JWTs carrying issuer, audience, tenant, application
id, object id and a token id (`uti`); ARM verifies them with the same key and refuses revoked ones. Errors
use Entra's JSON shape with AADSTS codes, so clients report them as they would in Azure.
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

from wsconn_testbed.emulator.principals import Directory, Principal

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"
OIDC_SCOPES = frozenset({"openid", "offline_access", "profile", "email"})
"""Scopes Entra ignores beside a resource's `/.default` in an app-only request (MSAL for Go adds three)."""
GROUPING_TENANTS = ("common", "organizations", "consumers")
_SKEW = 300


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


@dataclass(frozen=True)
class Issued:
    """A token answer, the principal it was issued to, and how the client authenticated: `secret`,
    `certificate <alg> <x5t | x5t#S256>`, `federated` or `password`."""

    answer: dict[str, Any]
    principal: Principal
    auth: str


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
    tenant_id: str
    directory: Directory = field(default_factory=Directory)
    token_ttl: int = 3600
    tenants: set[str] = field(default_factory=set)
    """Tenants that exist besides the default one and those holding principals (e.g. subscriptions')."""
    key: rsa.RSAPrivateKey = field(default_factory=lambda: rsa.generate_private_key(65537, 2048))
    kid: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    issued: int = 0

    def issuer(self, tenant: str) -> str:
        """The `iss` of tokens for a tenant (v2.0 endpoint)."""
        return f"{self.authority}/{tenant}/v2.0"

    def knows_tenant(self, tenant: str) -> bool:
        """Whether a tenant exists in this cloud."""
        known = {self.tenant_id.lower(), *self.tenants, *self.directory.tenants()}
        return tenant.lower() in known

    def _host(self) -> str:
        return urlparse(self.authority).netloc

    def openid_configuration(self, tenant: str) -> dict[str, Any]:
        """The tenant's OpenID configuration document, with the members Entra's v2.0 document has."""
        grouping = tenant.lower() in GROUPING_TENANTS
        if not grouping and not self.knows_tenant(tenant):
            raise TokenError(400, "invalid_tenant", 90002, _tenant_not_found(tenant))
        base = f"{self.authority}/{tenant}"
        return {
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": [
                "client_secret_post",
                "private_key_jwt",
                "client_secret_basic",
            ],
            "jwks_uri": f"{base}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            # For the grouping tenants Entra names the placeholder, not a tenant.
            "issuer": self.issuer("{tenantid}" if grouping else tenant),
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
            "claims_supported": [
                "sub",
                "iss",
                "aud",
                "exp",
                "iat",
                "auth_time",
                "acr",
                "nonce",
                "tid",
                "ver",
            ],
            "kerberos_endpoint": f"{base}/kerberos",
            "tenant_region_scope": None if grouping else "EU",
            "cloud_instance_name": self._host(),
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": "graph.microsoft.com",
            "rbac_url": "https://pas.windows.net",
        }

    def instance_discovery(self, authorization_endpoint: str = "") -> dict[str, Any]:
        """MSAL's instance discovery, as Entra answers it: metadata for a host of this cloud (here: this
        emulator's host name), naming the tenant of the `authorization_endpoint` asked about (`common` when none);
        400 `invalid_instance` for any other host, as Entra answers for an authority it does not know."""
        parsed = urlparse(authorization_endpoint)
        # MSAL asks about the authority's host name (without a port), as Entra knows its hosts.
        if authorization_endpoint and parsed.hostname != urlparse(self.authority).hostname:
            raise TokenError(400, "invalid_instance", 50049, "Unknown or invalid instance.")
        segments = [s for s in parsed.path.split("/") if s]
        tenant = segments[0] if segments else "common"
        host = self._host()
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

        key = {
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": self.kid,
            "n": b64(numbers.n),
            "e": b64(numbers.e),
        }
        return {"keys": [key]}

    def token(self, tenant: str, form: dict[str, str]) -> Issued:
        """Answer a token request or raise TokenError."""
        grant = form.get("grant_type")
        if grant not in ("client_credentials", "password"):
            raise TokenError(
                400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type."
            )
        if not self.knows_tenant(tenant):
            raise TokenError(400, "invalid_request", 90002, _tenant_not_found(tenant))
        client_id = form.get("client_id", "")
        if not client_id:
            raise TokenError(
                400,
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'client_id'.",
            )
        app = self.directory.app(client_id)
        if app is None or app.tenant_id.lower() != tenant.lower():
            raise TokenError(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found in the directory '{tenant}'.",
            )
        self._check_scope(form.get("scope", ""), app_only=grant == "client_credentials")
        if grant == "password":
            principal, how = self._user(tenant, form, app), "password"
        else:
            principal, how = app, self._authenticate(app, tenant, form)
        return Issued(self._issue(principal, app, tenant), principal, how)

    def _issue(self, principal: Principal, app: Principal, tenant: str) -> dict[str, Any]:
        now = int(time.time())
        token_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        claims: dict[str, Any] = {
            "iss": self.issuer(tenant),
            "aud": self.audience,
            "tid": principal.tenant_id,
            "appid": app.name,
            "azp": app.name,
            "oid": principal.object_id,
            "sub": principal.object_id,
            "iat": now,
            "nbf": now,
            "exp": now + self.token_ttl,
            "uti": token_id,
            "idtyp": "app" if principal.kind == "Application" else "user",
            "ver": "2.0",
        }
        if principal.kind == "User":
            claims |= {"upn": principal.name, "unique_name": principal.name, "scp": "user_impersonation"}
        self.issued += 1
        self.directory.remember(principal.object_id, token_id)
        access = jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.kid})
        return {
            "token_type": "Bearer",
            "expires_in": self.token_ttl,
            "ext_expires_in": self.token_ttl,
            "access_token": access,
        }

    def _check_scope(self, scope: str, *, app_only: bool) -> None:
        """One resource scope for this cloud's ARM audience, besides any OIDC scopes."""
        requested = [s for s in scope.split() if s not in OIDC_SCOPES]
        if len(requested) != 1:
            raise TokenError(
                400, "invalid_scope", 70011, "The provided value for the input parameter 'scope' isn't valid."
            )
        [only] = requested
        if app_only and not only.endswith("/.default"):
            raise TokenError(
                400,
                "invalid_scope",
                1002012,
                f"The provided value for scope {only} is not valid. Client credential flows must have a scope "
                "value with /.default suffixed to the resource identifier (application ID URI).",
            )
        resource = only.rsplit("/", 1)[0] if "/" in only else only
        if resource.rstrip("/") != self.audience.rstrip("/"):
            raise TokenError(
                400,
                "invalid_resource",
                500011,
                f"The resource principal named {resource or '(none)'} was not found in the tenant.",
            )

    def _user(self, tenant: str, form: dict[str, str], app: Principal) -> Principal:
        """Resource-owner password credentials: a public client needs no secret; a sent one must be right."""
        if "client_secret" in form and form["client_secret"] not in app.secrets:
            raise _invalid_secret(app.name)
        user = self.directory.user(form.get("username", ""))
        if user is not None and user.tenant_id.lower() != tenant.lower():
            raise TokenError(
                400,
                "invalid_grant",
                50034,
                f"The user account {user.name} does not exist in the {tenant} directory.",
            )
        if user is None or form.get("password") not in user.secrets:
            raise TokenError(
                400,
                "invalid_grant",
                50126,
                "Error validating credentials due to invalid username or password.",
            )
        return user

    def _authenticate(self, app: Principal, tenant: str, form: dict[str, str]) -> str:
        """Check the client's credential; returns how it authenticated (for the request log)."""
        if "client_secret" in form:
            if form["client_secret"] not in app.secrets:
                raise _invalid_secret(app.name)
            return "secret"
        assertion = form.get("client_assertion", "")
        if form.get("client_assertion_type") != JWT_BEARER or not assertion:
            raise TokenError(
                401,
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            )
        try:
            header = jwt.get_unverified_header(assertion)
            claims = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise TokenError(400, "invalid_client", 50027, "JWT token is invalid or malformed.") from None
        # A client signs its own assertion (iss = its client id); a federated one comes from another issuer.
        if claims.get("iss") == app.name:
            self._certificate(app, tenant, header, assertion)
            named = " ".join(k for k in ("x5t", "x5t#S256") if k in header)
            return f"certificate {header.get('alg', '')} {named}"
        self._federated(app, claims)
        return "federated"

    def _certificate(self, app: Principal, tenant: str, header: dict[str, Any], assertion: str) -> None:
        """A certificate credential: the signature, `x5t`/`x5t#S256`, audience, subject and validity, as Entra
        checks them."""
        certificate = next((c for c in app.certificates if c.matches(header)), None)
        if certificate is None:
            raise TokenError(
                401,
                "invalid_client",
                700027,
                "The certificate with identifier used to sign the client assertion is not registered on "
                "application. [Reason - The key was not found.]",
            )
        try:
            claims = jwt.decode(
                assertion,
                certificate.public_key(),
                algorithms=["RS256", "PS256"],
                options={"verify_aud": False, "verify_exp": False, "verify_nbf": False, "verify_iat": False},
            )
        except jwt.PyJWTError:
            raise TokenError(
                401, "invalid_client", 700027, "Client assertion failed signature validation."
            ) from None
        audiences = claims.get("aud")
        accepted = {
            f"{self.authority}/{tenant}/oauth2/v2.0/token".lower(),
            f"{self.authority}/{tenant}/oauth2/token".lower(),
        }
        if (
            not {str(a).lower() for a in (audiences if isinstance(audiences, list) else [audiences])}
            & accepted
        ):
            raise TokenError(
                401, "invalid_client", 700023, "Client assertion audience claim does not match Realm issuer."
            )
        if claims.get("sub") != app.name:
            raise TokenError(
                401,
                "invalid_client",
                700021,
                "Client assertion application identifier doesn't match 'client_id' parameter.",
            )
        _check_validity(claims)

    def _federated(self, app: Principal, claims: dict[str, Any]) -> None:
        """Workload Identity: the assertion's issuer and subject must match the federated credential.

        The emulator does not fetch the issuer's keys (the cluster's OIDC discovery is out of its reach);
        it checks the claims Entra matches on, the exchange audience and expiry.
        """
        if not app.federated_issuer:
            raise TokenError(400, "invalid_client", 70021, "No matching federated identity record found.")
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if (
            claims.get("iss") != app.federated_issuer
            or claims.get("sub") != app.federated_subject
            or EXCHANGE_AUDIENCE not in audiences
        ):
            raise TokenError(
                400,
                "invalid_client",
                70021,
                "No matching federated identity record found for presented assertion issuer, subject and audience.",
            )
        _check_validity(claims, status=400)

    def verify(self, token: str) -> dict[str, Any]:
        """Claims of a bearer token ARM accepts, or InvalidToken."""
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self.key.public_key(),
                algorithms=["RS256"],
                audience=self.audience,
                options={"require": ["exp", "iss", "aud", "tid", "oid"]},
            )
        except jwt.ExpiredSignatureError:
            raise InvalidToken("The access token has expired.", expired=True) from None
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"The access token is invalid: {type(exc).__name__}.") from None
        if claims["iss"] != self.issuer(claims["tid"]):
            raise InvalidToken("The access token is from the wrong issuer.")
        if self.directory.is_revoked(str(claims.get("uti", ""))):
            raise InvalidToken("The access token is invalid: it was revoked.")
        return claims


def _tenant_not_found(tenant: str) -> str:
    return (
        f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into "
        "the correct cloud."
    )


def _invalid_secret(client_id: str) -> TokenError:
    return TokenError(
        401,
        "invalid_client",
        7000215,
        "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, "
        f"not the client secret ID, for a secret added to app '{client_id}'.",
    )


def _check_validity(claims: dict[str, Any], status: int = 401) -> None:
    """`exp` not past and `nbf` not ahead (MSAL for Go sends both as numeric strings)."""
    now = time.time()
    try:
        expires = float(claims.get("exp", 0))
        not_before = float(claims.get("nbf", 0))
    except (TypeError, ValueError):
        expires = not_before = 0.0
    if expires < now or not_before > now + _SKEW:
        raise TokenError(
            status, "invalid_client", 700024, "Client assertion is not within its valid time range."
        )
