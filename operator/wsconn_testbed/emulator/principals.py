"""The identities Entra knows and ARM authorises: app registrations (client secrets, certificates, a
federated credential) and users (for the resource-owner password grant), each in a tenant, with the ARM
scopes it may act on, and the tokens it was issued (so that they can be revoked).

Secrets, passwords and private keys never leave this module except through the admin API's answer to the
registration that created them.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

ALL_SCOPES = ("/",)
"""A principal without configured scopes may act anywhere (ARM's scopes are path prefixes)."""


@dataclass(frozen=True)
class Certificate:
    """A certificate registered on an app: its public key verifies client assertions."""

    pem: str
    sha1: bytes
    sha256: bytes

    @classmethod
    def load(cls, pem: str) -> Certificate:
        """Parse a PEM certificate (the first one, when a chain or a key comes with it)."""
        cert = x509.load_pem_x509_certificate(pem.encode())
        der = cert.public_bytes(Encoding.DER)
        return cls(pem=pem, sha1=hashlib.sha1(der).digest(), sha256=hashlib.sha256(der).digest())  # noqa: S324 - x5t is SHA-1 by definition

    @property
    def thumbprint(self) -> str:
        """The SHA-1 thumbprint in hex, as the Azure portal shows it."""
        return self.sha1.hex().upper()

    def public_key(self) -> Any:
        """The key that verifies assertions signed with this certificate's private key."""
        return x509.load_pem_x509_certificate(self.pem.encode()).public_key()

    def matches(self, header: dict[str, Any]) -> bool:
        """Whether a JWT header's `x5t` (SHA-1) or `x5t#S256` names this certificate.

        Entra accepts base64url (RFC 7515) and, as MSAL for Go sends it, standard base64; padding optional.
        """
        wanted = ((header.get("x5t#S256"), self.sha256), (header.get("x5t"), self.sha1))
        return any(isinstance(sent, str) and _b64(sent) == digest for sent, digest in wanted)


def _b64(text: str) -> bytes:
    cleaned = text.replace("-", "+").replace("_", "/").rstrip("=")
    try:
        return base64.b64decode(cleaned + "=" * (-len(cleaned) % 4))
    except ValueError:
        return b""


@dataclass
class Principal:
    """An app registration (`Application`) or a user (`User`), as Entra and ARM see it."""

    kind: Literal["Application", "User"]
    name: str
    """The client id of an app, the user principal name of a user."""
    tenant_id: str
    object_id: str
    secrets: list[str] = field(default_factory=list)
    """Client secrets of an app; the password of a user."""
    certificates: list[Certificate] = field(default_factory=list)
    federated_issuer: str = ""
    federated_subject: str = ""
    scopes: tuple[str, ...] = ALL_SCOPES

    def may_act_on(self, path: str) -> bool:
        """Whether an ARM path is at or under one of the principal's scopes (case-insensitive)."""
        lowered = path.lower().rstrip("/") + "/"
        return any(lowered.startswith(scope.lower().rstrip("/") + "/") for scope in self.scopes)


def default_object_id(name: str) -> str:
    """A stable object id for a principal registered without one."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, name))


@dataclass
class Directory:
    """Every principal, by kind and name, and the tokens issued to each (by token id) for revocation."""

    apps: dict[str, Principal] = field(default_factory=dict)
    users: dict[str, Principal] = field(default_factory=dict)
    issued: dict[str, set[str]] = field(default_factory=dict)
    revoked: set[str] = field(default_factory=set)

    def add(self, principal: Principal) -> Principal:
        """Register (or replace) a principal; tokens it already holds stay valid."""
        table = self.apps if principal.kind == "Application" else self.users
        table[principal.name if principal.kind == "Application" else principal.name.lower()] = principal
        return principal

    def app(self, client_id: str) -> Principal | None:
        """An app registration by client id."""
        return self.apps.get(client_id)

    def user(self, username: str) -> Principal | None:
        """A user by user principal name (case-insensitive)."""
        return self.users.get(username.lower())

    def by_object_id(self, object_id: str) -> Principal | None:
        """The principal with this object id, if any."""
        for principal in (*self.apps.values(), *self.users.values()):
            if principal.object_id == object_id:
                return principal
        return None

    def tenants(self) -> set[str]:
        """Tenants that hold at least one principal (lower-cased)."""
        return {p.tenant_id.lower() for p in (*self.apps.values(), *self.users.values())}

    def remember(self, object_id: str, token_id: str) -> None:
        """Record a token issued to a principal."""
        self.issued.setdefault(object_id, set()).add(token_id)

    def revoke_tokens(self, object_id: str) -> int:
        """Revoke every token issued to a principal so far; returns how many."""
        tokens = self.issued.pop(object_id, set())
        self.revoked |= tokens
        return len(tokens)

    def is_revoked(self, token_id: str) -> bool:
        """Whether a token was revoked."""
        return token_id in self.revoked
