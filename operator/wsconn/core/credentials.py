"""Turning the spec's credential references and the Secrets read for them into values.

Pure: the caller fetches the Secrets (kube/secrets.py) and hands them in. Values live only in the returned
`Resolved`, which the reconciler drops at the end of the pass; its repr never shows them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from wsconn.api.authtypes import CUSTOM_KEYS_FIELD
from wsconn.api.spec import ConnectionSpec, LiteralValue, SecretKeyRef
from wsconn.core import reasons


@dataclass(frozen=True)
class FetchedSecret:
    """A Secret as read from the API server: its resourceVersion and decoded data, and the uid and labels
    that say which Secret it is and whether it may be used (`--secret-selector`)."""

    name: str
    resource_version: str
    data: Mapping[str, bytes] = field(repr=False)
    uid: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Resolved:
    """Credential values for one pass, plus the versions of the Secrets they came from."""

    values: Mapping[str, str] = field(repr=False)
    custom_keys: Mapping[str, str] | None = field(repr=False)
    versions: Mapping[str, str]


class CredentialError(Exception):
    """A referenced Secret or key is missing or unusable; `reason` is a condition reason."""

    def __init__(self, reason: str, path: str, message: str) -> None:
        self.reason = reason
        self.path = path
        super().__init__(f"spec.{path}: {message}")


def resolve(spec: ConnectionSpec, fetched: Mapping[str, FetchedSecret | None]) -> Resolved:
    """Pick each credential's value from the fetched Secrets (None = the Secret does not exist)."""
    versions: dict[str, str] = {}
    values: dict[str, str] = {}

    def secret(name: str, path: str) -> FetchedSecret:
        found = fetched.get(name)
        if found is None:
            raise CredentialError(
                reasons.SECRET_NOT_FOUND.name, path, f"Secret {name!r} not found in the resource's namespace"
            )
        versions[name] = found.resource_version
        return found

    for field_name, source in spec.credentials:
        if isinstance(source, LiteralValue):
            values[field_name] = source.value
            continue
        path = f"credentials.{field_name}.secretKeyRef"
        values[field_name] = _decode(secret(source.name, path), source, path)

    custom: dict[str, str] | None = None
    if spec.custom_keys_secret is not None:
        path = f"credentials.{CUSTOM_KEYS_FIELD}.secretRef"
        found = secret(spec.custom_keys_secret, path)
        if not found.data:
            raise CredentialError(
                reasons.SECRET_KEY_NOT_FOUND.name, path, f"Secret {found.name!r} has no data keys"
            )
        custom = {key: _decode(found, SecretKeyRef(found.name, key), path) for key in sorted(found.data)}
    return Resolved(values=values, custom_keys=custom, versions=versions)


def _decode(found: FetchedSecret, ref: SecretKeyRef, path: str) -> str:
    raw = found.data.get(ref.key)
    if raw is None:
        raise CredentialError(
            reasons.SECRET_KEY_NOT_FOUND.name, path, f"Secret {ref.name!r} has no key {ref.key!r}"
        )
    if not raw.strip():
        raise CredentialError(
            reasons.SECRET_VALUE_EMPTY.name, path, f"key {ref.key!r} of Secret {ref.name!r} is empty"
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise CredentialError(
            reasons.SECRET_VALUE_INVALID.name,
            path,
            f"key {ref.key!r} of Secret {ref.name!r} is not UTF-8 text",
        ) from None
