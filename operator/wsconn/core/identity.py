"""Which Azure identity writes a resource's connection (docs/design.md §2, "Azure identities"), decided from plain data.

Most specific first:
1. `spec.azureCredentials.secretRef.name`: a Secret in the resource's own namespace (source `Resource`);
2. the Secret `wsconn-azure-credentials` in the resource's namespace, when it exists (source `Namespace`);
3. the operator's own identity (source `Operator`), only in the namespaces `--operator-identity-namespaces`
   lists; elsewhere the resource is refused (`OperatorIdentityNotAllowed`) and nothing reaches ARM.

A credential Secret holds `AZURE_TENANT_ID`, `AZURE_CLIENT_ID` and one of `AZURE_CLIENT_SECRET`,
`AZURE_CLIENT_CERTIFICATE` (PEM: certificate and private key; `AZURE_CLIENT_CERTIFICATE_PASSWORD` when the key
is encrypted) or `AZURE_USE_WORKLOAD_IDENTITY: "true"`. When more than one is present the first in that order
wins, as in Azure Service Operator's namespaced credentials. The shell reads the Secret and builds the
azure-identity credential (arm/principals.py); this module only decides, and never shows a secret in a repr.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from wsconn.core import reasons
from wsconn.core.credentials import FetchedSecret
from wsconn.core.selectors import Selector

NAMESPACE_SECRET: Final = "wsconn-azure-credentials"  # noqa: S105 - a Secret name
TENANT_KEY: Final = "AZURE_TENANT_ID"
CLIENT_KEY: Final = "AZURE_CLIENT_ID"
SECRET_KEY: Final = "AZURE_CLIENT_SECRET"  # noqa: S105 - a key name, not a value
CERTIFICATE_KEY: Final = "AZURE_CLIENT_CERTIFICATE"
CERTIFICATE_PASSWORD_KEY: Final = "AZURE_CLIENT_CERTIFICATE_PASSWORD"  # noqa: S105 - a key name
WORKLOAD_IDENTITY_KEY: Final = "AZURE_USE_WORKLOAD_IDENTITY"
OPERATOR_PRINCIPAL: Final = "operator"
# Every key a credential Secret is read for: the rest of its data is no business of the identity.
CREDENTIAL_KEYS: Final = frozenset(
    {TENANT_KEY, CLIENT_KEY, SECRET_KEY, CERTIFICATE_KEY, CERTIFICATE_PASSWORD_KEY, WORKLOAD_IDENTITY_KEY}
)

Source = Literal["Resource", "Namespace", "Operator"]
Kind = Literal["secret", "certificate", "workload"]


@dataclass(frozen=True)
class Allowlist:
    """The namespaces where resources may use the operator's own identity; `None` means every namespace."""

    namespaces: frozenset[str] | None

    @classmethod
    def parse(cls, text: str) -> Allowlist:
        """From the setting: comma-separated namespaces; `*` (alone or among others) means all; empty none."""
        names = frozenset(part.strip() for part in text.split(",") if part.strip())
        return cls(None if "*" in names else names)

    def allows(self, namespace: str) -> bool:
        """Whether a resource in `namespace` may use the operator's identity."""
        return self.namespaces is None or namespace in self.namespaces

    def __str__(self) -> str:
        return "*" if self.namespaces is None else ",".join(sorted(self.namespaces))


@dataclass(frozen=True)
class ClientCredential:
    """What a credential Secret says about the app to sign in as: the material is a client secret, a PEM
    certificate with its key, or nothing (workload identity: the operator's projected token is exchanged)."""

    kind: Kind
    material: str = field(default="", repr=False)
    password: str = field(default="", repr=False)


@dataclass(frozen=True)
class Identity:
    """The identity a pass uses. `version` is the credential Secret's (uid, resourceVersion): the cache key of
    the credential built from it, so a rotation builds a new one and an unchanged Secret reuses the old."""

    source: Source
    tenant_id: str
    client_id: str
    secret_name: str | None = None
    version: tuple[str, str] | None = None
    credential: ClientCredential | None = None

    @property
    def principal(self) -> str:
        """The key ARM limits by (its buckets are per principal and subscription)."""
        if self.source == "Operator":
            return OPERATOR_PRINCIPAL
        return f"{self.tenant_id}/{self.client_id}".lower()

    def to_status(self) -> dict[str, str]:
        """`status.azureIdentity`: where the identity came from and who it is, never a secret."""
        shown = {"source": self.source, "tenantId": self.tenant_id, "clientId": self.client_id}
        return {k: v for k, v in shown.items() if v}


class IdentityError(Exception):
    """No identity may be used: `reason` says why (AzureCredentialsNotFound or OperatorIdentityNotAllowed)."""

    def __init__(self, reason: reasons.Reason, message: str) -> None:
        self.reason = reason
        super().__init__(message)


def credential_secret(requested: str | None) -> str:
    """The Secret to read for the identity: the one the spec names, else the namespace's."""
    return requested or NAMESPACE_SECRET


def requested_secret(raw_spec: Mapping[str, Any]) -> str | None:
    """`spec.azureCredentials.secretRef.name` of a raw spec, read leniently (for the Secret index and for a
    deletion, which must not depend on the whole spec parsing)."""
    section = raw_spec.get("azureCredentials")
    ref = section.get("secretRef") if isinstance(section, Mapping) else None
    name = ref.get("name") if isinstance(ref, Mapping) else None
    return name if isinstance(name, str) and name else None


def with_credential_version(
    versions: Mapping[str, str] | None, name: str, found: FetchedSecret | None
) -> dict[str, str]:
    """`status.secretVersions` with the credential Secret's version as read (removed when it is absent). The
    Secret index compares a Secret's events with these versions: recording it means a rotation triggers one
    pass, and a restart none. It never enters the fingerprint, so a rotation alone causes no PUT."""
    out = dict(versions or {})
    if found is None:
        out.pop(name, None)
    else:
        out[name] = found.resource_version
    return out


def resolve_identity(
    *,
    namespace: str,
    requested: str | None,
    fetched: FetchedSecret | None,
    allowlist: Allowlist,
    operator: tuple[str, str] = ("", ""),
    selector: Selector | None = None,
) -> Identity:
    """The identity for a resource in `namespace` whose spec names the credential Secret `requested` (None:
    none named); `fetched` is that Secret, or the namespace's `wsconn-azure-credentials`, as read (None when
    it does not exist). `operator` is the operator's own (tenant, client) as far as its environment says.
    A Secret that does not match `selector` (`--secret-selector`) may not be used."""
    name = credential_secret(requested)
    if fetched is not None and selector is not None and not selector.matches(fetched.labels):
        where = "spec.azureCredentials.secretRef" if requested else "the namespace's credentials"
        raise IdentityError(
            reasons.AZURE_CREDENTIALS_NOT_FOUND,
            f"{where}: Secret {name!r} does not match the operator's --secret-selector {selector}",
        )
    if requested is not None:
        if fetched is None:
            raise IdentityError(
                reasons.AZURE_CREDENTIALS_NOT_FOUND,
                f"spec.azureCredentials.secretRef: Secret {requested!r} not found in namespace {namespace!r}",
            )
        return _from_secret("Resource", fetched)
    if fetched is not None:
        return _from_secret("Namespace", fetched)
    if not allowlist.allows(namespace):
        raise IdentityError(
            reasons.OPERATOR_IDENTITY_NOT_ALLOWED,
            f"no spec.azureCredentials and no Secret {NAMESPACE_SECRET!r} in namespace {namespace!r}, and the "
            f"operator's own identity is not allowed here (--operator-identity-namespaces: "
            f"{str(allowlist) or 'none'})",
        )
    return Identity("Operator", tenant_id=operator[0], client_id=operator[1])


def _from_secret(source: Source, found: FetchedSecret) -> Identity:
    data = _text(found.data)
    missing = [key for key in (TENANT_KEY, CLIENT_KEY) if not data.get(key)]
    credential = _credential(data)
    if credential is None:
        missing.append(f"one of {SECRET_KEY}, {CERTIFICATE_KEY} or {WORKLOAD_IDENTITY_KEY}: 'true'")
    if missing or credential is None:
        raise IdentityError(
            reasons.AZURE_CREDENTIALS_NOT_FOUND,
            f"credential Secret {found.name!r} lacks {', '.join(missing)}",
        )
    return Identity(
        source,
        tenant_id=data[TENANT_KEY],
        client_id=data[CLIENT_KEY],
        secret_name=found.name,
        version=(found.uid, found.resource_version),
        credential=credential,
    )


def _credential(data: Mapping[str, str]) -> ClientCredential | None:
    if data.get(SECRET_KEY):
        return ClientCredential("secret", data[SECRET_KEY])
    if data.get(CERTIFICATE_KEY):
        return ClientCredential("certificate", data[CERTIFICATE_KEY], data.get(CERTIFICATE_PASSWORD_KEY, ""))
    if data.get(WORKLOAD_IDENTITY_KEY, "").lower() == "true":
        return ClientCredential("workload")
    return None


def _text(data: Mapping[str, bytes]) -> dict[str, str]:
    """The Secret's values as stripped text; a value that is not UTF-8 reads as absent."""
    out = {}
    for key, raw in data.items():
        try:
            out[key] = raw.decode("utf-8").strip()
        except UnicodeDecodeError:
            continue
    return out
