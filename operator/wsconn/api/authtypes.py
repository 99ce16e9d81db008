"""Which credentials each authType takes: the one table the CRD, the parser, the body builder and the docs use.

Field names are ARM's (`properties.credentials.<name>`), checked against the pinned contract by a test.
Whether a field is a secret is ours to decide: the contract marks only some secrets `x-ms-secret` (it leaves
`pat`, `sas`, ApiKey's `key`, `password` and `secretAccessKey` unmarked), so the table follows what the values
are, as docs/design.md §2 does. A secret field must come from a Secret (`secretKeyRef`); a non-secret field may also
be a literal `value`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class Field:
    """One credential field of an authType."""

    name: str
    secret: bool
    required: bool = True


@dataclass(frozen=True)
class AuthType:
    """An authType and the credentials it takes.

    `whole_secret` marks CustomKeys: its credentials are every data key of one Secret (`keys.secretRef`).
    """

    name: str
    fields: tuple[Field, ...] = ()
    whole_secret: bool = False

    @property
    def takes_credentials(self) -> bool:
        """Whether a `credentials` object belongs in the spec and the ARM body."""
        return bool(self.fields) or self.whole_secret

    def field(self, name: str) -> Field | None:
        """The field called `name`, if this authType takes it."""
        return next((f for f in self.fields if f.name == name), None)


CUSTOM_KEYS_FIELD: Final = "keys"

AUTH_TYPES: Final[dict[str, AuthType]] = {
    a.name: a
    for a in (
        AuthType("None"),
        AuthType("AAD"),
        AuthType("PAT", (Field("pat", secret=True),)),
        AuthType("SAS", (Field("sas", secret=True),)),
        AuthType("ApiKey", (Field("key", secret=True),)),
        AuthType("AccountKey", (Field("key", secret=True),)),
        AuthType(
            "AccessKey",
            (Field("accessKeyId", secret=False), Field("secretAccessKey", secret=True)),
        ),
        AuthType(
            "UsernamePassword",
            (
                Field("username", secret=False),
                Field("password", secret=True),
                Field("securityToken", secret=True, required=False),
            ),
        ),
        AuthType(
            "ServicePrincipal",
            (
                Field("clientId", secret=False),
                Field("clientSecret", secret=True),
                Field("tenantId", secret=False),
            ),
        ),
        AuthType(
            "ManagedIdentity",
            (Field("clientId", secret=False), Field("resourceId", secret=False)),
        ),
        AuthType(
            "OAuth2",
            (
                Field("clientId", secret=False),
                Field("clientSecret", secret=True),
                Field("authUrl", secret=False, required=False),
                Field("tenantId", secret=False, required=False),
                Field("username", secret=False, required=False),
                Field("password", secret=True, required=False),
                Field("refreshToken", secret=True, required=False),
                Field("developerToken", secret=True, required=False),
            ),
        ),
        AuthType("CustomKeys", whole_secret=True),
    )
}


def credential_field_names() -> tuple[str, ...]:
    """Every field name any authType takes (CustomKeys' `keys` excluded), in first-seen order."""
    seen: dict[str, None] = {}
    for auth in AUTH_TYPES.values():
        seen.update(dict.fromkeys(f.name for f in auth.fields))
    return tuple(seen)


def is_secret_field(name: str) -> bool:
    """Whether `name` is a secret wherever it appears (the table keeps this consistent; a test checks)."""
    return any(f.secret for a in AUTH_TYPES.values() for f in a.fields if f.name == name)


def auth_types_taking(name: str) -> tuple[str, ...]:
    """The authTypes that take the credential field `name`."""
    return tuple(a.name for a in AUTH_TYPES.values() if a.field(name) is not None)
