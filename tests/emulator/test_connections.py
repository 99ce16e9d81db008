"""ARM workspace connections as the contract and the recordings describe them, through HTTPS with a token from
the emulator's Entra endpoint: each authType's credential rules on the operator's five api-versions,
validation answers, PUT/GET/DELETE/listsecrets/PATCH semantics, list paging and filters, and names. What
only the recordings say (server-added properties, casing, metadata, the RP's 404 body...) is held by
test_recorded.py and the replay tier (tests/replay)."""

from __future__ import annotations

import copy
import json
from typing import Any

import httpx
import pytest

from tests.emulator.support import (
    API_VERSIONS,
    AUTH_TYPES,
    CONNECTION_TYPE,
    CONNECTIONS,
    LATEST,
    WS_PATH,
    body,
    code,
    conn,
    error,
    has_key,
    instant,
    secret_values,
    trust,
    valid_body,
)
from wsconn_testbed.emulator.client import EmulatorClient

BOTH = pytest.mark.parametrize("api_version", API_VERSIONS)
PATCHING = pytest.mark.parametrize("api_version", API_VERSIONS[1:])
LEGACY_VALUE = ("2024-04-01", "2025-06-01", "2025-09-01")
"""The versions that still define `value` and `valueFormat`."""


def _stored_credentials(auth_type: str) -> dict[str, Any] | None:
    return AUTH_TYPES[auth_type][1]


# --- each authType, accepted with valid credentials; GET/PUT/list never show them; listsecrets does ---


@BOTH
@pytest.mark.parametrize("auth_type", sorted(AUTH_TYPES))
def test_auth_type_round_trip(emu: EmulatorClient, api_version: str, auth_type: str) -> None:
    sent = valid_body(auth_type)
    secrets = secret_values(_stored_credentials(auth_type))
    put = emu.arm("PUT", conn("c-1"), api_version, json=sent)
    assert put.status_code == 200, put.text
    got = emu.arm("GET", conn("c-1"), api_version)
    listed = emu.arm("GET", CONNECTIONS, api_version)
    for answer in (put, got, listed):
        assert answer.status_code == 200
        for secret in secrets:
            assert secret not in answer.text
    resource = got.json()
    # Present as null for an authType with credentials, absent for AAD and None (the recordings).
    expected_credentials = "absent" if auth_type in ("AAD", "None") else None
    assert resource["properties"].get("credentials", "absent") == expected_credentials
    assert resource["id"] == conn("c-1")
    assert resource["name"] == "c-1"
    assert resource["type"] == CONNECTION_TYPE
    expected = {k: v for k, v in sent["properties"].items() if k != "credentials"}
    assert {k: v for k, v in resource["properties"].items() if k in expected} == expected
    assert put.json()["properties"] == resource["properties"]
    assert resource["properties"]["createdByWorkspaceArmId"] == WS_PATH
    assert isinstance(resource["properties"]["group"], str)
    assert set(resource["systemData"]) >= {"createdAt", "createdBy", "lastModifiedAt", "lastModifiedBy"}
    assert listed.json()["value"] == [resource]

    revealed = emu.arm("POST", conn("c-1") + "/listsecrets", api_version)
    assert revealed.status_code == 200
    assert revealed.json()["properties"].get("credentials") == _stored_credentials(auth_type)
    assert {k: v for k, v in revealed.json().items() if k != "properties"} == {
        k: v for k, v in resource.items() if k != "properties"
    }


@BOTH
def test_account_key_accepts_sas_and_stores_it_as_key(emu: EmulatorClient, api_version: str) -> None:
    # azure-ai-ml sends {sas} for AccountKey (CONNECTIONS.md section 5); the contract's shape is {key}.
    answer = emu.arm("PUT", conn("blob"), api_version, json=body("AccountKey", {"sas": "SECRET-ak-as-sas"}))
    assert answer.status_code == 200, answer.text
    revealed = emu.arm("POST", conn("blob") + "/listsecrets", api_version).json()
    assert revealed["properties"]["credentials"] == {"key": "SECRET-ak-as-sas"}


@BOTH
@pytest.mark.parametrize("auth_type", ["PAT", "SAS", "ApiKey", "AccessKey", "ServicePrincipal", "OAuth2"])
def test_credentials_are_optional(emu: EmulatorClient, api_version: str, auth_type: str) -> None:
    # No subtype lists `credentials` as required (list.json shows PAT connections without them).
    answer = emu.arm("PUT", conn("no-creds"), api_version, json=body(auth_type))
    assert answer.status_code == 200, answer.text
    revealed = emu.arm("POST", conn("no-creds") + "/listsecrets", api_version).json()
    assert revealed["properties"]["credentials"] is None


# --- credential rules: wrong fields where additionalProperties is false, types, formats ---

WRONG_CREDENTIALS = [
    ("None", {"pat": "SECRET-canary-none"}, "properties.credentials"),
    ("PAT", {"token": "SECRET-canary-pat"}, "properties.credentials.token"),
    ("PAT", {"pat": "x", "extra": "SECRET-canary-pat2"}, "properties.credentials.extra"),
    ("SAS", {"key": "SECRET-canary-sas"}, "properties.credentials.key"),
    ("UsernamePassword", {"user": "SECRET-canary-up"}, "properties.credentials.user"),
    ("ManagedIdentity", {"secret": "SECRET-canary-mi"}, "properties.credentials.secret"),
    ("AccountKey", {"password": "SECRET-canary-ak"}, "properties.credentials.password"),
    ("AccountKey", {"key": "a", "sas": "SECRET-canary-ak2"}, "properties.credentials.sas"),
]


@BOTH
@pytest.mark.parametrize(
    ("auth_type", "credentials", "target"),
    WRONG_CREDENTIALS,
    ids=[f"{a}-{t}" for a, _, t in WRONG_CREDENTIALS],
)
def test_unknown_credential_fields_are_refused(
    emu: EmulatorClient, api_version: str, auth_type: str, credentials: dict[str, Any], target: str
) -> None:
    answer = emu.arm("PUT", conn("bad-creds"), api_version, json=body(auth_type, credentials))
    assert answer.status_code == 400
    err = error(answer)
    assert err["code"] == "ValidationError"
    assert target in [d["target"] for d in err["details"]]
    for secret in secret_values(credentials):
        assert secret not in answer.text  # an error names the field, never the value
    assert emu.arm("GET", conn("bad-creds"), api_version).status_code == 404


BAD_BODIES: list[tuple[str, Any, str]] = [
    ("expiry-not-date-time", body("None", expiryTime="tomorrow"), "properties.expiryTime"),
    ("expiry-no-zone", body("None", expiryTime="2030-01-01T00:00:00"), "properties.expiryTime"),
    ("expiry-not-a-date", body("None", expiryTime="2030-02-30T00:00:00Z"), "properties.expiryTime"),
    (
        "oauth2-client-id-not-uuid",
        body("OAuth2", {"clientId": "not-a-uuid", "authUrl": "https://a.test/t"}),
        "properties.credentials.clientId",
    ),
    ("oauth2-auth-url-not-url", body("OAuth2", {"authUrl": "not a url"}), "properties.credentials.authUrl"),
    ("pat-not-string", body("PAT", {"pat": 12345}), "properties.credentials.pat"),
    ("custom-keys-not-map", body("CustomKeys", {"keys": "a=b"}), "properties.credentials.keys"),
    ("custom-keys-value-not-string", body("CustomKeys", {"keys": {"a": 1}}), "properties.credentials.keys.a"),
    ("shared-not-boolean", body("None", isSharedToAll="yes"), "properties.isSharedToAll"),
    ("user-list-not-array", body("None", sharedUserList="alice"), "properties.sharedUserList"),
    ("metadata-value-not-string", body("None", metadata={"a": 1}), "properties.metadata.a"),
    ("value-format-not-enum", body("None", valueFormat="XML"), "properties.valueFormat"),
    ("unknown-auth-type", body("Bogus"), "properties.authType"),
    ("unknown-category", body("None", category="NotACategory"), "properties.category"),
    ("none-extra-property", body("None", extra="x"), "properties.extra"),
    ("pat-extra-property", body("PAT", extra="x"), "properties.extra"),
    ("read-only-group", body("None", group="Azure"), "properties.group"),
    (
        "read-only-created-by-workspace",
        body("None", createdByWorkspaceArmId=WS_PATH),
        "properties.createdByWorkspaceArmId",
    ),
    ("read-only-id", {**body("None"), "id": conn("x")}, "id"),
    ("read-only-name", {**body("None"), "name": "x"}, "name"),
    ("read-only-type", {**body("None"), "type": CONNECTION_TYPE}, "type"),
    ("read-only-system-data", {**body("None"), "systemData": {}}, "systemData"),
    ("envelope-unknown", {**body("None"), "location": "westeurope"}, "location"),
    ("no-properties", {"location": "x"}, "properties"),
    ("no-auth-type", {"properties": {"category": "Git"}}, "properties.authType"),
    ("auth-type-not-string", {"properties": {"authType": 1}}, "properties.authType"),
    ("body-not-object", [], "(body)"),
]


@BOTH
@pytest.mark.parametrize(
    ("sent", "target"), [(b, t) for _, b, t in BAD_BODIES], ids=[i for i, _, _ in BAD_BODIES]
)
def test_invalid_bodies_get_validation_error(
    emu: EmulatorClient, api_version: str, sent: Any, target: str
) -> None:
    answer = emu.arm("PUT", conn("invalid"), api_version, json=sent)
    assert answer.status_code == 400, answer.text
    err = error(answer)
    assert err["code"] == "ValidationError"
    assert target in [d["target"] for d in err["details"]], err
    assert emu.arm("GET", conn("invalid"), api_version).status_code == 404


@BOTH
def test_valid_formats_are_accepted(emu: EmulatorClient, api_version: str) -> None:
    for i, expiry in enumerate(
        ["2030-01-01T00:00:00Z", "2030-01-01t00:00:00.123z", "2030-01-01T00:00:00+02:00"]
    ):
        answer = emu.arm("PUT", conn(f"expiry-{i}"), api_version, json=body("None", expiryTime=expiry))
        assert answer.status_code == 200, (expiry, answer.text)
        assert answer.json()["properties"]["expiryTime"] == expiry
    full = body("None", isSharedToAll=False, sharedUserList=["alice", "bob"], metadata={"ApiType": "Azure"})
    answer = emu.arm("PUT", conn("all-fields"), api_version, json=full)
    assert answer.status_code == 200, answer.text
    assert answer.json()["properties"]["sharedUserList"] == ["alice", "bob"]


@pytest.mark.parametrize("api_version", LEGACY_VALUE)
def test_value_and_value_format_are_accepted_and_never_returned(
    emu: EmulatorClient, api_version: str
) -> None:
    # The Azure Service Operator recording: accepted (200) and absent from every answer.
    sent = body("None", value='{"foo":"bar", "baz":"bee"}', valueFormat="json")
    answers = [
        emu.arm("PUT", conn("legacy"), api_version, json=sent),
        emu.arm("GET", conn("legacy"), api_version),
        emu.arm("POST", conn("legacy") + "/listsecrets", api_version),
    ]
    for answer in answers:
        assert answer.status_code == 200, answer.text
        assert not has_key(answer.json(), "value")
        assert not has_key(answer.json(), "valueFormat")
    assert not has_key(emu.arm("GET", CONNECTIONS, api_version).json()["value"], "valueFormat")


@pytest.mark.parametrize("api_version", ["2025-12-01", "2026-05-01"])
@pytest.mark.parametrize("field", ["value", "valueFormat"])
def test_value_and_value_format_are_refused_from_2025_12_01(
    emu: EmulatorClient, api_version: str, field: str
) -> None:
    answer = emu.arm("PUT", conn("legacy"), api_version, json=body("None", **{field: "JSON"}))
    assert answer.status_code == 400
    assert [d["target"] for d in error(answer)["details"]] == [f"properties.{field}"]


@pytest.mark.parametrize(
    ("field", "value", "answered"),
    [("peRequirement", "required", "required"), ("useWorkspaceManagedIdentity", True, True)],
)
def test_writable_from_2025_12_01(emu: EmulatorClient, field: str, value: Any, answered: Any) -> None:
    for version in ("2025-12-01", "2026-05-01"):
        answer = emu.arm("PUT", conn("pe-1"), version, json=body("ApiKey", {"key": "k"}, **{field: value}))
        assert answer.status_code == 200, answer.text
        assert answer.json()["properties"][field] == answered
    # Older versions do not define them: the closed None subtype refuses them, an open one drops them.
    refused = emu.arm("PUT", conn("pe-1"), "2025-09-01", json=body("None", **{field: value}))
    assert [d["target"] for d in error(refused)["details"]] == [f"properties.{field}"]
    dropped = emu.arm("PUT", conn("pe-1"), "2025-06-01", json=body("ApiKey", {"key": "k"}, **{field: value}))
    assert dropped.status_code == 200
    assert (
        dropped.json()["properties"][field]
        == {"peRequirement": "NotRequired", "useWorkspaceManagedIdentity": False}[field]
    )


@pytest.mark.parametrize("field", ["error", "peStatus"])
def test_status_fields_are_read_only(emu: EmulatorClient, field: str) -> None:
    for version in ("2025-12-01", "2026-05-01"):
        answer = emu.arm("PUT", conn("status"), version, json=body("None", **{field: "Active"}))
        assert answer.status_code == 400
        assert [d["target"] for d in error(answer)["details"]] == [f"properties.{field}"]


@pytest.mark.parametrize(
    ("category", "first"),
    [
        ("Pinecone", "2025-06-01"),
        ("Elasticsearch", "2025-06-01"),
        ("ManagedOnlineEndpoint", "2025-06-01"),
        ("AzureKeyVault", "2025-12-01"),
        ("ModelGateway", "2025-12-01"),
        ("RemoteA2A", "2025-12-01"),
    ],
)
def test_categories_per_api_version(emu: EmulatorClient, category: str, first: str) -> None:
    sent = body("ApiKey", {"key": "k"}, category=category)
    for version in API_VERSIONS:
        answer = emu.arm("PUT", conn("new-cat"), version, json=sent)
        if version < first:
            assert answer.status_code == 400, (version, answer.text)
            assert "properties.category" in [d["target"] for d in error(answer)["details"]]
        else:
            assert answer.status_code == 200, (version, answer.text)


@BOTH
def test_auth_type_and_category_match_case_insensitively(emu: EmulatorClient, api_version: str) -> None:
    sent = body("PAT", {"pat": "p"}, authType="pat", category="GIT")
    answer = emu.arm("PUT", conn("cased"), api_version, json=sent)
    assert answer.status_code == 200, answer.text
    properties = emu.arm("GET", conn("cased"), api_version).json()["properties"]
    assert (properties["authType"], properties["category"]) == ("pat", "GIT")  # echoed as sent
    assert properties["group"] == "GenericProtocol"
    # The discriminator still selects the PAT subtype, with its additionalProperties: false.
    wrong = emu.arm("PUT", conn("cased"), api_version, json=body("PAT", {"token": "t"}, authType="pAt"))
    assert wrong.status_code == 400


@pytest.mark.parametrize(
    ("category", "group"),
    [
        ("AzureOpenAI", "AzureAI"),
        ("AIServices", "AzureAI"),
        ("CustomKeys", "AzureAI"),
        ("AzureBlob", "Azure"),
        ("ContainerRegistry", "Azure"),
        ("Git", "GenericProtocol"),
        ("S3", "File"),
        ("Snowflake", "Database"),
        ("CosmosDb", "NoSQL"),
        ("Salesforce", "ServicesAndApps"),
    ],
)
def test_group_is_derived_from_category(emu: EmulatorClient, category: str, group: str) -> None:
    answer = emu.arm("PUT", conn("grouped"), json=body("None", category=category))
    assert answer.json()["properties"]["group"] == group


# --- PUT, GET, DELETE, listsecrets ---


@BOTH
def test_put_creates_and_replaces_with_200(emu: EmulatorClient, api_version: str) -> None:
    first = emu.arm(
        "PUT", conn("replaced"), api_version, json=body("PAT", {"pat": "one"}, metadata={"a": "1"})
    )
    assert first.status_code == 200
    second = emu.arm(
        "PUT", conn("replaced"), api_version, json=body("SAS", {"sas": "two"}, target="https://t2")
    )
    assert second.status_code == 200
    properties = second.json()["properties"]
    assert properties["authType"] == "SAS"
    assert properties["target"] == "https://t2"
    assert properties["metadata"] == {}  # replace, not merge
    assert instant(second.json()["systemData"]["createdAt"]) > instant(
        first.json()["systemData"]["createdAt"]
    )
    assert second.json()["systemData"]["createdAt"] == second.json()["systemData"]["lastModifiedAt"]
    revealed = emu.arm("POST", conn("replaced") + "/listsecrets", api_version).json()
    assert revealed["properties"]["credentials"] == {"sas": "two"}
    assert len(emu.arm("GET", CONNECTIONS, api_version).json()["value"]) == 1
    [stored] = emu.connections()
    assert stored["writes"] == 2


@BOTH
def test_put_replacing_credentials_with_none_removes_them(emu: EmulatorClient, api_version: str) -> None:
    emu.arm("PUT", conn("dropped"), api_version, json=body("PAT", {"pat": "one"}))
    emu.arm("PUT", conn("dropped"), api_version, json=body("PAT"))
    revealed = emu.arm("POST", conn("dropped") + "/listsecrets", api_version).json()
    assert revealed["properties"]["credentials"] is None


@BOTH
def test_delete_answers_200_then_204(emu: EmulatorClient, api_version: str) -> None:
    emu.arm("PUT", conn("doomed"), api_version, json=body("None"))
    first = emu.arm("DELETE", conn("doomed"), api_version)
    assert first.status_code == 200
    assert first.content == b""
    assert "content-type" not in first.headers  # the recordings: no Content-Type, Content-Length 0
    assert emu.arm("DELETE", conn("doomed"), api_version).status_code == 204
    assert emu.arm("DELETE", conn("never-was"), api_version).status_code == 204


@BOTH
def test_missing_connection_is_the_rps_not_found(emu: EmulatorClient, api_version: str) -> None:
    for method, path in (("GET", conn("absent")), ("POST", conn("absent") + "/listsecrets")):
        answer = emu.arm(method, path, api_version)
        assert answer.status_code == 404
        assert answer.json()["error"]["code"] == "UserError"
        assert answer.json()["error"]["message"] == "Connection absent can't be found in this workspace"
        assert answer.json()["componentName"] == "account-rp"


def test_list_is_empty_without_connections(emu: EmulatorClient) -> None:
    answer = emu.arm("GET", CONNECTIONS)
    assert answer.status_code == 200
    assert answer.json() == {"value": []}


# --- PATCH (2025-06-01 only), JSON merge-patch ---


def _seed_for_patch(emu: EmulatorClient) -> None:
    sent = body(
        "UsernamePassword",
        {"username": "u1", "password": "SECRET-p1"},
        metadata={"a": "1", "b": "2"},
        sharedUserList=["alice"],
    )
    assert emu.arm("PUT", conn("patched"), json=sent).status_code == 200


def test_patch_merges(emu: EmulatorClient) -> None:
    _seed_for_patch(emu)
    patch = {
        "properties": {
            "target": "https://new.test",
            "metadata": {"a": None, "c": "3"},
            "credentials": {"password": "SECRET-p2"},
        }
    }
    answer = emu.arm("PATCH", conn("patched"), "2025-06-01", json=patch)
    assert answer.status_code == 200, answer.text
    assert answer.json()["properties"]["credentials"] is None
    assert "SECRET-p2" not in answer.text
    properties = emu.arm("GET", conn("patched")).json()["properties"]
    assert properties["target"] == "https://new.test"
    assert properties["metadata"] == {"b": "2", "c": "3"}
    assert properties["sharedUserList"] == ["alice"]
    assert properties["authType"] == "UsernamePassword"
    revealed = emu.arm("POST", conn("patched") + "/listsecrets").json()
    assert revealed["properties"]["credentials"] == {"username": "u1", "password": "SECRET-p2"}


def test_patch_with_no_change(emu: EmulatorClient) -> None:
    _seed_for_patch(emu)
    before = emu.arm("GET", conn("patched")).json()["properties"]
    for content in (b"{}", b'{"properties": {}}', b""):
        answer = emu.arm(
            "PATCH", conn("patched"), content=content, headers={"content-type": "application/json"}
        )
        assert answer.status_code == 200, (content, answer.text)
        assert answer.json()["properties"] == before


def test_patch_can_switch_auth_type_by_removing_credentials(emu: EmulatorClient) -> None:
    _seed_for_patch(emu)
    keeps = emu.arm("PATCH", conn("patched"), json={"properties": {"authType": "None"}})
    assert keeps.status_code == 400  # the merged result would be None with credentials
    switched = emu.arm(
        "PATCH", conn("patched"), json={"properties": {"authType": "None", "credentials": None}}
    )
    assert switched.status_code == 200, switched.text
    revealed = emu.arm("POST", conn("patched") + "/listsecrets").json()
    assert revealed["properties"]["authType"] == "None"
    assert "credentials" not in revealed["properties"]


@pytest.mark.parametrize(
    "patch",
    [
        {"properties": {"group": "Azure"}},
        {"properties": {"createdByWorkspaceArmId": WS_PATH}},
        {"properties": {"expiryTime": "soon"}},
        {"properties": {"credentials": {"bogus": "SECRET-x"}}},
        {"properties": {"category": "Pinecone", "authType": "Bogus"}},
        {"properties": "x"},
        {"name": "other"},
    ],
    ids=[
        "group",
        "created-by",
        "expiry",
        "unknown-credential",
        "bad-auth-type",
        "properties-not-object",
        "name",
    ],
)
def test_patch_validates(emu: EmulatorClient, patch: dict[str, Any]) -> None:
    _seed_for_patch(emu)
    before = emu.arm("POST", conn("patched") + "/listsecrets").json()
    answer = emu.arm("PATCH", conn("patched"), json=patch)
    assert answer.status_code == 400, answer.text
    assert code(answer) == "ValidationError"
    assert "SECRET-" not in answer.text
    after = emu.arm("POST", conn("patched") + "/listsecrets").json()
    assert after["properties"] == before["properties"]


@PATCHING
def test_patch_null_removes_a_property(emu: EmulatorClient, api_version: str) -> None:
    emu.arm(
        "PUT", conn("expiring"), json=body("None", expiryTime="2030-01-01T00:00:00Z", metadata={"k": "v"})
    )
    sent = {"properties": {"expiryTime": None, "metadata": None}}
    answer = emu.arm("PATCH", conn("expiring"), api_version, json=sent)
    assert answer.status_code == 200, answer.text
    properties = emu.arm("GET", conn("expiring")).json()["properties"]
    assert (properties["expiryTime"], properties["metadata"]) == (None, {})  # answered as never set


def test_patch_keeps_created_and_moves_modified(emu: EmulatorClient) -> None:
    created = emu.arm("PUT", conn("patched-times"), json=body("None")).json()["systemData"]
    patched = emu.arm("PATCH", conn("patched-times"), json={"properties": {"target": "x"}}).json()[
        "systemData"
    ]
    assert patched["createdAt"] == created["createdAt"]
    assert instant(patched["lastModifiedAt"]) > instant(created["lastModifiedAt"])


def test_patch_missing_connection_is_404(emu: EmulatorClient) -> None:
    answer = emu.arm("PATCH", conn("absent"), json={"properties": {"target": "x"}})
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "UserError"


@pytest.mark.parametrize("api_version", ["2022-05-01", "2024-04-01-preview", "2024-04-01"])
def test_patch_is_not_before_2025_06_01(emu: EmulatorClient, api_version: str) -> None:
    _seed_for_patch(emu)
    answer = emu.arm("PATCH", conn("patched"), api_version, json={"properties": {"target": "x"}})
    assert answer.status_code == 405
    assert code(answer) == "MethodNotAllowed"
    assert emu.arm("GET", conn("patched")).json()["properties"]["target"] != "x"


# --- list: paging through nextLink, target/category filters ---


def _follow(emu: EmulatorClient, api_version: str, **params: str) -> tuple[list[str], int]:
    """Names over all pages, and the number of pages."""
    answer = emu.arm("GET", CONNECTIONS, api_version, params=params)
    names, pages = [], 0
    while True:
        assert answer.status_code == 200, answer.text
        page = answer.json()
        pages += 1
        assert set(page) <= {"value", "nextLink"}
        names += [item["name"] for item in page["value"]]
        if not page.get("nextLink"):
            assert "nextLink" not in page or page["nextLink"] is None
            return names, pages
        assert page["nextLink"].startswith(emu.info["arm_endpoint"] + CONNECTIONS)
        # Follow the link as it is, as an autorest pager does: same token, no other parameters.
        answer = httpx.get(
            page["nextLink"], headers={"Authorization": f"Bearer {emu.token()}"}, verify=trust(emu.info)
        )


@BOTH
def test_list_pages_with_next_link(emu: EmulatorClient, api_version: str) -> None:
    emu.admin("PUT", "settings", {"page_size": 2})
    for i in range(5):
        emu.arm("PUT", conn(f"conn-{i}"), api_version, json=body("None"))
    names, pages = _follow(emu, api_version)
    assert sorted(names) == [f"conn-{i}" for i in range(5)]
    assert pages == 3
    first = emu.arm("GET", CONNECTIONS, api_version).json()
    assert len(first["value"]) == 2
    link = httpx.URL(first["nextLink"])
    assert list(link.params.items()) == [("api-version", api_version), ("$skipToken", "2")]


@BOTH
def test_list_filters_by_target_and_category(emu: EmulatorClient, api_version: str) -> None:
    emu.admin("PUT", "settings", {"page_size": 1})
    emu.arm("PUT", conn("git-a"), api_version, json=body("None", category="Git", target="https://a"))
    emu.arm("PUT", conn("git-b"), api_version, json=body("None", category="Git", target="https://b"))
    emu.arm("PUT", conn("feed-a"), api_version, json=body("None", category="PythonFeed", target="https://a"))
    assert sorted(_follow(emu, api_version, category="Git")[0]) == ["git-a", "git-b"]
    assert sorted(_follow(emu, api_version, category="git")[0]) == ["git-a", "git-b"]
    assert sorted(_follow(emu, api_version, target="https://a")[0]) == ["feed-a", "git-a"]
    assert _follow(emu, api_version, target="https://a", category="Git")[0] == ["git-a"]
    assert _follow(emu, api_version, category="Redis") == ([], 1)


def test_list_accepts_include_all_on_2025(emu: EmulatorClient) -> None:
    emu.arm("PUT", conn("one"), json=body("None"))
    answer = emu.arm("GET", CONNECTIONS, "2025-06-01", params={"includeAll": "true"})
    assert [item["name"] for item in answer.json()["value"]] == ["one"]


def test_list_only_shows_its_workspace(emu: EmulatorClient) -> None:
    other = emu.add_workspace("00000000-1111-2222-3333-444444444444", "rg-ml", "ws-other")
    emu.arm("PUT", f"{other}/connections/elsewhere", json=body("None"))
    emu.arm("PUT", conn("here"), json=body("None"))
    assert [item["name"] for item in emu.arm("GET", CONNECTIONS).json()["value"]] == ["here"]
    assert [item["name"] for item in emu.arm("GET", f"{other}/connections").json()["value"]] == ["elsewhere"]


# --- names ---


@BOTH
def test_names_are_case_insensitive_and_keep_the_callers_casing(
    emu: EmulatorClient, api_version: str
) -> None:
    created = emu.arm("PUT", conn("MyConn"), api_version, json=body("PAT", {"pat": "one"}))
    assert created.json()["name"] == "MyConn"
    got = emu.arm("GET", conn("myconn"), api_version)
    assert got.status_code == 200
    assert got.json()["name"] == "MyConn"
    assert got.json()["id"] == conn("MyConn")
    replaced = emu.arm("PUT", conn("MYCONN"), api_version, json=body("PAT", {"pat": "two"}))
    assert replaced.status_code == 200
    assert [item["name"] for item in emu.arm("GET", CONNECTIONS, api_version).json()["value"]] == ["MyConn"]
    revealed = emu.arm("POST", conn("mYcOnN") + "/listsecrets", api_version).json()
    assert revealed["properties"]["credentials"] == {"pat": "two"}
    assert emu.arm("DELETE", conn("MYCONN"), api_version).status_code == 200
    assert emu.arm("GET", conn("MyConn"), api_version).status_code == 404


def test_parent_names_are_case_insensitive(emu: EmulatorClient) -> None:
    emu.arm("PUT", conn("cased-parent"), json=body("None"))
    shouting = (
        CONNECTIONS.replace("rg-ml", "RG-ML")
        .replace("ws-prod", "WS-PROD")
        .replace("resourceGroups", "resourcegroups")
    )
    answer = emu.arm(
        "GET",
        f"{shouting.replace('Microsoft.MachineLearningServices', 'microsoft.machinelearningservices')}/cased-parent",
    )
    assert answer.status_code == 200
    assert answer.json()["id"] == conn("cased-parent")  # ids keep the casing the parents were created with


@BOTH
@pytest.mark.parametrize(
    "name", ["ab", "_abc", "-abc", "a" * 65, "abc.def", "abc%20def", "ab~c", "caf%C3%A9"], ids=repr
)
def test_bad_names_are_refused(emu: EmulatorClient, api_version: str, name: str) -> None:
    calls: list[tuple[str, str, dict[str, Any]]] = [
        ("PUT", conn(name), {"json": body("None")}),
        ("GET", conn(name), {}),
        ("DELETE", conn(name), {}),
        ("POST", conn(name) + "/listsecrets", {}),
    ]
    for method, path, kwargs in calls:
        answer = emu.arm(method, path, api_version, **kwargs)
        assert answer.status_code == 400, (method, answer.text)
        assert code(answer) == "ValidationError"
        assert "3 to 64 characters" in error(answer)["message"]


@pytest.mark.parametrize(
    "name", ["abc", "a" * 33, "a" * 34, "e2etest_wps_conn_test_795723416582", "a" * 64, "0-_", "A1_b-2"]
)
def test_edge_names_are_accepted(emu: EmulatorClient, name: str) -> None:
    answer = emu.arm("PUT", conn(name), LATEST, json=body("None"))
    assert answer.status_code == 200, answer.text
    assert answer.json()["name"] == name


def test_the_name_bound_is_configurable(emu: EmulatorClient) -> None:
    emu.admin("PUT", "settings", {"max_name_length": 40})
    assert emu.arm("PUT", conn("a" * 40), json=body("None")).status_code == 200
    refused = emu.arm("PUT", conn("a" * 41), json=body("None"))
    assert refused.status_code == 400
    assert error(refused)["message"] == (
        f"The connection name '{'a' * 41}' is invalid: it must be 3 to 40 characters long, start with a letter "
        "or a digit, and contain only letters, digits, '_' and '-'."
    )


# --- bodies ARM itself refuses ---


def test_body_that_is_not_json(emu: EmulatorClient) -> None:
    for content in (b"{not json", b"", b"\xff\xfe"):
        answer = emu.arm("PUT", conn("raw"), content=content, headers={"content-type": "application/json"})
        assert answer.status_code == 400, content
        assert code(answer) == "InvalidRequestContent"


def test_body_over_4_mb_is_413(emu: EmulatorClient) -> None:
    big = body("None", metadata={"blob": "x" * (4 * 1024 * 1024 + 10)})
    answer = emu.arm(
        "PUT", conn("huge"), content=json.dumps(big).encode(), headers={"content-type": "application/json"}
    )
    assert answer.status_code == 413
    assert code(answer) == "RequestEntityTooLarge"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", conn("c-1")),
        ("PUT", CONNECTIONS),
        ("DELETE", CONNECTIONS),
        ("GET", conn("c-1") + "/listsecrets"),
        ("PUT", conn("c-1") + "/listsecrets"),
    ],
)
def test_unsupported_methods_are_405(emu: EmulatorClient, method: str, path: str) -> None:
    emu.arm("PUT", conn("c-1"), json=body("None"))
    answer = emu.arm(method, path, json=body("None") if method == "PUT" else None)
    assert answer.status_code == 405, answer.text
    assert code(answer) == "MethodNotAllowed"


def test_listsecrets_takes_no_body_and_changes_nothing(emu: EmulatorClient) -> None:
    emu.arm("PUT", conn("c-1"), json=valid_body("PAT"))
    before = copy.deepcopy(emu.connections())
    answer = emu.arm("POST", conn("c-1") + "/listsecrets")
    assert answer.status_code == 200
    assert emu.connections() == before
