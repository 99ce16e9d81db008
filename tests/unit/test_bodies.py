"""build_body / public_body / desired_properties: the exact ARM body for every authType x api-version.

The expected bodies are the hand-written goldens in `golden.py`; the pipeline under test is the one the
reconciler runs: parse_spec -> resolve (with the Secrets as fetched) -> build_body -> validate_body.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.unit.golden import API_VERSIONS, CASE_IDS, CASES, METADATA_NAME, WORKSPACE, Golden
from wsconn.api.spec import ConnectionSpec, parse_spec
from wsconn.core.bodies import build_body, desired_properties, public_body
from wsconn.core.credentials import FetchedSecret, resolve
from wsconn.core.schema import validate_body


def parse(raw: dict[str, Any]) -> ConnectionSpec:
    return parse_spec(raw, metadata_name=METADATA_NAME, default_api_version="2025-06-01")


def fetched(golden: Golden) -> dict[str, FetchedSecret | None]:
    return {
        name: FetchedSecret(name=name, resource_version=f"rv-{name}", data=data)
        for name, data in golden.secrets.items()
    }


def body_of(golden: Golden, api_version: str) -> dict[str, Any]:
    spec = parse(golden.raw(api_version))
    resolved = resolve(spec, fetched(golden))
    return build_body(spec, resolved.values, resolved.custom_keys)


@pytest.mark.parametrize(("golden", "api_version"), CASES, ids=CASE_IDS)
def test_body_is_the_golden_body(golden: Golden, api_version: str) -> None:
    assert body_of(golden, api_version) == golden.body


@pytest.mark.parametrize(("golden", "api_version"), CASES, ids=CASE_IDS)
def test_golden_body_is_valid_for_its_api_version(golden: Golden, api_version: str) -> None:
    validate_body(golden.body, api_version)


def test_every_auth_type_has_a_golden_body_on_every_api_version() -> None:
    covered = {(g.body["properties"]["authType"], v) for g, v in CASES}
    auth_types = [
        "None",
        "AAD",
        "PAT",
        "SAS",
        "ApiKey",
        "AccountKey",
        "AccessKey",
        "UsernamePassword",
        "ServicePrincipal",
        "ManagedIdentity",
        "OAuth2",
        "CustomKeys",
    ]
    assert {(a, v) for a in auth_types for v in API_VERSIONS} <= covered


def test_every_field_of_every_api_version_is_in_some_golden_body() -> None:
    # The fields only some versions have (value, valueFormat, peRequirement, useWorkspaceManagedIdentity) too.
    sent = {(name, v) for g, v in CASES for name in g.body["properties"]}
    wanted = {
        (name, v)
        for v in API_VERSIONS
        for name in ("category", "target", "metadata", "isSharedToAll", "sharedUserList", "expiryTime")
    }
    wanted |= {(name, v) for name in ("value", "valueFormat") for v in API_VERSIONS[:3]}
    wanted |= {
        (name, v) for name in ("peRequirement", "useWorkspaceManagedIdentity") for v in API_VERSIONS[3:]
    }
    assert wanted <= sent


def minimal(*, api_version: str = "2025-06-01", **spec: Any) -> dict[str, Any]:
    raw = {"workspace": dict(WORKSPACE), "authType": "AAD", "azureApiVersion": api_version, **spec}
    parsed = parse(raw)
    values = {name: f"value-of-{name}" for name, _ in parsed.credentials}
    return build_body(parsed, values, None)


def test_account_key_is_sent_as_key_not_sas() -> None:
    body = minimal(authType="AccountKey", credentials={"key": {"secretKeyRef": {"name": "st", "key": "k"}}})
    assert body["properties"]["credentials"] == {"key": "value-of-key"}


def test_custom_keys_sends_every_key_of_the_secret() -> None:
    raw = {
        "workspace": dict(WORKSPACE),
        "authType": "CustomKeys",
        "credentials": {"keys": {"secretRef": {"name": "many"}}},
    }
    spec = parse(raw)
    data = {f"key-{i}": f"SECRET-{i}".encode() for i in range(5)}
    resolved = resolve(spec, {"many": FetchedSecret("many", "1", data)})

    body = build_body(spec, resolved.values, resolved.custom_keys)

    assert body == {
        "properties": {
            "authType": "CustomKeys",
            "credentials": {
                "keys": {
                    "key-0": "SECRET-0",
                    "key-1": "SECRET-1",
                    "key-2": "SECRET-2",
                    "key-3": "SECRET-3",
                    "key-4": "SECRET-4",
                }
            },
        }
    }


def test_nothing_optional_is_sent_when_nothing_optional_is_set() -> None:
    assert minimal() == {"properties": {"authType": "AAD"}}


@pytest.mark.parametrize(
    ("spec_field", "value", "expected"),
    [
        ("category", "AzureOpenAI", {"category": "AzureOpenAI"}),
        ("target", "https://x.example.com", {"target": "https://x.example.com"}),
        ("metadata", {"Kind": "speech"}, {"metadata": {"Kind": "speech"}}),
        ("metadata", {}, {"metadata": {}}),
        ("isSharedToAll", True, {"isSharedToAll": True}),
        ("isSharedToAll", False, {"isSharedToAll": False}),
        ("sharedUserList", ["alice"], {"sharedUserList": ["alice"]}),
        ("sharedUserList", [], {"sharedUserList": []}),
        ("expiryTime", "2027-01-01T00:00:00+02:00", {"expiryTime": "2027-01-01T00:00:00+02:00"}),
        ("value", "", {"value": ""}),
        ("value", '{"legacy": true}', {"value": '{"legacy": true}'}),
        ("valueFormat", "JSON", {"valueFormat": "JSON"}),
        ("peRequirement", "Required", {"peRequirement": "Required"}),
        ("peRequirement", "NotApplicable", {"peRequirement": "NotApplicable"}),
        ("useWorkspaceManagedIdentity", True, {"useWorkspaceManagedIdentity": True}),
        ("useWorkspaceManagedIdentity", False, {"useWorkspaceManagedIdentity": False}),
    ],
    ids=lambda v: v if isinstance(v, str) and len(v) < 30 else None,
)
def test_an_optional_field_is_sent_exactly_when_set(
    spec_field: str, value: Any, expected: dict[str, Any]
) -> None:
    # Each field on the newest api-version that has it.
    api_version = "2025-09-01" if spec_field in {"value", "valueFormat"} else "2026-05-01"
    body = minimal(api_version=api_version, **{spec_field: value})
    assert body == {"properties": {"authType": "AAD", **expected}}


@pytest.mark.parametrize("api_version", API_VERSIONS)
def test_the_same_spec_makes_the_same_body_on_every_api_version(api_version: str) -> None:
    # The api-version is the protocol: it goes into the URL, never into the body.
    assert minimal(api_version=api_version, target="t", isSharedToAll=True) == {
        "properties": {"authType": "AAD", "target": "t", "isSharedToAll": True}
    }


@pytest.mark.parametrize(
    ("auth_type", "credentials", "expected"),
    [
        (
            "UsernamePassword",
            {"username": {"value": "u"}, "password": {"secretKeyRef": {"name": "s", "key": "p"}}},
            {"username": "value-of-username", "password": "value-of-password"},
        ),
        (
            "OAuth2",
            {"clientId": {"value": "c"}, "clientSecret": {"secretKeyRef": {"name": "s", "key": "cs"}}},
            {"clientId": "value-of-clientId", "clientSecret": "value-of-clientSecret"},
        ),
    ],
    ids=["UsernamePassword-without-securityToken", "OAuth2-minimal"],
)
def test_optional_credential_fields_are_sent_only_when_set(
    auth_type: str, credentials: dict[str, Any], expected: dict[str, str]
) -> None:
    body = minimal(authType=auth_type, credentials=credentials)
    assert body["properties"]["credentials"] == expected


@pytest.mark.parametrize("auth_type", ["None", "AAD"])
def test_no_credentials_object_for_auth_types_without_credentials(auth_type: str) -> None:
    assert "credentials" not in minimal(authType=auth_type, credentials={})["properties"]


def test_read_only_fields_are_never_sent_even_if_a_manifest_carries_them() -> None:
    body = minimal(
        group="AzureAI",
        createdByWorkspaceArmId="/subscriptions/x/workspaces/other",
        metadata={"group": "kept-as-metadata"},
    )
    assert body == {"properties": {"authType": "AAD", "metadata": {"group": "kept-as-metadata"}}}


@pytest.mark.parametrize(("golden", "api_version"), CASES, ids=CASE_IDS)
def test_golden_bodies_never_carry_read_only_fields(golden: Golden, api_version: str) -> None:
    props = body_of(golden, api_version)["properties"]
    assert "group" not in props
    assert "createdByWorkspaceArmId" not in props


@pytest.mark.parametrize(("golden", "api_version"), CASES, ids=CASE_IDS)
def test_public_body_holds_no_secret_value(golden: Golden, api_version: str) -> None:
    text = json.dumps(public_body(parse(golden.raw(api_version))))
    assert "SECRET" not in text
    for value in golden.secret_values():
        assert value not in text


@pytest.mark.parametrize(
    ("auth_type", "credentials", "expected"),
    [
        (
            "ApiKey",
            {"key": {"secretKeyRef": {"name": "openai", "key": "api-key"}}},
            {"key": {"$secretKeyRef": "openai/api-key"}},
        ),
        (
            "AccessKey",
            {
                "accessKeyId": {"value": "AKIAEXAMPLE"},
                "secretAccessKey": {"secretKeyRef": {"name": "aws", "key": "secret"}},
            },
            {"accessKeyId": "AKIAEXAMPLE", "secretAccessKey": {"$secretKeyRef": "aws/secret"}},
        ),
        ("CustomKeys", {"keys": {"secretRef": {"name": "custom"}}}, {"keys": {"$secretRef": "custom"}}),
    ],
    ids=["ApiKey", "AccessKey-literal-kept", "CustomKeys"],
)
def test_public_body_replaces_secret_sourced_values_with_references(
    auth_type: str, credentials: dict[str, Any], expected: dict[str, Any]
) -> None:
    spec = parse(
        {"workspace": dict(WORKSPACE), "authType": auth_type, "credentials": credentials, "target": "t"}
    )
    assert public_body(spec) == {
        "properties": {"authType": auth_type, "target": "t", "credentials": expected}
    }


def test_desired_properties_are_the_public_body_without_credentials() -> None:
    golden = next(g for g, _ in CASES if g.id == "ApiKey")
    assert desired_properties(parse(golden.raw("2025-06-01"))) == {
        "authType": "ApiKey",
        "category": "AzureOpenAI",
        "target": "https://contoso.openai.azure.com/",
        "metadata": {"ApiType": "Azure", "ApiVersion": "2024-10-21"},
        "isSharedToAll": True,
        "sharedUserList": [],
        "expiryTime": "2027-01-01T00:00:00Z",
        "value": "",
        "valueFormat": "JSON",
    }


def test_desired_properties_do_not_alter_the_public_body() -> None:
    spec = parse(
        {
            "workspace": dict(WORKSPACE),
            "authType": "ApiKey",
            "credentials": {"key": {"secretKeyRef": {"name": "s", "key": "k"}}},
        }
    )
    desired_properties(spec)
    assert public_body(spec)["properties"]["credentials"] == {"key": {"$secretKeyRef": "s/k"}}
