"""The authType table and the golden bodies against the pinned contract files (arm/contract/): the swagger
subsets of 2024-04-01 and 2025-06-01 and the bicep-types subsets of 2025-06-01 to 2026-05-01.

The files are read here with plain dict walking, not through api/contract.py or core/schema.py, so these
checks do not share code with what they check. Expected facts from CONNECTIONS.md §4-§6 and
NEWER-VERSIONS.md §3 are written out.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

import pytest

from tests.unit.golden import CASE_IDS, CASES, Golden
from wsconn.api import contract
from wsconn.api.authtypes import AUTH_TYPES, is_secret_field

BOTH = ("2024-04-01", "2025-06-01")
ALL = ("2024-04-01", "2025-06-01", "2025-09-01", "2025-12-01", "2026-05-01")
BICEP = ("2025-06-01", "2025-09-01", "2025-12-01", "2026-05-01")

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
    assert set(contract.all_categories()) == set(contract.categories("2026-05-01"))
    assert len(contract.all_categories()) == len(contract.categories("2026-05-01")) == 120


def test_supported_api_versions() -> None:
    assert contract.API_VERSIONS == ALL
    assert contract.DEFAULT_API_VERSION == "2026-05-01", "the newest stable api-version"
    assert {v: contract.source(v) for v in ALL} == {
        "2024-04-01": "swagger",
        "2025-06-01": "swagger",
        "2025-09-01": "bicep-types",
        "2025-12-01": "bicep-types",
        "2026-05-01": "bicep-types",
    }
    for unsupported in ("2023-10-01", "2024-04-01-preview", "2022-05-01"):
        with pytest.raises(KeyError):
            contract.version(unsupported)
    with pytest.raises(KeyError):
        contract.swagger("2025-12-01")


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
    # docs/design.md §2 marks these `*` although the contract leaves some unmarked (pat, sas, ApiKey key, ...).
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
    assert contract.contract_name_pattern() == "^[a-zA-Z0-9][a-zA-Z0-9_-]{2,32}$"
    assert contract.workspace_name_pattern() == "^[a-zA-Z0-9][a-zA-Z0-9_-]{2,32}$"
    group = contract.resource_group_parameter()
    assert (group["pattern"], group["minLength"], group["maxLength"]) == (r"^[-\w\._\(\)]+$", 1, 90)


# ---- golden bodies vs the swagger, read directly ---------------------------------------------------------


@pytest.mark.parametrize(
    ("golden", "api_version"),
    [c for c in CASES if c[1] in BOTH],
    ids=[i for c, i in zip(CASES, CASE_IDS, strict=True) if c[1] in BOTH],
)
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


# ---- the bicep-types subsets (2025-06-01 and later) --------------------------------------------------------


@cache
def bicep(api_version: str) -> list[dict[str, Any]]:
    path = resources.files("wsconn.arm.contract").joinpath(api_version, "bicep-types.connections-subset.json")
    types: list[dict[str, Any]] = json.loads(path.read_text())["types"]
    return types


def deref(api_version: str, node: dict[str, Any]) -> dict[str, Any]:
    return bicep(api_version)[int(node["$ref"].removeprefix("#/"))]


def discriminated(api_version: str) -> dict[str, Any]:
    (found,) = [
        t
        for t in bicep(api_version)
        if t["$type"] == "DiscriminatedObjectType" and t["name"] == "WorkspaceConnectionPropertiesV2"
    ]
    return found


def literals(api_version: str, node: dict[str, Any]) -> list[str]:
    union = deref(api_version, node)
    members = [deref(api_version, e) for e in union["elements"]]
    return [m["value"] for m in members if m["$type"] == "StringLiteralType"]


def bicep_credentials(api_version: str, auth_type: str) -> dict[str, Any] | None:
    element = deref(api_version, discriminated(api_version)["elements"][auth_type])
    node = element["properties"].get("credentials")
    return None if node is None else deref(api_version, node["type"])


def sensitive(api_version: str) -> set[tuple[str, str]]:
    marked = set()
    for auth_type in SUBTYPES:
        definition = bicep_credentials(api_version, auth_type) or {"properties": {}}
        for name, prop in definition["properties"].items():
            if deref(api_version, prop["type"]).get("sensitive"):
                marked.add((auth_type, name))
    return marked


# NEWER-VERSIONS.md §3: the properties of WorkspaceConnectionPropertiesV2 (authType aside) per version.
BASE_2025_06 = {
    "category", "createdByWorkspaceArmId", "expiryTime", "group", "isSharedToAll", "target", "metadata",
    "sharedUserList", "value", "valueFormat",
}  # fmt: skip
BASE_2025_12 = (BASE_2025_06 - {"value", "valueFormat"}) | {
    "error",
    "peRequirement",
    "peStatus",
    "useWorkspaceManagedIdentity",
}
# NEWER-VERSIONS.md §3: the credential fields marked sensitive per version.
SENSITIVE_2025_06 = X_MS_SECRET
SENSITIVE_2025_09 = X_MS_SECRET | {("AccessKey", "secretAccessKey"), ("UsernamePassword", "password")}
SENSITIVE_2025_12 = SENSITIVE_2025_09 - {("AccountKey", "key"), ("AccessKey", "secretAccessKey")}
NEW_IN_2025_12 = {
    "AzureKeyVault", "AzureContainerAppEnvironment", "AzureStorageAccount", "Databricks", "RemoteTool",
    "AppInsights", "AppConfig", "ApiManagement", "ModelGateway", "GroundingWithBingSearch",
    "GroundingWithCustomSearch", "Sharepoint", "MicrosoftFabric", "PowerPlatformEnvironment", "RemoteA2A",
}  # fmt: skip


@pytest.mark.parametrize(
    ("api_version", "base", "secrets"),
    [
        ("2025-06-01", BASE_2025_06, SENSITIVE_2025_06),
        ("2025-09-01", BASE_2025_06, SENSITIVE_2025_09),
        ("2025-12-01", BASE_2025_12, SENSITIVE_2025_12),
        ("2026-05-01", BASE_2025_12, SENSITIVE_2025_12),
    ],
)
def test_bicep_subset_is_what_newer_versions_md_says(
    api_version: str, base: set[str], secrets: set[tuple[str, str]]
) -> None:
    d = discriminated(api_version)
    assert d["discriminator"] == "authType"
    assert set(d["elements"]) == set(SUBTYPES)
    assert set(d["baseProperties"]) == base
    read_only = {n for n, p in d["baseProperties"].items() if p["flags"] & 2}
    assert read_only == {"group", "createdByWorkspaceArmId"}
    assert sensitive(api_version) == secrets
    categories = literals(api_version, d["baseProperties"]["category"]["type"])
    assert len(categories) == len(set(categories)) == (120 if "value" not in base else 105)
    for auth_type, (subtype, credentials) in SUBTYPES.items():
        element = deref(api_version, d["elements"][auth_type])
        assert element["name"] == subtype
        node = bicep_credentials(api_version, auth_type)
        assert (None if node is None else node["name"]) == credentials


def test_2025_12_categories_are_2025_09_plus_exactly_fifteen() -> None:
    old = literals("2025-09-01", discriminated("2025-09-01")["baseProperties"]["category"]["type"])
    new = literals("2025-12-01", discriminated("2025-12-01")["baseProperties"]["category"]["type"])
    assert set(old) <= set(new)
    assert set(new) - set(old) == NEW_IN_2025_12
    assert new == literals("2026-05-01", discriminated("2026-05-01")["baseProperties"]["category"]["type"])


@pytest.mark.parametrize("api_version", ALL)
def test_contract_module_reads_every_version_as_the_files_say(api_version: str) -> None:
    view = contract.version(api_version)
    if api_version in BOTH:
        defs = definitions(api_version)
        assert view.categories == tuple(defs["ConnectionCategory"]["enum"])
        base = defs["WorkspaceConnectionPropertiesV2"]["properties"]
        secrets = X_MS_SECRET
    else:
        d = discriminated(api_version)
        assert view.categories == tuple(literals(api_version, d["baseProperties"]["category"]["type"]))
        base = d["baseProperties"]
        secrets = sensitive(api_version)
    assert {p.name for p in view.properties} == set(base) - {"authType"}
    assert set(view.auth_types) == set(SUBTYPES)
    assert {(a, f) for a, fields in view.credentials.items() for f, s in fields.items() if s} == secrets


@pytest.mark.parametrize("api_version", ALL)
@pytest.mark.parametrize("auth_type", sorted(SUBTYPES))
def test_table_fields_are_every_versions_credential_properties(auth_type: str, api_version: str) -> None:
    auth = AUTH_TYPES[auth_type]
    table_fields = {f.name for f in auth.fields} | ({"keys"} if auth.whole_secret else set())
    if api_version in BOTH:
        definition = credentials_definition(api_version, auth_type)
    else:
        definition = bicep_credentials(api_version, auth_type)
    assert table_fields == (set() if definition is None else set(definition["properties"]))


def test_a_field_secret_on_any_version_is_secret_key_ref_only_on_all() -> None:
    # 2025-12-01 stops marking AccountKey's key sensitive; it is still a storage account key. The table marks
    # secrets once for every version, so whatever any version (or docs/design.md §2) calls secret stays secret.
    marked_anywhere = X_MS_SECRET | set().union(*(sensitive(v) for v in BICEP))
    assert ("AccountKey", "key") in marked_anywhere
    assert ("AccountKey", "key") not in sensitive("2025-12-01")
    for auth_type, field in marked_anywhere:
        table_field = AUTH_TYPES[auth_type].field(field)
        assert table_field is not None, (auth_type, field)
        assert table_field.secret, (auth_type, field)


# ---- 2025-06-01: the bicep-types subset against the swagger subset ------------------------------------------
# Both describe 2025-06-01; the operator follows the swagger subset (hand-transcribed from the upstream spec),
# bicep-types being generated from that spec. What agrees and what differs is written out here.


def test_2025_06_bicep_and_swagger_agree_on_enums_fields_and_secrets() -> None:
    defs = definitions("2025-06-01")
    d = discriminated("2025-06-01")
    base = defs["WorkspaceConnectionPropertiesV2"]["properties"]
    # the same base properties (swagger lists authType among them; bicep makes it the discriminator)
    assert set(base) - {"authType"} == set(d["baseProperties"])
    assert {n for n, p in base.items() if p.get("readOnly")} == {
        n for n, p in d["baseProperties"].items() if p["flags"] & 2
    }
    # the same enums, in the same order
    assert (
        literals("2025-06-01", d["baseProperties"]["category"]["type"]) == defs["ConnectionCategory"]["enum"]
    )
    assert literals("2025-06-01", d["baseProperties"]["group"]["type"]) == defs["ConnectionGroup"]["enum"]
    assert literals("2025-06-01", d["baseProperties"]["valueFormat"]["type"]) == base["valueFormat"]["enum"]
    assert sorted(d["elements"]) == sorted(defs["ConnectionAuthType"]["enum"])
    # the same credential objects, and x-ms-secret is exactly bicep's sensitive
    for auth_type in SUBTYPES:
        swagger_fields = (credentials_definition("2025-06-01", auth_type) or {"properties": {}})["properties"]
        bicep_fields = (bicep_credentials("2025-06-01", auth_type) or {"properties": {}})["properties"]
        assert set(swagger_fields) == set(bicep_fields), auth_type
    assert sensitive("2025-06-01") == X_MS_SECRET
    # the same (contract) name pattern
    name = deref("2025-06-01", discriminated_resource("2025-06-01")["properties"]["name"]["type"])
    assert name["pattern"] == defs_parameters("2025-06-01")["ConnectionName"]["pattern"]


def test_2025_06_bicep_and_swagger_differ_only_where_bicep_types_cannot_say() -> None:
    defs = definitions("2025-06-01")
    d = discriminated("2025-06-01")
    # 1. string formats: the swagger's date-time, arm-id and url are plain strings in bicep-types; its uuid
    #    becomes a pattern with length 36.
    assert defs["WorkspaceConnectionPropertiesV2"]["properties"]["expiryTime"]["format"] == "date-time"
    assert deref("2025-06-01", d["baseProperties"]["expiryTime"]["type"]) == {"$type": "StringType"}
    oauth = bicep_credentials("2025-06-01", "OAuth2")
    assert oauth is not None
    assert defs["WorkspaceConnectionOAuth2"]["properties"]["authUrl"]["format"] == "url"
    assert deref("2025-06-01", oauth["properties"]["authUrl"]["type"]) == {"$type": "StringType"}
    assert defs["WorkspaceConnectionOAuth2"]["properties"]["clientId"]["format"] == "uuid"
    client_id = deref("2025-06-01", oauth["properties"]["clientId"]["type"])
    assert (client_id["minLength"], client_id["maxLength"]) == (36, 36)
    # 2. closed objects: the envelope, the list result, five subtypes and five credential objects are
    #    additionalProperties: false in the swagger; bicep-types close no object.
    closed = {n for n, x in defs.items() if x.get("additionalProperties") is False}
    assert closed == {
        "WorkspaceConnectionPropertiesV2BasicResource",
        "WorkspaceConnectionPropertiesV2BasicResourceArmPaginatedResult",
        *(SUBTYPES[a][0] for a in ("ManagedIdentity", "None", "PAT", "SAS", "UsernamePassword")),
        *(SUBTYPES[a][1] for a in ("AccountKey", "ManagedIdentity", "PAT", "SAS", "UsernamePassword")),
    }
    assert not [t for t in bicep("2025-06-01") if t.get("additionalProperties") is False]
    # 3. extensible enums: the swagger's `modelAsString: true` is a plain-string member of bicep's union.
    union = deref("2025-06-01", d["baseProperties"]["category"]["type"])
    assert defs["ConnectionCategory"]["x-ms-enum"]["modelAsString"] is True
    assert {"$type": "StringType"} in [deref("2025-06-01", e) for e in union["elements"]]


def discriminated_resource(api_version: str) -> dict[str, Any]:
    (found,) = [
        t
        for t in bicep(api_version)
        if t["$type"] == "ObjectType"
        and t["name"] == "Microsoft.MachineLearningServices/workspaces/connections"
    ]
    return found


def defs_parameters(api_version: str) -> dict[str, Any]:
    params: dict[str, Any] = contract.swagger(api_version)["parameters"]
    return params


@pytest.mark.parametrize(
    ("golden", "api_version"),
    [c for c in CASES if c[1] not in BOTH],
    ids=[i for c, i in zip(CASES, CASE_IDS, strict=True) if c[1] not in BOTH],
)
def test_golden_body_fits_the_bicep_types(golden: Golden, api_version: str) -> None:
    d = discriminated(api_version)
    props = golden.body["properties"]
    assert set(golden.body) == {"properties"}
    base = d["baseProperties"]
    writable = {name for name, p in base.items() if not p["flags"] & 2} - {"error", "peStatus"}
    assert set(props) - {"credentials", "authType"} <= writable
    assert props["authType"] in d["elements"]
    for name in ("category", "peRequirement"):
        if name in props:
            assert props[name] in literals(api_version, base[name]["type"])
    definition = bicep_credentials(api_version, props["authType"])
    if definition is None:
        assert "credentials" not in props
    else:
        assert set(props["credentials"]) <= set(definition["properties"])
