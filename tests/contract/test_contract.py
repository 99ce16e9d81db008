"""The authType table and the golden bodies against the pinned swagger subsets (arm/contract/).

The swagger is read here with plain dict walking, not through core/schema.py, so these checks do not share
code with what they check. Expected facts from specs/CONNECTIONS.md §4-§6 are written out.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.golden import CASE_IDS, CASES, Golden
from wsconn.api import contract
from wsconn.api.authtypes import AUTH_TYPES, is_secret_field

BOTH = ("2024-04-01", "2025-06-01")

# CONNECTIONS.md §5: authType -> (subtype definition, credentials definition or None).
SUBTYPES: dict[str, tuple[str, str | None]] = {
    "AAD": ("AADAuthTypeWorkspaceConnectionProperties", None),
    "AccessKey": ("AccessKeyAuthTypeWorkspaceConnectionProperties", "WorkspaceConnectionAccessKey"),
    "AccountKey": ("AccountKeyAuthTypeWorkspaceConnectionProperties", "WorkspaceConnectionAccountKey"),
    "ApiKey": ("ApiKeyAuthWorkspaceConnectionProperties", "WorkspaceConnectionApiKey"),
    "CustomKeys": ("CustomKeysWorkspaceConnectionProperties", "CustomKeys"),
    "ManagedIdentity": (
        "ManagedIdentityAuthTypeWorkspaceConnectionProperties",
        "WorkspaceConnectionManagedIdentity",
    ),
    "None": ("NoneAuthTypeWorkspaceConnectionProperties", None),
    "OAuth2": ("OAuth2AuthTypeWorkspaceConnectionProperties", "WorkspaceConnectionOAuth2"),
    "PAT": ("PATAuthTypeWorkspaceConnectionProperties", "WorkspaceConnectionPersonalAccessToken"),
    "SAS": ("SASAuthTypeWorkspaceConnectionProperties", "WorkspaceConnectionSharedAccessSignature"),
    "ServicePrincipal": (
        "ServicePrincipalAuthTypeWorkspaceConnectionProperties",
        "WorkspaceConnectionServicePrincipal",
    ),
    "UsernamePassword": (
        "UsernamePasswordAuthTypeWorkspaceConnectionProperties",
        "WorkspaceConnectionUsernamePassword",
    ),
}

# CONNECTIONS.md §5: the credential fields marked x-ms-secret.
X_MS_SECRET = {
    ("AccountKey", "key"),
    ("OAuth2", "clientSecret"),
    ("OAuth2", "developerToken"),
    ("OAuth2", "password"),
    ("OAuth2", "refreshToken"),
    ("ServicePrincipal", "clientSecret"),
    ("UsernamePassword", "securityToken"),
}

NEW_IN_2025 = {"Pinecone", "Elasticsearch", "ManagedOnlineEndpoint"}


def definitions(api_version: str) -> dict[str, Any]:
    defs: dict[str, Any] = contract.swagger(api_version)["definitions"]
    return defs


def local_ref(node: dict[str, Any]) -> str:
    ref: str = node["$ref"]
    assert ref.startswith("#/definitions/"), ref
    return ref.removeprefix("#/definitions/")


def credentials_definition(api_version: str, auth_type: str) -> dict[str, Any] | None:
    subtype = definitions(api_version)[SUBTYPES[auth_type][0]]
    node = subtype.get("properties", {}).get("credentials")
    return None if node is None else definitions(api_version)[local_ref(node)]


@pytest.mark.parametrize("api_version", BOTH)
def test_auth_type_enum_is_the_twelve_of_the_table(api_version: str) -> None:
    enum = definitions(api_version)["ConnectionAuthType"]["enum"]
    assert sorted(enum) == sorted(SUBTYPES)
    assert sorted(AUTH_TYPES) == sorted(SUBTYPES)


def test_auth_type_enum_is_identical_across_api_versions() -> None:
    assert definitions("2024-04-01")["ConnectionAuthType"] == definitions("2025-06-01")["ConnectionAuthType"]
    assert contract.auth_types() == tuple(definitions("2024-04-01")["ConnectionAuthType"]["enum"])


def test_2025_categories_are_2024_plus_exactly_three() -> None:
    old = definitions("2024-04-01")["ConnectionCategory"]["enum"]
    new = definitions("2025-06-01")["ConnectionCategory"]["enum"]
    assert len(old) == len(set(old))
    assert len(new) == len(set(new))
    assert set(old) <= set(new)
    assert set(new) - set(old) == NEW_IN_2025


def test_contract_module_reads_the_same_categories() -> None:
    assert contract.categories("2024-04-01") == tuple(definitions("2024-04-01")["ConnectionCategory"]["enum"])
    assert contract.categories("2025-06-01") == tuple(definitions("2025-06-01")["ConnectionCategory"]["enum"])
    assert set(contract.all_categories()) == set(contract.categories("2025-06-01"))
    assert len(contract.all_categories()) == len(contract.categories("2025-06-01"))


def test_supported_api_versions() -> None:
    assert contract.API_VERSIONS == BOTH
    with pytest.raises(KeyError):
        contract.swagger("2023-10-01")


@pytest.mark.parametrize("api_version", BOTH)
@pytest.mark.parametrize("auth_type", sorted(SUBTYPES))
def test_each_auth_type_has_its_subtype(auth_type: str, api_version: str) -> None:
    subtype_name, credentials_name = SUBTYPES[auth_type]
    subtype = definitions(api_version)[subtype_name]
    assert subtype["x-ms-discriminator-value"] == auth_type
    assert {"$ref": "#/definitions/WorkspaceConnectionPropertiesV2"} in subtype["allOf"]
    node = subtype.get("properties", {}).get("credentials")
    assert (None if node is None else local_ref(node)) == credentials_name


@pytest.mark.parametrize("api_version", BOTH)
def test_every_discriminator_value_has_exactly_one_subtype(api_version: str) -> None:
    values = [
        d["x-ms-discriminator-value"]
        for d in definitions(api_version).values()
        if "x-ms-discriminator-value" in d
    ]
    assert sorted(values) == sorted(SUBTYPES)


@pytest.mark.parametrize("api_version", BOTH)
@pytest.mark.parametrize("auth_type", sorted(SUBTYPES))
def test_table_fields_are_the_contract_credential_properties(auth_type: str, api_version: str) -> None:
    auth = AUTH_TYPES[auth_type]
    definition = credentials_definition(api_version, auth_type)
    contract_fields = set() if definition is None else set(definition["properties"])
    table_fields = {f.name for f in auth.fields} | ({"keys"} if auth.whole_secret else set())
    assert table_fields == contract_fields


@pytest.mark.parametrize("api_version", BOTH)
def test_account_key_credentials_are_key(api_version: str) -> None:
    definition = credentials_definition(api_version, "AccountKey")
    assert definition is not None
    assert set(definition["properties"]) == {"key"}
    assert [f.name for f in AUTH_TYPES["AccountKey"].fields] == ["key"]


@pytest.mark.parametrize("api_version", BOTH)
def test_custom_keys_credentials_are_a_string_map(api_version: str) -> None:
    definition = credentials_definition(api_version, "CustomKeys")
    assert definition is not None
    assert definition["properties"]["keys"] == {"type": "object", "additionalProperties": {"type": "string"}}


@pytest.mark.parametrize("api_version", BOTH)
def test_every_credential_property_is_a_string_except_custom_keys(api_version: str) -> None:
    for auth_type in SUBTYPES:
        definition = credentials_definition(api_version, auth_type)
        if definition is None or auth_type == "CustomKeys":
            continue
        for name, prop in definition["properties"].items():
            assert prop["type"] == "string", (auth_type, name)


def test_a_field_is_secret_for_every_auth_type_or_for_none() -> None:
    by_name: dict[str, set[bool]] = {}
    for auth in AUTH_TYPES.values():
        for f in auth.fields:
            by_name.setdefault(f.name, set()).add(f.secret)
    assert {name: flags for name, flags in by_name.items() if len(flags) > 1} == {}
    for name, flags in by_name.items():
        assert is_secret_field(name) is flags.pop()


@pytest.mark.parametrize("api_version", BOTH)
def test_contract_secrets_are_the_expected_ones(api_version: str) -> None:
    marked = set()
    for auth_type in SUBTYPES:
        definition = credentials_definition(api_version, auth_type)
        for name, prop in (definition or {}).get("properties", {}).items():
            if prop.get("x-ms-secret"):
                marked.add((auth_type, name))
    assert marked == X_MS_SECRET


@pytest.mark.parametrize(("auth_type", "field"), sorted(X_MS_SECRET))
def test_fields_the_contract_marks_secret_are_secrets_in_the_table(auth_type: str, field: str) -> None:
    table_field = AUTH_TYPES[auth_type].field(field)
    assert table_field is not None
    assert table_field.secret


def test_design_secrets_are_secrets_in_the_table() -> None:
    # DESIGN §2 marks these `*` although the contract leaves some unmarked (pat, sas, ApiKey key, ...).
    secrets = {(a.name, f.name) for a in AUTH_TYPES.values() for f in a.fields if f.secret}
    assert secrets == X_MS_SECRET | {
        ("PAT", "pat"),
        ("SAS", "sas"),
        ("ApiKey", "key"),
        ("AccessKey", "secretAccessKey"),
        ("UsernamePassword", "password"),
    }


@pytest.mark.parametrize("api_version", BOTH)
def test_closed_subtypes_are_the_documented_ones(api_version: str) -> None:
    closed = {
        a
        for a, (name, _) in SUBTYPES.items()
        if definitions(api_version)[name].get("additionalProperties") is False
    }
    assert closed == {"None", "PAT", "SAS", "UsernamePassword", "ManagedIdentity"}


@pytest.mark.parametrize("api_version", BOTH)
def test_read_only_properties_are_group_and_created_by(api_version: str) -> None:
    props = definitions(api_version)["WorkspaceConnectionPropertiesV2"]["properties"]
    assert {name for name, p in props.items() if p.get("readOnly")} == {"group", "createdByWorkspaceArmId"}


def test_name_patterns_are_the_documented_ones() -> None:
    assert contract.name_pattern() == "^[a-zA-Z0-9][a-zA-Z0-9_-]{2,32}$"
    assert contract.workspace_name_pattern() == "^[a-zA-Z0-9][a-zA-Z0-9_-]{2,32}$"
    group = contract.resource_group_parameter()
    assert (group["pattern"], group["minLength"], group["maxLength"]) == (r"^[-\w\._\(\)]+$", 1, 90)


# ---- golden bodies vs the swagger, read directly ---------------------------------------------------------


@pytest.mark.parametrize(("golden", "api_version"), CASES, ids=CASE_IDS)
def test_golden_body_fits_the_swagger(golden: Golden, api_version: str) -> None:
    defs = definitions(api_version)
    props = golden.body["properties"]
    assert set(golden.body) == {"properties"}
    base = defs["WorkspaceConnectionPropertiesV2"]["properties"]
    writable = {name for name, p in base.items() if not p.get("readOnly")}
    assert set(props) - {"credentials"} <= writable
    assert props["authType"] in defs["ConnectionAuthType"]["enum"]
    if "category" in props:
        assert props["category"] in defs["ConnectionCategory"]["enum"]
    if "valueFormat" in props:
        assert props["valueFormat"] in base["valueFormat"]["enum"]
    definition = credentials_definition(api_version, props["authType"])
    if definition is None:
        assert "credentials" not in props
    else:
        assert set(props["credentials"]) <= set(definition["properties"])
        for value in props["credentials"].values():
            assert isinstance(value, str | dict)
