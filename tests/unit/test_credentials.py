"""resolve(): credential references + the Secrets as fetched -> values, or a CredentialError with a stable reason.

The Secrets are handed in as plain data (None = the Secret does not exist), as kube/secrets.py fetches them.
"""

from __future__ import annotations

from typing import Any

import pytest

from wsconn.api.spec import ConnectionSpec, parse_spec
from wsconn.core.credentials import CredentialError, FetchedSecret, Resolved, resolve

WORKSPACE = {
    "subscriptionId": "00000000-1111-2222-3333-444444444444",
    "resourceGroup": "rg-ml",
    "name": "ws-prod",
}
CANARY = "SECRET-canary-91b2"


def parse(auth_type: str, credentials: dict[str, Any]) -> ConnectionSpec:
    raw = {"workspace": WORKSPACE, "authType": auth_type, "credentials": credentials}
    return parse_spec(raw, metadata_name="conn", default_api_version="2025-06-01")


def ref(name: str, key: str) -> dict[str, Any]:
    return {"secretKeyRef": {"name": name, "key": key}}


API_KEY = parse("ApiKey", {"key": ref("openai", "api-key")})
CUSTOM_KEYS = parse("CustomKeys", {"keys": {"secretRef": {"name": "custom"}}})


def secret(name: str, version: str = "7", **data: bytes) -> FetchedSecret:
    return FetchedSecret(name=name, resource_version=version, data=data)


def keyed(name: str, key: str, value: bytes, version: str = "7") -> FetchedSecret:
    """A Secret with one key that is not a Python identifier (e.g. `api-key`)."""
    return FetchedSecret(name=name, resource_version=version, data={key: value})


FAILURES: list[tuple[str, ConnectionSpec, dict[str, FetchedSecret | None], str, str]] = [
    # (id, spec, fetched, reason, path)
    ("secret-absent", API_KEY, {}, "SecretNotFound", "credentials.key.secretKeyRef"),
    ("secret-none", API_KEY, {"openai": None}, "SecretNotFound", "credentials.key.secretKeyRef"),
    (
        "other-secret-only",
        API_KEY,
        {"other": keyed("other", "api-key", b"x")},
        "SecretNotFound",
        "credentials.key.secretKeyRef",
    ),
    (
        "key-absent",
        API_KEY,
        {"openai": keyed("openai", "apikey", b"x")},
        "SecretKeyNotFound",
        "credentials.key.secretKeyRef",
    ),
    ("no-data", API_KEY, {"openai": secret("openai")}, "SecretKeyNotFound", "credentials.key.secretKeyRef"),
    (
        "empty",
        API_KEY,
        {"openai": keyed("openai", "api-key", b"")},
        "SecretValueEmpty",
        "credentials.key.secretKeyRef",
    ),
    (
        "whitespace-only",
        API_KEY,
        {"openai": keyed("openai", "api-key", b" \t\r\n ")},
        "SecretValueEmpty",
        "credentials.key.secretKeyRef",
    ),
    (
        "not-utf8",
        API_KEY,
        {"openai": keyed("openai", "api-key", b"\xff\xfe" + CANARY.encode())},
        "SecretValueInvalid",
        "credentials.key.secretKeyRef",
    ),
    (
        "latin1-not-utf8",
        API_KEY,
        {"openai": keyed("openai", "api-key", "caf\u00e9".encode("latin-1"))},
        "SecretValueInvalid",
        "credentials.key.secretKeyRef",
    ),
    ("custom-keys-absent", CUSTOM_KEYS, {}, "SecretNotFound", "credentials.keys.secretRef"),
    (
        "custom-keys-no-data",
        CUSTOM_KEYS,
        {"custom": secret("custom")},
        "SecretKeyNotFound",
        "credentials.keys.secretRef",
    ),
    (
        "custom-keys-one-empty",
        CUSTOM_KEYS,
        {"custom": secret("custom", a=b"SECRET-a", b=b"  ")},
        "SecretValueEmpty",
        "credentials.keys.secretRef",
    ),
    (
        "custom-keys-one-not-utf8",
        CUSTOM_KEYS,
        {"custom": secret("custom", a=b"SECRET-a", b=b"\x80")},
        "SecretValueInvalid",
        "credentials.keys.secretRef",
    ),
    (
        "second-field-missing",
        parse("AccessKey", {"accessKeyId": ref("aws", "id"), "secretAccessKey": ref("aws", "secret")}),
        {"aws": secret("aws", id=b"AKIA")},
        "SecretKeyNotFound",
        "credentials.secretAccessKey.secretKeyRef",
    ),
]


@pytest.mark.parametrize(
    ("spec", "fetched", "reason", "path"), [c[1:] for c in FAILURES], ids=[c[0] for c in FAILURES]
)
def test_unusable_secrets_raise_a_credential_error_with_reason_and_path(
    spec: ConnectionSpec, fetched: dict[str, FetchedSecret | None], reason: str, path: str
) -> None:
    with pytest.raises(CredentialError) as caught:
        resolve(spec, fetched)

    assert (caught.value.reason, caught.value.path) == (reason, path)
    assert str(caught.value).startswith(f"spec.{path}: ")
    assert CANARY not in str(caught.value)
    assert "SECRET-a" not in str(caught.value)


def test_message_names_the_secret_and_key() -> None:
    with pytest.raises(CredentialError) as caught:
        resolve(API_KEY, {"openai": secret("openai", other=b"x")})
    assert "'openai'" in str(caught.value)
    assert "'api-key'" in str(caught.value)


def test_values_come_from_the_referenced_keys_unchanged() -> None:
    spec = parse(
        "ServicePrincipal",
        {
            "clientId": {"value": "client-1"},
            "clientSecret": ref("sp", "secret"),
            "tenantId": ref("sp", "tenant"),
        },
    )
    fetched = {"sp": secret("sp", "42", secret=b"p@ss word \xc3\xa9", tenant=b"tenant-1", unused=b"x")}

    resolved = resolve(spec, fetched)

    assert resolved.values == {
        "clientId": "client-1",
        "clientSecret": "p@ss word \u00e9",
        "tenantId": "tenant-1",
    }
    assert resolved.custom_keys is None
    assert resolved.versions == {"sp": "42"}


def test_literal_values_pass_through_and_record_no_version() -> None:
    spec = parse("ManagedIdentity", {"clientId": {"value": "cid"}, "resourceId": {"value": "/rid"}})

    resolved = resolve(spec, {"unrelated": secret("unrelated", "9", k=b"v")})

    assert resolved == Resolved(
        values={"clientId": "cid", "resourceId": "/rid"}, custom_keys=None, versions={}
    )


def test_versions_are_recorded_only_for_secrets_used() -> None:
    spec = parse(
        "OAuth2",
        {
            "clientId": ref("ids", "client"),
            "clientSecret": ref("oauth", "secret"),
            "refreshToken": ref("oauth", "refresh"),
        },
    )
    fetched = {
        "ids": secret("ids", "100", client=b"c"),
        "oauth": secret("oauth", "200", secret=b"s", refresh=b"r"),
        "bystander": secret("bystander", "300", k=b"v"),
        "gone": None,
    }

    assert resolve(spec, fetched).versions == {"ids": "100", "oauth": "200"}


def test_custom_keys_take_every_key_of_the_secret() -> None:
    fetched = {"custom": secret("custom", "5", b=b"SECRET-b", a=b"SECRET-a", c=b"SECRET-c")}

    resolved = resolve(CUSTOM_KEYS, fetched)

    assert resolved == Resolved(
        values={}, custom_keys={"a": "SECRET-a", "b": "SECRET-b", "c": "SECRET-c"}, versions={"custom": "5"}
    )


def test_resolved_repr_shows_versions_but_no_value() -> None:
    resolved = resolve(
        parse(
            "AccessKey", {"accessKeyId": {"value": f"{CANARY}-literal"}, "secretAccessKey": ref("aws", "s")}
        ),
        {"aws": secret("aws", "77", s=f"{CANARY}-secret".encode())},
    )
    custom = resolve(CUSTOM_KEYS, {"custom": secret("custom", "78", k=f"{CANARY}-custom".encode())})

    for text in (repr(resolved), str(resolved), repr(custom), str(custom)):
        assert CANARY not in text
    assert "77" in repr(resolved)


def test_fetched_secret_repr_shows_no_value() -> None:
    fetched = keyed("openai", "api-key", CANARY.encode(), "12")
    assert CANARY not in repr(fetched)
    assert CANARY not in str(fetched)
    assert "openai" in repr(fetched)
