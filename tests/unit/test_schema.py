"""validate_body: the PUT body against the pinned contract, with messages that name the path and never the value.

2024-04-01 and 2025-06-01 are checked against the swagger subsets, later versions against the bicep-types
subsets (NEWER-VERSIONS.md); where the two kinds say different things (formats, closed objects) the tests
below say which versions they hold for. Every offending value below contains CANARY; no problem message may
contain it, because in real bodies the offending value can be a credential.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from wsconn.core.schema import BodyInvalidError, request_schema, validate_body

CANARY = "SECRET-canary-5d1e"
ALL = ("2024-04-01", "2025-06-01", "2025-09-01", "2025-12-01", "2026-05-01")
SWAGGER = ALL[:2]
BICEP = ALL[2:]
WITH_VALUE = ALL[:3]
WITH_PE_REQUIREMENT = ALL[3:]

# A valid `properties` per authType (CONNECTIONS.md §5).
BASE: dict[str, dict[str, Any]] = {
    "None": {"authType": "None"},
    "AAD": {"authType": "AAD"},
    "PAT": {"authType": "PAT", "credentials": {"pat": "p"}},
    "SAS": {"authType": "SAS", "credentials": {"sas": "s"}},
    "ApiKey": {"authType": "ApiKey", "credentials": {"key": "k"}},
    "AccountKey": {"authType": "AccountKey", "credentials": {"key": "k"}},
    "AccessKey": {"authType": "AccessKey", "credentials": {"accessKeyId": "a", "secretAccessKey": "s"}},
    "UsernamePassword": {"authType": "UsernamePassword", "credentials": {"username": "u", "password": "p"}},
    "ServicePrincipal": {
        "authType": "ServicePrincipal",
        "credentials": {"clientId": "c", "clientSecret": "s", "tenantId": "t"},
    },
    "ManagedIdentity": {"authType": "ManagedIdentity", "credentials": {"clientId": "c", "resourceId": "/r"}},
    "OAuth2": {
        "authType": "OAuth2",
        "credentials": {"clientId": "33333333-4444-5555-6666-777777777777", "clientSecret": "s"},
    },
    "CustomKeys": {"authType": "CustomKeys", "credentials": {"keys": {"a": "b"}}},
}
AUTH_TYPES = list(BASE)

# CONNECTIONS.md §4/§5: where the contract sets additionalProperties: false.
CLOSED_SUBTYPES = ["None", "PAT", "SAS", "UsernamePassword", "ManagedIdentity"]
OPEN_SUBTYPES = ["AAD", "AccessKey", "AccountKey", "ApiKey", "CustomKeys", "OAuth2", "ServicePrincipal"]
CLOSED_CREDENTIALS = ["AccountKey", "ManagedIdentity", "PAT", "SAS", "UsernamePassword"]
OPEN_CREDENTIALS = ["AccessKey", "ApiKey", "CustomKeys", "OAuth2", "ServicePrincipal"]


def body(auth_type: str = "ApiKey", **properties: Any) -> dict[str, Any]:
    props = copy.deepcopy(BASE[auth_type])
    props.update(properties)
    return {"properties": props}


def problems(candidate: Any, api_version: str) -> list[str]:
    with pytest.raises(BodyInvalidError) as caught:
        validate_body(candidate, api_version)
    assert CANARY not in str(caught.value)
    for problem in caught.value.problems:
        assert CANARY not in problem
    return caught.value.problems


def assert_problem_at(found: list[str], path: str, fragment: str) -> None:
    """Every problem is about `path`, and one of them says `fragment`."""
    assert found, "expected at least one problem"
    assert {p.split(": ", 1)[0] for p in found} == {path}, found
    assert any(fragment in p for p in found), found


@pytest.mark.parametrize("api_version", ALL)
@pytest.mark.parametrize("auth_type", AUTH_TYPES)
def test_a_minimal_body_of_every_auth_type_is_valid(auth_type: str, api_version: str) -> None:
    validate_body(body(auth_type), api_version)


WRONG_TYPES: list[tuple[str, dict[str, Any], str, str]] = [
    ("target-list", body(target=[CANARY]), "properties.target", "must be type string"),
    ("isSharedToAll-string", body(isSharedToAll=CANARY), "properties.isSharedToAll", "must be type boolean"),
    ("metadata-string", body(metadata=CANARY), "properties.metadata", "must be type object"),
    ("metadata-value-list", body(metadata={"k": [CANARY]}), "properties.metadata.k", "must be type string"),
    ("sharedUserList-string", body(sharedUserList=CANARY), "properties.sharedUserList", "must be type array"),
    (
        "sharedUserList-item-list",
        body(sharedUserList=["alice", [CANARY]]),
        "properties.sharedUserList.1",
        "must be type string",
    ),
    ("expiryTime-list", body(expiryTime=[CANARY]), "properties.expiryTime", "must be type string"),
    ("credentials-string", body(credentials=CANARY), "properties.credentials", "must be type object"),
    (
        "credential-list",
        body(credentials={"key": [CANARY]}),
        "properties.credentials.key",
        "must be type string",
    ),
    (
        "credential-object",
        body("PAT", credentials={"pat": {"v": CANARY}}),
        "properties.credentials.pat",
        "must be type string",
    ),
    (
        "custom-keys-not-object",
        body("CustomKeys", credentials={"keys": CANARY}),
        "properties.credentials.keys",
        "must be type object",
    ),
    (
        "custom-key-value-list",
        body("CustomKeys", credentials={"keys": {"a": [CANARY]}}),
        "properties.credentials.keys.a",
        "must be type string",
    ),
    (
        "category-enum",
        body(category=f"{CANARY}-category"),
        "properties.category",
        "not one of the allowed values",
    ),
    (
        "category-wrong-case",
        body(category="AzureOpenAi"),
        "properties.category",
        "not one of the allowed values",
    ),
]


@pytest.mark.parametrize("api_version", ALL)
@pytest.mark.parametrize(
    ("candidate", "path", "fragment"), [c[1:] for c in WRONG_TYPES], ids=[c[0] for c in WRONG_TYPES]
)
def test_wrong_types_and_values_are_refused_by_path(
    candidate: dict[str, Any], path: str, fragment: str, api_version: str
) -> None:
    assert_problem_at(problems(candidate, api_version), path, fragment)


VERSIONED_WRONG: list[tuple[str, dict[str, Any], str, str, tuple[str, ...]]] = [
    ("value-list", body(value=[CANARY]), "properties.value", "must be type string", WITH_VALUE),
    (
        "valueFormat-enum",
        body(valueFormat=CANARY),
        "properties.valueFormat",
        "not one of the allowed values",
        WITH_VALUE,
    ),
    (
        "peRequirement-enum",
        body(peRequirement=CANARY),
        "properties.peRequirement",
        "not one of the allowed values",
        WITH_PE_REQUIREMENT,
    ),
    (
        "useWorkspaceManagedIdentity-string",
        body(useWorkspaceManagedIdentity=CANARY),
        "properties.useWorkspaceManagedIdentity",
        "must be type boolean",
        WITH_PE_REQUIREMENT,
    ),
]


@pytest.mark.parametrize(
    ("candidate", "path", "fragment", "api_version"),
    [(c[1], c[2], c[3], v) for c in VERSIONED_WRONG for v in c[4]],
    ids=[f"{c[0]}@{v}" for c in VERSIONED_WRONG for v in c[4]],
)
def test_wrong_values_of_versioned_fields_are_refused_where_the_field_exists(
    candidate: dict[str, Any], path: str, fragment: str, api_version: str
) -> None:
    assert_problem_at(problems(candidate, api_version), path, fragment)


VERSIONED_FIELDS: list[tuple[str, Any, tuple[str, ...]]] = [
    ("value", "", WITH_VALUE),
    ("valueFormat", "JSON", WITH_VALUE),
    ("peRequirement", "NotRequired", WITH_PE_REQUIREMENT),
    ("useWorkspaceManagedIdentity", False, WITH_PE_REQUIREMENT),
]


@pytest.mark.parametrize(
    ("field", "value", "api_version"),
    [(f, v, version) for f, v, versions in VERSIONED_FIELDS for version in versions],
    ids=[f"{f}@{version}" for f, _, versions in VERSIONED_FIELDS for version in versions],
)
@pytest.mark.parametrize("auth_type", AUTH_TYPES)
def test_a_versioned_field_is_accepted_on_the_versions_that_have_it(
    field: str, value: Any, api_version: str, auth_type: str
) -> None:
    validate_body(body(auth_type, **{field: value}), api_version)


@pytest.mark.parametrize(
    ("field", "value", "api_version"),
    [(f, v, version) for f, v, versions in VERSIONED_FIELDS for version in ALL if version not in versions],
    ids=[
        f"{f}@{version}" for f, _, versions in VERSIONED_FIELDS for version in ALL if version not in versions
    ],
)
@pytest.mark.parametrize("auth_type", AUTH_TYPES)
def test_a_versioned_field_is_refused_on_the_versions_that_lack_it(
    field: str, value: Any, api_version: str, auth_type: str
) -> None:
    # Also where the contract leaves the object open: another version defines the field, this one does not.
    assert problems(body(auth_type, **{field: value}), api_version) == [
        f"properties.{field}: not in api-version {api_version}; must not be sent"
    ]


@pytest.mark.parametrize("api_version", SWAGGER)
@pytest.mark.parametrize(
    "value",
    [
        CANARY,
        "2025-02-30T00:00:00Z",
        "2027-01-01 00:00:00Z",
        "2027-01-01",
        "2027-01-01T00:00:00",
        f"2027-01-01T00:00:00Z{CANARY}",
    ],
)
def test_a_bad_date_time_is_refused(value: str, api_version: str) -> None:
    found = problems(body(expiryTime=value), api_version)
    assert found == ["properties.expiryTime: must be format date-time"]
    assert value not in " ".join(found)


@pytest.mark.parametrize("api_version", ALL)
@pytest.mark.parametrize("value", ["2027-01-01T00:00:00Z", "2027-01-01T00:00:00.1234567+05:30"])
def test_a_good_date_time_is_accepted(value: str, api_version: str) -> None:
    validate_body(body(expiryTime=value), api_version)


@pytest.mark.parametrize("api_version", BICEP)
def test_bicep_versions_state_no_string_formats(api_version: str) -> None:
    # bicep-types model expiryTime and authUrl as plain strings: the contract of these versions gives nothing
    # to check them against (the parser still refuses a bad expiryTime on every version).
    validate_body(body(expiryTime="next tuesday"), api_version)
    credentials = {"clientId": "33333333-4444-5555-6666-777777777777", "clientSecret": "s", "authUrl": "/x"}
    validate_body(body("OAuth2", credentials=credentials), api_version)


@pytest.mark.parametrize("api_version", SWAGGER)
@pytest.mark.parametrize(
    ("field", "value", "rule"),
    [
        ("clientId", CANARY, "uuid"),
        ("clientId", "", "uuid"),
        ("authUrl", CANARY, "url"),
        ("authUrl", "/x", "url"),
    ],
)
def test_oauth2_formats_are_checked_before_sending(
    field: str, value: str, rule: str, api_version: str
) -> None:
    credentials = {"clientId": "33333333-4444-5555-6666-777777777777", "clientSecret": "s", field: value}
    found = problems(body("OAuth2", credentials=credentials), api_version)
    assert found == [f"properties.credentials.{field}: must be format {rule}"]
    assert CANARY not in " ".join(found)


@pytest.mark.parametrize("api_version", BICEP)
@pytest.mark.parametrize(
    ("value", "rule"),
    [(CANARY, "pattern"), ("", "minLength"), ("33333333-4444-5555-6666-7777777777778", "maxLength")],
)
def test_oauth2_client_id_is_a_uuid_on_bicep_versions_too(value: str, rule: str, api_version: str) -> None:
    # bicep-types give clientId a pattern and a length of 36 instead of swagger's `format: uuid`.
    found = problems(body("OAuth2", credentials={"clientId": value, "clientSecret": "s"}), api_version)
    assert f"properties.credentials.clientId: fails {rule}" in found
    assert {p.split(": ", 1)[0] for p in found} == {"properties.credentials.clientId"}


def test_problems_read_as_spec_field_paths() -> None:
    error = BodyInvalidError(["properties.credentials.clientId: must be format uuid", "(body): x"])
    assert error.in_spec_terms() == "spec.credentials.clientId: must be format uuid; (body): x"


def test_good_oauth2_formats_are_accepted() -> None:
    credentials = {
        "clientId": "33333333-4444-5555-6666-777777777777",
        "authUrl": "https://login.example.com/oauth",
        "clientSecret": "s",
    }
    validate_body(body("OAuth2", credentials=credentials), "2025-06-01")


@pytest.mark.parametrize("category", ["Pinecone", "Elasticsearch", "ManagedOnlineEndpoint"])
def test_categories_new_in_2025_are_refused_on_2024(category: str) -> None:
    assert_problem_at(
        problems(body(category=category), "2024-04-01"),
        "properties.category",
        "not one of the allowed values",
    )


@pytest.mark.parametrize("api_version", ALL[1:])
@pytest.mark.parametrize("category", ["Pinecone", "Elasticsearch", "ManagedOnlineEndpoint"])
def test_categories_new_in_2025_are_accepted_from_2025_06_01(category: str, api_version: str) -> None:
    validate_body(body(category=category), api_version)


# NEWER-VERSIONS.md §3: the fifteen categories 2025-12-01 adds.
NEW_IN_2025_12 = [
    "AzureKeyVault", "AzureContainerAppEnvironment", "AzureStorageAccount", "Databricks", "RemoteTool",
    "AppInsights", "AppConfig", "ApiManagement", "ModelGateway", "GroundingWithBingSearch",
    "GroundingWithCustomSearch", "Sharepoint", "MicrosoftFabric", "PowerPlatformEnvironment", "RemoteA2A",
]  # fmt: skip


@pytest.mark.parametrize("api_version", WITH_PE_REQUIREMENT)
@pytest.mark.parametrize("category", NEW_IN_2025_12)
def test_categories_new_in_2025_12_are_accepted_from_2025_12_01(category: str, api_version: str) -> None:
    validate_body(body(category=category), api_version)


@pytest.mark.parametrize("api_version", WITH_VALUE)
@pytest.mark.parametrize("category", NEW_IN_2025_12)
def test_categories_new_in_2025_12_are_refused_before(category: str, api_version: str) -> None:
    assert_problem_at(
        problems(body(category=category), api_version), "properties.category", "not one of the allowed values"
    )


@pytest.mark.parametrize("api_version", SWAGGER)
@pytest.mark.parametrize("auth_type", CLOSED_SUBTYPES)
def test_unknown_properties_are_refused_where_the_contract_closes_the_subtype(
    auth_type: str, api_version: str
) -> None:
    found = problems(body(auth_type, bogusField=CANARY), api_version)
    assert found == ["properties: unexpected properties bogusField"]


@pytest.mark.parametrize(
    ("auth_type", "api_version"),
    [(a, v) for a in OPEN_SUBTYPES for v in SWAGGER] + [(a, v) for a in AUTH_TYPES for v in BICEP],
)
def test_unknown_properties_are_allowed_where_the_contract_leaves_the_subtype_open(
    auth_type: str, api_version: str
) -> None:
    # bicep-types never close an object; a property no supported version knows is the service's to judge.
    validate_body(body(auth_type, someFutureProperty="x"), api_version)


@pytest.mark.parametrize("api_version", SWAGGER)
@pytest.mark.parametrize("auth_type", CLOSED_CREDENTIALS)
def test_unknown_credential_fields_are_refused_where_the_contract_closes_them(
    auth_type: str, api_version: str
) -> None:
    credentials = {**BASE[auth_type]["credentials"], "extraSecret": CANARY}
    found = problems(body(auth_type, credentials=credentials), api_version)
    assert found == ["properties.credentials: unexpected properties extraSecret"]


@pytest.mark.parametrize(
    ("auth_type", "api_version"),
    [(a, v) for a in OPEN_CREDENTIALS for v in SWAGGER]
    + [(a, v) for a in AUTH_TYPES if "credentials" in BASE[a] for v in BICEP],
)
def test_unknown_credential_fields_are_allowed_where_the_contract_leaves_them_open(
    auth_type: str, api_version: str
) -> None:
    credentials = {**BASE[auth_type]["credentials"], "extra": "x"}
    validate_body(body(auth_type, credentials=credentials), api_version)


@pytest.mark.parametrize("api_version", SWAGGER)
def test_account_key_as_sas_is_refused(api_version: str) -> None:
    found = problems(body("AccountKey", credentials={"sas": CANARY}), api_version)
    assert found == ["properties.credentials: unexpected properties sas"]


@pytest.mark.parametrize("api_version", ALL)
@pytest.mark.parametrize("field", ["id", "name", "type", "systemData", "location"])
def test_envelope_fields_are_refused(field: str, api_version: str) -> None:
    found = problems({**body(), field: CANARY}, api_version)
    assert found == [f"(body): unexpected properties {field}"]


@pytest.mark.parametrize("api_version", ALL)
@pytest.mark.parametrize("field", ["group", "createdByWorkspaceArmId"])
@pytest.mark.parametrize("auth_type", AUTH_TYPES)
def test_read_only_properties_are_refused_for_every_auth_type(
    auth_type: str, field: str, api_version: str
) -> None:
    found = problems(body(auth_type, **{field: CANARY}), api_version)
    assert found == [f"properties.{field}: read-only; must not be sent"]


@pytest.mark.parametrize("api_version", ALL)
@pytest.mark.parametrize("field", ["error", "peStatus", "isDefault"])
@pytest.mark.parametrize("auth_type", AUTH_TYPES)
def test_properties_the_service_sets_are_refused_for_every_auth_type(
    auth_type: str, field: str, api_version: str
) -> None:
    # The recordings show the service reporting these on every response; bicep-types leave error and peStatus
    # writable and do not model isDefault, but no client sends them and neither does the operator.
    found = problems(body(auth_type, **{field: CANARY}), api_version)
    assert found == [f"properties.{field}: server-owned; must not be sent"]


@pytest.mark.parametrize(
    ("candidate", "expected"),
    [
        ({}, ["properties: must be an object"]),
        ({"properties": {}}, ["properties.authType: required"]),
        ({"properties": {"authType": ["ApiKey"]}}, ["properties.authType: required"]),
        ([CANARY], ["properties: must be an object"]),
        (CANARY, ["properties: must be an object"]),
    ],
    ids=["empty", "no-authType", "authType-list", "body-list", "body-string"],
)
def test_a_body_without_an_auth_type_is_refused(candidate: Any, expected: list[str]) -> None:
    assert problems(candidate, "2025-06-01") == expected


@pytest.mark.parametrize(
    "candidate",
    [{"properties": CANARY}, {"properties": [CANARY]}, {"properties": None}],
    ids=["string", "list", "null"],
)
def test_properties_that_are_not_an_object_are_refused(candidate: dict[str, Any]) -> None:
    found = problems(candidate, "2025-06-01")
    assert all(p.startswith("properties") for p in found)


@pytest.mark.parametrize("api_version", ALL)
def test_an_unknown_auth_type_is_refused(api_version: str) -> None:
    found = problems({"properties": {"authType": "Kerberos"}}, api_version)
    assert len(found) == 1
    assert found[0].startswith("properties.authType: ")


def test_every_problem_is_reported_sorted() -> None:
    found = problems(
        body("PAT", target=7, isSharedToAll=CANARY, expiryTime=CANARY, bogus=1),
        "2025-06-01",
    )
    assert found == [
        "properties.expiryTime: must be format date-time",
        "properties.isSharedToAll: must be type boolean",
        "properties.target: must be type string",
        "properties: unexpected properties bogus",
    ]


def test_an_unsupported_api_version_has_no_schema() -> None:
    with pytest.raises(KeyError):
        request_schema("2023-10-01", "ApiKey")


def test_an_unsupported_api_version_is_refused() -> None:
    with pytest.raises(BodyInvalidError, match="2023-10-01"):
        validate_body(body(), "2023-10-01")
