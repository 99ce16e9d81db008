"""parse_spec: what a WorkspaceConnection spec may say (docs/design.md §2), what it defaults to, and where it is wrong.

Every refusal is checked by the exact list of FieldError paths, so a test fails both when a bad spec is
accepted and when the error points at the wrong field or comes with unrelated ones.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from wsconn.api.spec import (
    ConnectionSpec,
    FieldError,
    InvalidSpecError,
    LiteralValue,
    SecretKeyRef,
    WorkspaceRef,
    parse_spec,
)

SUBSCRIPTION = "00000000-1111-2222-3333-444444444444"
WORKSPACE: dict[str, Any] = {"subscriptionId": SUBSCRIPTION, "resourceGroup": "rg-ml", "name": "ws-prod"}
OPERATOR_DEFAULT = "2025-06-01"
ALL_VERSIONS = ("2024-04-01", "2025-06-01", "2025-09-01", "2025-12-01", "2026-05-01")
WITH_VALUE = ALL_VERSIONS[:3]
WITH_PE_REQUIREMENT = ALL_VERSIONS[3:]
NAME = "team-openai"
DROP = object()  # marks a key to remove from the base spec


def ref(name: str, key: str) -> dict[str, Any]:
    return {"secretKeyRef": {"name": name, "key": key}}


def lit(value: Any) -> dict[str, Any]:
    return {"value": value}


def parse(raw: Any, *, name: str = NAME, default: str = OPERATOR_DEFAULT) -> ConnectionSpec:
    return parse_spec(raw, metadata_name=name, default_api_version=default)


def spec(**changes: Any) -> dict[str, Any]:
    """A valid ApiKey spec with `changes` applied (DROP removes a key)."""
    raw: dict[str, Any] = {
        "workspace": dict(WORKSPACE),
        "authType": "ApiKey",
        "credentials": {"key": ref("openai", "api-key")},
    }
    for key, value in changes.items():
        if value is DROP:
            raw.pop(key, None)
        else:
            raw[key] = value
    return raw


def workspace(**changes: Any) -> dict[str, Any]:
    ws = dict(WORKSPACE)
    for key, value in changes.items():
        if value is DROP:
            ws.pop(key)
        else:
            ws[key] = value
    return ws


def error_paths(raw: Any, *, name: str = NAME, default: str = OPERATOR_DEFAULT) -> list[str]:
    with pytest.raises(InvalidSpecError) as caught:
        parse(raw, name=name, default=default)
    return [e.path for e in caught.value.errors]


# authType -> (credentials, the parsed credentials in the authType table's order, CustomKeys Secret)
VALID_PER_AUTH_TYPE: dict[str, tuple[dict[str, Any], tuple[tuple[str, Any], ...], str | None]] = {
    "None": ({}, (), None),
    "AAD": ({}, (), None),
    "PAT": ({"pat": ref("git", "pat")}, (("pat", SecretKeyRef("git", "pat")),), None),
    "SAS": ({"sas": ref("blob", "sas")}, (("sas", SecretKeyRef("blob", "sas")),), None),
    "ApiKey": ({"key": ref("openai", "api-key")}, (("key", SecretKeyRef("openai", "api-key")),), None),
    "AccountKey": (
        {"key": ref("storage", "account-key")},
        (("key", SecretKeyRef("storage", "account-key")),),
        None,
    ),
    "AccessKey": (
        # given in reverse order: the parsed tuple follows the table, not the manifest
        {"secretAccessKey": ref("aws", "secret"), "accessKeyId": lit("AKIAEXAMPLE")},
        (("accessKeyId", LiteralValue("AKIAEXAMPLE")), ("secretAccessKey", SecretKeyRef("aws", "secret"))),
        None,
    ),
    "UsernamePassword": (
        {"username": lit("svc"), "password": ref("db", "password")},
        (("username", LiteralValue("svc")), ("password", SecretKeyRef("db", "password"))),
        None,
    ),
    "ServicePrincipal": (
        {"clientId": ref("sp", "client-id"), "clientSecret": ref("sp", "secret"), "tenantId": lit("tenant")},
        (
            ("clientId", SecretKeyRef("sp", "client-id")),
            ("clientSecret", SecretKeyRef("sp", "secret")),
            ("tenantId", LiteralValue("tenant")),
        ),
        None,
    ),
    "ManagedIdentity": (
        {"clientId": lit("client"), "resourceId": lit("/subscriptions/x/identity")},
        (("clientId", LiteralValue("client")), ("resourceId", LiteralValue("/subscriptions/x/identity"))),
        None,
    ),
    "OAuth2": (
        {"clientId": lit("client"), "clientSecret": ref("oauth", "secret")},
        (("clientId", LiteralValue("client")), ("clientSecret", SecretKeyRef("oauth", "secret"))),
        None,
    ),
    "CustomKeys": ({"keys": {"secretRef": {"name": "custom"}}}, (), "custom"),
}


def test_the_valid_table_covers_all_twelve_auth_types() -> None:
    assert sorted(VALID_PER_AUTH_TYPE) == sorted(
        [
            "AAD",
            "AccessKey",
            "AccountKey",
            "ApiKey",
            "CustomKeys",
            "ManagedIdentity",
            "None",
            "OAuth2",
            "PAT",
            "SAS",
            "ServicePrincipal",
            "UsernamePassword",
        ]
    )


@pytest.mark.parametrize(
    ("api_version", "expected_api_version"),
    [*((v, v) for v in ALL_VERSIONS), (None, OPERATOR_DEFAULT)],
    ids=[*ALL_VERSIONS, "operator-default"],
)
@pytest.mark.parametrize("auth_type", list(VALID_PER_AUTH_TYPE))
def test_accepts_a_valid_spec_for_every_auth_type_and_api_version(
    auth_type: str, api_version: str | None, expected_api_version: str
) -> None:
    credentials, expected_credentials, custom_keys = VALID_PER_AUTH_TYPE[auth_type]
    raw = spec(authType=auth_type, credentials=credentials, azureApiVersion=api_version or DROP)

    parsed = parse(raw)

    assert parsed.auth_type == auth_type
    assert parsed.api_version == expected_api_version
    assert parsed.credentials == expected_credentials
    assert parsed.custom_keys_secret == custom_keys


def test_parses_the_design_example_in_full() -> None:
    raw = {
        "workspace": dict(WORKSPACE),
        "connectionName": "team-openai",
        "azureApiVersion": "2025-06-01",
        "authType": "ApiKey",
        "category": "AzureOpenAI",
        "target": "https://contoso.openai.azure.com/",
        "credentials": {"key": ref("openai", "api-key")},
        "metadata": {"ApiVersion": "2024-10-21", "ApiType": "Azure"},
        "isSharedToAll": True,
        "sharedUserList": [],
        "expiryTime": "2027-01-01T00:00:00Z",
        "value": "",
        "valueFormat": "JSON",
        "deletionPolicy": "Orphan",
        "adoptionPolicy": "Refuse",
    }

    assert parse(raw, name="some-other-name") == ConnectionSpec(
        workspace=WorkspaceRef(SUBSCRIPTION, "rg-ml", "ws-prod"),
        connection_name="team-openai",
        api_version="2025-06-01",
        auth_type="ApiKey",
        category="AzureOpenAI",
        target="https://contoso.openai.azure.com/",
        credentials=(("key", SecretKeyRef("openai", "api-key")),),
        custom_keys_secret=None,
        metadata=(("ApiType", "Azure"), ("ApiVersion", "2024-10-21")),  # sorted by key
        is_shared_to_all=True,
        shared_user_list=(),
        expiry_time="2027-01-01T00:00:00Z",
        value="",
        value_format="JSON",
        deletion_policy="Orphan",
        adoption_policy="Refuse",
    )


def test_defaults_fill_what_the_spec_leaves_out() -> None:
    parsed = parse(spec(), name="from-metadata")

    assert parsed.connection_name == "from-metadata"
    assert parsed.deletion_policy == "Delete"
    assert parsed.adoption_policy == "Adopt"
    assert parsed.api_version == OPERATOR_DEFAULT
    assert (
        parsed.category,
        parsed.target,
        parsed.metadata,
        parsed.is_shared_to_all,
        parsed.shared_user_list,
        parsed.expiry_time,
        parsed.value,
        parsed.value_format,
    ) == (None, None, None, None, None, None, None, None)


@pytest.mark.parametrize("default", ALL_VERSIONS)
def test_api_version_defaults_to_the_operator_setting(default: str) -> None:
    assert parse(spec(), default=default).api_version == default


def test_explicit_api_version_wins_over_the_operator_default() -> None:
    assert parse(spec(azureApiVersion="2024-04-01"), default="2025-06-01").api_version == "2024-04-01"


def test_connection_name_wins_over_metadata_name() -> None:
    assert parse(spec(connectionName="explicit-name"), name="meta-name").connection_name == "explicit-name"


@pytest.mark.parametrize("name", ["abc", "e2etest-wps-conn-test-513561481161", "a" * 64])
def test_metadata_name_of_3_to_64_characters_is_the_default_connection_name(name: str) -> None:
    assert parse(spec(), name=name).connection_name == name


def test_connection_name_makes_an_invalid_metadata_name_acceptable() -> None:
    parsed = parse(spec(connectionName="team-openai"), name="team.openai.prod")
    assert parsed.connection_name == "team-openai"


@pytest.mark.parametrize("category", ["Pinecone", "Elasticsearch", "ManagedOnlineEndpoint"])
@pytest.mark.parametrize(
    ("api_version", "default"),
    [("2025-06-01", "2024-04-01"), (None, "2025-06-01")],
    ids=["explicit-2025-06-01", "default-2025-06-01"],
)
def test_categories_new_in_2025_are_accepted_on_2025(
    category: str, api_version: str | None, default: str
) -> None:
    parsed = parse(spec(category=category, azureApiVersion=api_version or DROP), default=default)
    assert (parsed.category, parsed.api_version) == (category, "2025-06-01")


@pytest.mark.parametrize("category", ["Pinecone", "Elasticsearch", "ManagedOnlineEndpoint"])
@pytest.mark.parametrize(
    ("api_version", "default"),
    [("2024-04-01", "2025-06-01"), (None, "2024-04-01")],
    ids=["explicit-2024-04-01", "default-2024-04-01"],
)
def test_categories_new_in_2025_are_refused_on_2024(
    category: str, api_version: str | None, default: str
) -> None:
    raw = spec(category=category, azureApiVersion=api_version or DROP)
    assert error_paths(raw, default=default) == ["category"]


@pytest.mark.parametrize(
    "category", ["AzureOpenAI", "ADLSGen2", "CustomKeys", "Git", "OpenAI", "Serverless", "ApiKey"]
)
@pytest.mark.parametrize("api_version", ALL_VERSIONS)
def test_categories_of_every_version_are_accepted(category: str, api_version: str) -> None:
    assert parse(spec(category=category, azureApiVersion=api_version)).category == category


@pytest.mark.parametrize("category", ["AzureKeyVault", "ModelGateway", "RemoteA2A"])
@pytest.mark.parametrize("api_version", ALL_VERSIONS)
def test_categories_new_in_2025_12_are_accepted_from_2025_12_01_only(category: str, api_version: str) -> None:
    raw = spec(category=category, azureApiVersion=api_version)
    if api_version in WITH_PE_REQUIREMENT:
        assert parse(raw).category == category
    else:
        assert error_paths(raw) == ["category"]


# (spec field, a valid value, the parsed attribute, the api-versions that have it: NEWER-VERSIONS.md §3)
VERSIONED: list[tuple[str, Any, str, tuple[str, ...]]] = [
    ("value", '{"legacy": true}', "value", WITH_VALUE),
    ("valueFormat", "JSON", "value_format", WITH_VALUE),
    ("peRequirement", "NotApplicable", "pe_requirement", WITH_PE_REQUIREMENT),
    ("useWorkspaceManagedIdentity", True, "use_workspace_managed_identity", WITH_PE_REQUIREMENT),
]


@pytest.mark.parametrize(
    ("field", "value", "attribute", "api_version"),
    [(f, v, a, version) for f, v, a, versions in VERSIONED for version in versions],
    ids=[f"{f}@{version}" for f, _, _, versions in VERSIONED for version in versions],
)
def test_a_versioned_field_is_accepted_on_the_versions_that_have_it(
    field: str, value: Any, attribute: str, api_version: str
) -> None:
    assert getattr(parse(spec(**{field: value}, azureApiVersion=api_version)), attribute) == value
    assert getattr(parse(spec(**{field: value}), default=api_version), attribute) == value


@pytest.mark.parametrize(
    ("field", "value", "api_version"),
    [
        (f, v, version)
        for f, v, _, versions in VERSIONED
        for version in ALL_VERSIONS
        if version not in versions
    ],
    ids=[
        f"{f}@{version}"
        for f, _, _, versions in VERSIONED
        for version in ALL_VERSIONS
        if version not in versions
    ],
)
def test_a_versioned_field_is_refused_naming_the_field_and_the_version(
    field: str, value: Any, api_version: str
) -> None:
    for raw, default, which in (
        (spec(**{field: value}, azureApiVersion=api_version), OPERATOR_DEFAULT, api_version),
        (spec(**{field: value}), api_version, f"{api_version} (the operator's default)"),
    ):
        with pytest.raises(InvalidSpecError) as caught:
            parse(raw, default=default)
        (error,) = caught.value.errors
        assert error.path == field
        assert f"{field} is not available in azureApiVersion {which}" in error.message


def test_versioned_fields_default_to_unset() -> None:
    parsed = parse(spec(), default="2026-05-01")
    assert (parsed.pe_requirement, parsed.use_workspace_managed_identity) == (None, None)


SECRET = "SECRET-literal-canary-7f3a"

# Per authType: valid credentials to start from when one field is swapped for something else.
BASE_CREDENTIALS: dict[str, dict[str, Any]] = {
    "PAT": {"pat": ref("s", "pat")},
    "SAS": {"sas": ref("s", "sas")},
    "ApiKey": {"key": ref("s", "key")},
    "AccountKey": {"key": ref("s", "key")},
    "AccessKey": {"accessKeyId": lit("AKIA"), "secretAccessKey": ref("s", "sak")},
    "UsernamePassword": {"username": lit("user"), "password": ref("s", "pw")},
    "ServicePrincipal": {"clientId": lit("c"), "clientSecret": ref("s", "cs"), "tenantId": lit("t")},
    "ManagedIdentity": {"clientId": lit("c"), "resourceId": lit("/r")},
    "OAuth2": {"clientId": lit("c"), "clientSecret": ref("s", "cs")},
}

# docs/design.md §2: the fields marked `*`.
SECRET_FIELDS = [
    ("PAT", "pat"),
    ("SAS", "sas"),
    ("ApiKey", "key"),
    ("AccountKey", "key"),
    ("AccessKey", "secretAccessKey"),
    ("UsernamePassword", "password"),
    ("UsernamePassword", "securityToken"),
    ("ServicePrincipal", "clientSecret"),
    ("OAuth2", "clientSecret"),
    ("OAuth2", "password"),
    ("OAuth2", "refreshToken"),
    ("OAuth2", "developerToken"),
]

NON_SECRET_FIELDS = [
    ("AccessKey", "accessKeyId"),
    ("UsernamePassword", "username"),
    ("ServicePrincipal", "clientId"),
    ("ServicePrincipal", "tenantId"),
    ("ManagedIdentity", "clientId"),
    ("ManagedIdentity", "resourceId"),
    ("OAuth2", "clientId"),
    ("OAuth2", "authUrl"),
    ("OAuth2", "tenantId"),
    ("OAuth2", "username"),
]


@pytest.mark.parametrize(("auth_type", "field"), SECRET_FIELDS, ids=[f"{a}.{f}" for a, f in SECRET_FIELDS])
def test_a_literal_value_for_a_secret_field_is_refused_without_echoing_it(auth_type: str, field: str) -> None:
    raw = spec(authType=auth_type, credentials={**BASE_CREDENTIALS[auth_type], field: lit(SECRET)})

    with pytest.raises(InvalidSpecError) as caught:
        parse(raw)

    assert [e.path for e in caught.value.errors] == [f"credentials.{field}.value"]
    assert SECRET not in str(caught.value)
    assert all(SECRET not in e.message for e in caught.value.errors)


@pytest.mark.parametrize(
    ("auth_type", "field"), NON_SECRET_FIELDS, ids=[f"{a}.{f}" for a, f in NON_SECRET_FIELDS]
)
def test_a_literal_value_for_a_non_secret_field_is_accepted(auth_type: str, field: str) -> None:
    raw = spec(authType=auth_type, credentials={**BASE_CREDENTIALS[auth_type], field: lit("literal-1")})
    assert (field, LiteralValue("literal-1")) in parse(raw).credentials


@pytest.mark.parametrize(
    "credentials",
    [
        {"key": SECRET},  # the secret pasted where the object belongs
        {"key": {"value": SECRET, "secretKeyRef": {"name": "s", "key": "k"}}},
        {"key": ref("s", "k"), "apiKey": {"value": SECRET}},  # unknown field
        {"key": ref("s", "k"), "pat": {"value": SECRET}},  # field of another authType
    ],
    ids=["plain-string", "value-and-ref", "unknown-field", "foreign-field"],
)
def test_refusals_of_credentials_never_echo_a_value(credentials: dict[str, Any]) -> None:
    with pytest.raises(InvalidSpecError) as caught:
        parse(spec(credentials=credentials))
    assert SECRET not in str(caught.value)


LONG = "a" * 254

REFUSED: list[tuple[str, dict[str, Any], list[str]]] = [
    # authType and category
    ("authType-unknown", spec(authType="Bogus"), ["authType"]),
    ("authType-wrong-case", spec(authType="apikey"), ["authType"]),
    ("authType-missing", spec(authType=DROP), ["authType"]),
    ("category-unknown", spec(category="Bogus"), ["category"]),
    ("category-sdk-casing", spec(category="AzureOpenAi"), ["category"]),
    ("api-version-unsupported", spec(azureApiVersion="2023-10-01"), ["azureApiVersion"]),
    ("api-version-preview", spec(azureApiVersion="2024-04-01-preview"), ["azureApiVersion"]),
    # credentials that do not fit the authType
    ("extra-field", spec(credentials={"key": ref("s", "k"), "pat": ref("s", "p")}), ["credentials.pat"]),
    (
        "unknown-field",
        spec(credentials={"key": ref("s", "k"), "apiKey": ref("s", "k")}),
        ["credentials.apiKey"],
    ),
    (
        "keys-on-ApiKey",
        spec(credentials={"key": ref("s", "k"), "keys": {"secretRef": {"name": "c"}}}),
        ["credentials.keys"],
    ),
    ("missing-required", spec(credentials={}), ["credentials.key"]),
    ("missing-credentials", spec(credentials=DROP), ["credentials.key"]),
    ("credentials-not-object", spec(credentials=["key"]), ["credentials", "credentials.key"]),
    (
        "ServicePrincipal-missing-tenantId",
        spec(authType="ServicePrincipal", credentials={"clientId": lit("c"), "clientSecret": ref("s", "k")}),
        ["credentials.tenantId"],
    ),
    (
        "AccessKey-missing-accessKeyId",
        spec(authType="AccessKey", credentials={"secretAccessKey": ref("s", "k")}),
        ["credentials.accessKeyId"],
    ),
    (
        "UsernamePassword-missing-password",
        spec(authType="UsernamePassword", credentials={"username": lit("u")}),
        ["credentials.password"],
    ),
    (
        "OAuth2-missing-clientSecret",
        spec(authType="OAuth2", credentials={"clientId": lit("c")}),
        ["credentials.clientSecret"],
    ),
    ("CustomKeys-missing-keys", spec(authType="CustomKeys", credentials={}), ["credentials.keys"]),
    (
        "CustomKeys-missing-secretRef",
        spec(authType="CustomKeys", credentials={"keys": {}}),
        ["credentials.keys.secretRef"],
    ),
    (
        "CustomKeys-with-key",
        spec(authType="CustomKeys", credentials={"keys": {"secretRef": {"name": "c"}}, "key": ref("s", "k")}),
        ["credentials.key"],
    ),
    ("None-with-key", spec(authType="None"), ["credentials.key"]),
    ("AAD-with-clientId", spec(authType="AAD", credentials={"clientId": lit("c")}), ["credentials.clientId"]),
    (
        "ManagedIdentity-with-clientSecret",
        spec(
            authType="ManagedIdentity",
            credentials={**BASE_CREDENTIALS["ManagedIdentity"], "clientSecret": ref("s", "k")},
        ),
        ["credentials.clientSecret"],
    ),
    # one of secretKeyRef or value
    (
        "both-ref-and-value",
        spec(
            authType="AccessKey",
            credentials={
                "accessKeyId": {**ref("s", "id"), "value": "AKIA"},
                "secretAccessKey": ref("s", "k"),
            },
        ),
        ["credentials.accessKeyId"],
    ),
    ("neither-ref-nor-value", spec(credentials={"key": {}}), ["credentials.key"]),
    ("field-not-object", spec(credentials={"key": "openai"}), ["credentials.key"]),
    (
        "ref-without-key",
        spec(credentials={"key": {"secretKeyRef": {"name": "openai"}}}),
        ["credentials.key.secretKeyRef.key"],
    ),
    (
        "ref-without-name",
        spec(credentials={"key": {"secretKeyRef": {"key": "k"}}}),
        ["credentials.key.secretKeyRef.name"],
    ),
    # Secret names (DNS-1123 subdomain) and keys
    *[
        (
            f"secret-name-{label}",
            spec(credentials={"key": ref(name, "k")}),
            ["credentials.key.secretKeyRef.name"],
        )
        for label, name in [
            ("dotdot-slash", "../x"),
            ("upper", "Upper"),
            ("slash", "a/b"),
            ("leading-dash", "-x"),
            ("trailing-dash", "x-"),
            ("empty", ""),
            ("underscore", "a_b"),
            ("too-long", LONG),
            ("trailing-newline", "openai\n"),
        ]
    ],
    *[
        (
            f"secret-key-{label}",
            spec(credentials={"key": ref("openai", key)}),
            ["credentials.key.secretKeyRef.key"],
        )
        for label, key in [
            ("slash", "a/b"),
            ("empty", ""),
            ("space", "api key"),
            ("trailing-newline", "api-key\n"),
        ]
    ],
    (
        "CustomKeys-secret-name-upper",
        spec(authType="CustomKeys", credentials={"keys": {"secretRef": {"name": "Upper"}}}),
        ["credentials.keys.secretRef.name"],
    ),
    # connection name
    *[
        (f"connectionName-{label}", spec(connectionName=name), ["connectionName"])
        for label, name in [
            ("too-short", "ab"),
            ("too-long", "a" * 65),
            ("leading-dash", "-abc"),
            ("leading-underscore", "_abc"),
            ("dot", "abc.def"),
            ("space", "abc def"),
            ("empty", ""),
            ("not-a-string", 12345),
            ("trailing-newline", "team-openai\n"),
        ]
    ],
    # workspace
    ("workspace-missing", spec(workspace=DROP), ["workspace"]),
    ("workspace-not-object", spec(workspace="ws-prod"), ["workspace"]),
    *[
        (
            f"subscriptionId-{label}",
            spec(workspace=workspace(subscriptionId=value)),
            ["workspace.subscriptionId"],
        )
        for label, value in [
            ("not-a-guid", "not-a-guid"),
            ("short", "00000000-1111-2222-3333-44444444444"),
            ("braces", "{00000000-1111-2222-3333-444444444444}"),
            ("no-dashes", "00000000111122223333444444444444"),
            ("non-hex", "g0000000-1111-2222-3333-444444444444"),
            ("missing", DROP),
            ("trailing-newline", SUBSCRIPTION + "\n"),
        ]
    ],
    *[
        (
            f"resourceGroup-{label}",
            spec(workspace=workspace(resourceGroup=value)),
            ["workspace.resourceGroup"],
        )
        for label, value in [
            ("empty", ""),
            ("space", "rg ml"),
            ("slash", "rg/ml"),
            ("too-long", "r" * 91),
            ("missing", DROP),
            ("trailing-newline", "rg-ml\n"),
        ]
    ],
    *[
        (f"workspace-name-{label}", spec(workspace=workspace(name=value)), ["workspace.name"])
        for label, value in [
            ("too-short", "ws"),
            ("leading-dash", "-ws"),
            ("too-long", "w" * 34),
            ("dot", "ws.prod"),
            ("missing", DROP),
            ("trailing-newline", "ws-prod\n"),
        ]
    ],
    # expiryTime: RFC 3339 date-time and a real date
    *[
        (f"expiryTime-{label}", spec(expiryTime=value), ["expiryTime"])
        for label, value in [
            ("date-only", "2027-01-01"),
            ("space-separator", "2027-01-01 00:00:00Z"),
            ("no-offset", "2027-01-01T00:00:00"),
            ("words", "tomorrow"),
            ("feb-30", "2025-02-30T00:00:00Z"),
            ("month-13", "2025-13-01T00:00:00Z"),
            ("hour-25", "2025-01-01T25:00:00Z"),
            ("not-leap-year", "2025-02-29T00:00:00+01:00"),
            ("epoch-number", 1798761600),
        ]
    ],
    # metadata
    ("metadata-int-value", spec(metadata={"ApiType": "Azure", "n": 5}), ["metadata.n"]),
    ("metadata-bool-value", spec(metadata={"b": True}), ["metadata.b"]),
    ("metadata-null-value", spec(metadata={"x": None}), ["metadata.x"]),
    ("metadata-object-value", spec(metadata={"o": {"a": "b"}}), ["metadata.o"]),
    ("metadata-too-many", spec(metadata={f"k{i}": "v" for i in range(65)}), ["metadata"]),
    ("metadata-value-too-long", spec(metadata={"k": "v" * 4097}), ["metadata.k"]),
    ("metadata-not-object", spec(metadata="ApiType=Azure"), ["metadata"]),
    # sharing
    ("isSharedToAll-string", spec(isSharedToAll="true"), ["isSharedToAll"]),
    ("isSharedToAll-int", spec(isSharedToAll=1), ["isSharedToAll"]),
    ("sharedUserList-string", spec(sharedUserList="alice"), ["sharedUserList"]),
    ("sharedUserList-item-int", spec(sharedUserList=["alice", 7]), ["sharedUserList[1]"]),
    # the rest
    ("deletionPolicy-unknown", spec(deletionPolicy="Retain"), ["deletionPolicy"]),
    ("deletionPolicy-wrong-case", spec(deletionPolicy="delete"), ["deletionPolicy"]),
    ("adoptionPolicy-unknown", spec(adoptionPolicy="Take"), ["adoptionPolicy"]),
    ("valueFormat-unknown", spec(valueFormat="XML"), ["valueFormat"]),
    (
        "peRequirement-unknown",
        spec(peRequirement="Optional", azureApiVersion="2026-05-01"),
        ["peRequirement"],
    ),
    (
        "peRequirement-wrong-case",
        spec(peRequirement="required", azureApiVersion="2026-05-01"),
        ["peRequirement"],
    ),
    (
        "useWorkspaceManagedIdentity-string",
        spec(useWorkspaceManagedIdentity="true", azureApiVersion="2026-05-01"),
        ["useWorkspaceManagedIdentity"],
    ),
    ("target-too-long", spec(target="t" * 2049), ["target"]),
    ("target-not-string", spec(target=["https://a"]), ["target"]),
]


@pytest.mark.parametrize(("raw", "paths"), [(r, p) for _, r, p in REFUSED], ids=[i for i, _, _ in REFUSED])
def test_refuses_with_field_errors_naming_the_field(raw: dict[str, Any], paths: list[str]) -> None:
    assert sorted(set(error_paths(raw))) == sorted(paths)


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        (spec(workspace="ws-prod"), "workspace"),
        (spec(credentials={"key": {"secretKeyRef": "openai/api-key"}}), "credentials.key.secretKeyRef"),
    ],
    ids=["workspace", "secretKeyRef"],
)
def test_a_present_but_wrongly_typed_object_gets_one_error_not_also_required(
    raw: dict[str, Any], path: str
) -> None:
    with pytest.raises(InvalidSpecError) as caught:
        parse(raw)
    assert [(e.path, "Required value" in e.message) for e in caught.value.errors] == [(path, False)]


@pytest.mark.parametrize("name", ["team.openai", "ab", "a" * 65, "-team", "team-openai\n"])
def test_metadata_name_must_be_a_connection_name_when_connection_name_is_unset(name: str) -> None:
    assert error_paths(spec(), name=name) == ["connectionName"]


ACCEPTED: list[tuple[str, dict[str, Any], str, Any]] = [
    # (id, raw, attribute, expected value)
    ("connectionName-3-chars", spec(connectionName="abc"), "connection_name", "abc"),
    ("connectionName-33-chars", spec(connectionName="a" * 33), "connection_name", "a" * 33),
    # 34 characters: accepted by the real service (tests/fixtures/recordings, e2etest_wps_conn_test_513561481161)
    (
        "connectionName-recorded-34-chars",
        spec(connectionName="e2etest_wps_conn_test_513561481161"),
        "connection_name",
        "e2etest_wps_conn_test_513561481161",
    ),
    ("connectionName-64-chars", spec(connectionName="a" * 64), "connection_name", "a" * 64),
    ("connectionName-mixed", spec(connectionName="A1_b-C"), "connection_name", "A1_b-C"),
    (
        "subscriptionId-upper-hex",
        spec(workspace=workspace(subscriptionId="ABCDEF00-1111-2222-3333-444444444444")),
        "workspace",
        WorkspaceRef("ABCDEF00-1111-2222-3333-444444444444", "rg-ml", "ws-prod"),
    ),
    (
        "resourceGroup-1-char",
        spec(workspace=workspace(resourceGroup="r")),
        "workspace",
        WorkspaceRef(SUBSCRIPTION, "r", "ws-prod"),
    ),
    (
        "resourceGroup-90-chars",
        spec(workspace=workspace(resourceGroup="r" * 90)),
        "workspace",
        WorkspaceRef(SUBSCRIPTION, "r" * 90, "ws-prod"),
    ),
    (
        "resourceGroup-punctuation",
        spec(workspace=workspace(resourceGroup="rg.ml_(prod)-1")),
        "workspace",
        WorkspaceRef(SUBSCRIPTION, "rg.ml_(prod)-1", "ws-prod"),
    ),
    (
        "workspace-name-33-chars",
        spec(workspace=workspace(name="w" * 33)),
        "workspace",
        WorkspaceRef(SUBSCRIPTION, "rg-ml", "w" * 33),
    ),
    (
        "expiryTime-fraction-offset",
        spec(expiryTime="2027-01-01T00:00:00.123+02:00"),
        "expiry_time",
        "2027-01-01T00:00:00.123+02:00",
    ),
    ("expiryTime-lower-case", spec(expiryTime="2027-01-01t00:00:00z"), "expiry_time", "2027-01-01t00:00:00z"),
    ("expiryTime-leap-day", spec(expiryTime="2028-02-29T12:00:00Z"), "expiry_time", "2028-02-29T12:00:00Z"),
    (
        "metadata-64-entries",
        spec(metadata={f"k{i:02}": "v" for i in range(64)}),
        "metadata",
        tuple((f"k{i:02}", "v") for i in range(64)),
    ),
    ("metadata-empty", spec(metadata={}), "metadata", ()),
    ("isSharedToAll-false", spec(isSharedToAll=False), "is_shared_to_all", False),
    ("sharedUserList", spec(sharedUserList=["alice", "bob"]), "shared_user_list", ("alice", "bob")),
    (
        "secret-name-dotted",
        spec(credentials={"key": ref("team.openai-1", "API_key.v2")}),
        "credentials",
        (("key", SecretKeyRef("team.openai-1", "API_key.v2")),),
    ),
    (
        "UsernamePassword-with-securityToken",
        spec(
            authType="UsernamePassword",
            credentials={"username": lit("u"), "password": ref("s", "p"), "securityToken": ref("s", "t")},
        ),
        "credentials",
        (
            ("username", LiteralValue("u")),
            ("password", SecretKeyRef("s", "p")),
            ("securityToken", SecretKeyRef("s", "t")),
        ),
    ),
    ("None-with-empty-credentials", spec(authType="None", credentials={}), "credentials", ()),
    ("unknown-top-level-keys-ignored", spec(group="AzureAI"), "auth_type", "ApiKey"),
]


@pytest.mark.parametrize(
    ("raw", "attribute", "expected"), [(r, a, e) for _, r, a, e in ACCEPTED], ids=[i for i, *_ in ACCEPTED]
)
def test_accepts_edge_values(raw: dict[str, Any], attribute: str, expected: Any) -> None:
    assert getattr(parse(raw), attribute) == expected


def test_reports_every_error_together() -> None:
    raw = spec(
        authType="Bogus",
        connectionName="x",
        workspace=workspace(subscriptionId="nope", name="w"),
        expiryTime="later",
        isSharedToAll="yes",
        metadata={"n": 1},
    )

    with pytest.raises(InvalidSpecError) as caught:
        parse(raw)

    paths = [e.path for e in caught.value.errors]
    assert sorted(paths) == sorted(
        [
            "authType",
            "connectionName",
            "workspace.subscriptionId",
            "workspace.name",
            "expiryTime",
            "isSharedToAll",
            "metadata.n",
        ]
    )
    for path in paths:
        assert f"spec.{path}: " in str(caught.value)


@pytest.mark.parametrize("raw", [None, "spec", ["authType"]], ids=["null", "string", "list"])
def test_a_spec_that_is_not_an_object_is_refused(raw: Any) -> None:
    assert error_paths(raw) == [""]


def test_field_error_renders_with_the_spec_prefix() -> None:
    assert str(FieldError("workspace.name", "Required value")) == "spec.workspace.name: Required value"


def test_secret_names_are_every_secret_the_spec_reads() -> None:
    raw = spec(
        authType="OAuth2",
        credentials={
            "clientId": ref("ids", "client"),
            "clientSecret": ref("oauth", "secret"),
            "refreshToken": ref("oauth", "refresh"),
            "tenantId": lit("t"),
        },
    )
    assert parse(raw).secret_names() == frozenset({"ids", "oauth"})


def test_custom_keys_secret_is_among_the_secret_names() -> None:
    raw = spec(authType="CustomKeys", credentials={"keys": {"secretRef": {"name": "custom"}}})
    assert parse(raw).secret_names() == frozenset({"custom"})


def test_parsed_spec_is_frozen() -> None:
    parsed = parse(spec())
    with pytest.raises(dataclasses.FrozenInstanceError):
        parsed.connection_name = "other"  # type: ignore[misc]
