"""What the recordings (tests/fixtures/recordings/README.md) show about the real service, held fact by fact on
every api-version the operator supports (the replay tier, tests/replay, holds them on the recorded
requests themselves). The file each fact comes from is named in the test's docstring."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.emulator.support import ANSWER_ORDER, API_VERSIONS, CONNECTIONS, WS_PATH, body, conn, instant
from wsconn_testbed.emulator.client import EmulatorClient

EVERY = pytest.mark.parametrize("api_version", API_VERSIONS)
TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{0,6}[1-9])?Z$")
AOAI = body(
    "ApiKey",
    {"key": "dGhpcyBpcyBmYWtlIGtleQ=="},
    category="AzureOpenAi",
    isSharedToAll=True,
    metadata={"hello": "world", "ApiVersion": "1.0", "ApiType": "Azure"},
    target="dummy",
)


def _three_reads(emu: EmulatorClient, name: str, api_version: str) -> list[dict[str, Any]]:
    """GET, the list's item and listsecrets' answer for one connection."""
    got = emu.arm("GET", conn(name), api_version).json()
    [listed] = [i for i in emu.arm("GET", CONNECTIONS, api_version).json()["value"] if i["name"] == name]
    revealed = emu.arm("POST", conn(name) + "/listsecrets", api_version).json()
    return [got, listed, revealed]


@EVERY
def test_server_added_properties_in_the_services_order(emu: EmulatorClient, api_version: str) -> None:
    """All sdk-assets files (2024-04-01-preview) and the ASO file (2024-04-01): the 2025-12-01-era set,
    `isDefault` included, in the order `authType, credentials, group, category, ...`, whatever was sent."""
    put = emu.arm(
        "PUT", conn("s3-conn"), api_version, json=body("AccessKey", {"accessKeyId": "a"}, category="S3")
    )
    assert put.status_code == 200
    for answer in (put.json(), *_three_reads(emu, "s3-conn", api_version)[:2]):
        assert list(answer) == ["tags", "location", "id", "name", "type", "properties", "systemData"]
        assert (answer["tags"], answer["location"]) == (None, None)
        assert answer["id"] == conn("s3-conn")
        assert answer["type"] == "Microsoft.MachineLearningServices/workspaces/connections"
        properties = answer["properties"]
        assert list(properties) == ANSWER_ORDER
        assert {k: properties[k] for k in ANSWER_ORDER[2:] if k not in ("category", "target")} == {
            "group": "File",
            "expiryTime": None,
            "createdByWorkspaceArmId": WS_PATH,
            "useWorkspaceManagedIdentity": False,
            "isSharedToAll": False,
            "sharedUserList": [],
            "peRequirement": "NotRequired",
            "peStatus": "NotApplicable",
            "error": None,
            "isDefault": True,
            "metadata": {},
        }


@EVERY
def test_omitted_properties_get_the_services_defaults(emu: EmulatorClient, api_version: str) -> None:
    """ASO (no isSharedToAll, no metadata: false and {}); test_non_azure_open_ai_crud (no target: null)."""
    sent = {"properties": {"authType": "ApiKey", "category": "OpenAi", "credentials": {"key": "k"}}}
    properties = emu.arm("PUT", conn("defaults"), api_version, json=sent).json()["properties"]
    assert (properties["isSharedToAll"], properties["metadata"], properties["target"]) == (False, {}, None)


@EVERY
@pytest.mark.parametrize(
    ("auth_type", "credentials"),
    [
        ("AccessKey", {"accessKeyId": "dummy", "secretAccessKey": "dummy"}),
        (
            "ManagedIdentity",
            {"resourceId": "resource_id", "clientId": "00000000-0000-0000-0000-000000000000"},
        ),
        ("ApiKey", {"key": "k"}),
        ("ServicePrincipal", {"clientId": "c", "clientSecret": "Sanitized", "tenantId": "t"}),
        ("AAD", None),
        ("None", None),
    ],
)
def test_credentials_null_or_absent(
    emu: EmulatorClient, api_version: str, auth_type: str, credentials: dict[str, str] | None
) -> None:
    """credentials: null in PUT, GET and list for AccessKey, ManagedIdentity, ApiKey and ServicePrincipal
    (non-secret fields included); the key is absent for AAD and None (alds_gen_2, one_lake, azure_open_ai,
    ASO)."""
    put = emu.arm("PUT", conn("creds"), api_version, json=body(auth_type, credentials, category="ADLSGen2"))
    got, listed, revealed = _three_reads(emu, "creds", api_version)
    for answer in (put.json(), got, listed):
        if credentials is None:
            assert "credentials" not in answer["properties"]
            assert list(answer["properties"])[:2] == ["authType", "group"]
        else:
            assert answer["properties"]["credentials"] is None
    assert revealed["properties"].get("credentials") == credentials


@EVERY
def test_openai_categories_are_canonicalised_others_echoed(emu: EmulatorClient, api_version: str) -> None:
    """test_azure_open_ai_crud, test_non_azure_open_ai_crud: AzureOpenAi -> AzureOpenAI, OpenAi -> OpenAI in
    PUT, GET, list and listsecrets; S3, ContainerRegistry, ADLSGen2, AzureOneLake and every authType echoed."""
    for name, category, answered in (
        ("aoai", "AzureOpenAi", "AzureOpenAI"),
        ("openai", "OpenAi", "OpenAI"),
        ("lake", "AzureOneLake", "AzureOneLake"),
        ("cased", "adlsgen2", "adlsgen2"),
    ):
        put = emu.arm("PUT", conn(name), api_version, json=body("aad", category=category))
        for answer in (put.json(), *_three_reads(emu, name, api_version)):
            assert answer["properties"]["category"] == answered
            assert answer["properties"]["authType"] == "aad"


@EVERY
def test_azure_open_ai_gains_deployment_api_version(emu: EmulatorClient, api_version: str) -> None:
    """test_secret_population, test_azure_open_ai_crud: AzureOpenAI appends DeploymentApiVersion
    2023-10-01-preview after the sent keys (order kept) in PUT, GET, list and listsecrets, ApiKey and AAD."""
    put = emu.arm("PUT", conn("aoai-key"), api_version, json=AOAI)
    for answer in (put.json(), *_three_reads(emu, "aoai-key", api_version)):
        assert list(answer["properties"]["metadata"].items()) == [
            ("hello", "world"),
            ("ApiVersion", "1.0"),
            ("ApiType", "Azure"),
            ("DeploymentApiVersion", "2023-10-01-preview"),
        ]
    aad = body(
        "AAD", category="AzureOpenAi", metadata={"hello": "world", "ApiVersion": None, "ResourceId": None}
    )
    assert emu.arm("PUT", conn("aoai-aad"), api_version, json=aad).json()["properties"]["metadata"] == {
        "hello": "world",
        "ApiVersion": None,
        "ResourceId": None,
        "DeploymentApiVersion": "2023-10-01-preview",
    }


@EVERY
@pytest.mark.parametrize(
    ("category", "metadata"),
    [
        ("S3", {}),
        ("ContainerRegistry", {}),
        ("ADLSGen2", {"four": "five"}),
        ("AzureOneLake", {}),
        ("OpenAI", {}),
    ],
)
def test_other_categories_gain_no_metadata(
    emu: EmulatorClient, api_version: str, category: str, metadata: dict[str, str]
) -> None:
    """s3_access_key, container_registry, alds_gen_2, one_lake, non_azure_open_ai: metadata echoed."""
    answer = emu.arm(
        "PUT", conn("plain"), api_version, json=body("AAD", category=category, metadata=metadata)
    )
    assert answer.json()["properties"]["metadata"] == metadata


def test_added_metadata_is_configurable(emu: EmulatorClient) -> None:
    """The per-category table is loaded at start (config `added_metadata`) and can be changed by tests."""
    emu.admin("PUT", "settings", {"added_metadata": {"s3": {"Region": "eu"}}})
    s3 = emu.arm("PUT", conn("s3-meta"), json=body("AAD", category="S3", metadata={"a": "b"}))
    assert s3.json()["properties"]["metadata"] == {"a": "b", "Region": "eu"}
    aoai = emu.arm("PUT", conn("aoai-meta"), json=AOAI)
    assert "DeploymentApiVersion" not in aoai.json()["properties"]["metadata"]


@EVERY
def test_replace_resets_created_at(emu: EmulatorClient, api_version: str) -> None:
    """test_secret_population (identical bodies), s3_access_key, container_registry: a second PUT answers
    200 with createdAt moved to its own time (== lastModifiedAt); the GET after it returns its body."""
    first = emu.arm("PUT", conn("twice"), api_version, json=AOAI)
    second = emu.arm("PUT", conn("twice"), api_version, json=AOAI)
    assert (first.status_code, second.status_code) == (200, 200)
    one, two = first.json()["systemData"], second.json()["systemData"]
    assert one["createdAt"] == one["lastModifiedAt"]
    assert two["createdAt"] == two["lastModifiedAt"]
    assert instant(two["createdAt"]) > instant(one["createdAt"])
    assert emu.arm("GET", conn("twice"), api_version).json() == second.json()


@EVERY
def test_system_data_names_the_caller(emu: EmulatorClient, api_version: str) -> None:
    """Every recording's systemData: createdByType User for the recorders, who signed in as users; the
    times carry up to 7 fractional digits with trailing zeros dropped. An app is `Application`."""
    emu.admin("POST", "users", {"username": "someone@example.test", "password": "pw"})
    user = emu.user_token("someone@example.test", "pw")
    as_user = emu.arm("PUT", conn("by-user"), api_version, bearer=user, json=body("None")).json()[
        "systemData"
    ]
    assert (as_user["createdBy"], as_user["createdByType"], as_user["lastModifiedByType"]) == (
        "someone@example.test",
        "User",
        "User",
    )
    assert TIME.match(as_user["createdAt"]), as_user["createdAt"]
    as_app = emu.arm("PUT", conn("by-app"), api_version, json=body("None")).json()["systemData"]
    assert (as_app["createdBy"], as_app["createdByType"]) == (next(iter(emu.info["clients"])), "Application")


def test_2022_05_01_answers_the_old_shape(emu: EmulatorClient) -> None:
    """azure-powershell New-AzMLWorkspaceConnection (2022-05-01): properties {authType, category, target,
    metadata: null}, systemData null, no group or createdByWorkspaceArmId."""
    sent = {"properties": {"authType": "None", "category": "ContainerRegistry", "target": "www.facebook.com"}}
    answer = emu.arm("PUT", conn("test01"), "2022-05-01", json=sent).json()
    assert answer["properties"] == {**sent["properties"], "metadata": None}
    assert answer["systemData"] is None
    # The same connection read with a current api-version has the current shape.
    assert (
        list(emu.arm("GET", conn("test01"), "2024-04-01").json()["properties"])
        == ANSWER_ORDER[:1] + ANSWER_ORDER[2:]
    )


@pytest.mark.parametrize("api_version", ["2024-04-01", "2025-06-01", "2025-09-01"])
def test_the_aso_body_is_accepted(emu: EmulatorClient, api_version: str) -> None:
    """Azure Service Operator's PUT: a top-level name equal to the URL's, value and valueFormat (accepted,
    never returned), no isSharedToAll or metadata; the answer's name is that name."""
    sent = {
        "name": "asotest-conn-qteghz",
        "properties": {
            "authType": "None",
            "category": "ContainerRegistry",
            "target": "www.microsoft.com",
            "value": '{"foo":"bar", "baz":"bee"}',
            "valueFormat": "JSON",
        },
    }
    answer = emu.arm("PUT", conn("asotest-conn-qteghz"), api_version, json=sent)
    assert answer.status_code == 200, answer.text
    assert answer.json()["name"] == "asotest-conn-qteghz"
    assert {"value", "valueFormat"}.isdisjoint(answer.json()["properties"])
    other = emu.arm("PUT", conn("asotest-other"), api_version, json=sent)
    assert other.status_code == 400
    assert [d["target"] for d in other.json()["error"]["details"]] == ["name"]


@EVERY
def test_list_has_one_page_without_next_link(emu: EmulatorClient, api_version: str) -> None:
    """test_secret_population: GET ...connections?includeAll=false answers {"value": [<the GET body>]}."""
    emu.arm("PUT", conn("listed"), api_version, json=AOAI)
    listed = emu.arm("GET", CONNECTIONS, api_version, params={"includeAll": "false"}).json()
    assert listed == {"value": [emu.arm("GET", conn("listed"), api_version).json()]}


@EVERY
def test_listsecrets_is_the_get_body_with_credentials(emu: EmulatorClient, api_version: str) -> None:
    """test_secret_population, test_azure_open_ai_crud: POST listsecrets without a body or Content-Type
    answers the full envelope, identical to GET but for the credentials as sent."""
    emu.arm("PUT", conn("secret"), api_version, json=AOAI)
    got = emu.arm("GET", conn("secret"), api_version).json()
    revealed = emu.arm("POST", conn("secret") + "/listsecrets", api_version)
    assert revealed.headers["content-type"] == "application/json; charset=utf-8"
    expected = {**got, "properties": {**got["properties"], "credentials": AOAI["properties"]["credentials"]}}
    assert revealed.json() == expected


@EVERY
def test_delete_then_get_is_the_rps_404(emu: EmulatorClient, api_version: str) -> None:
    """Every sdk-assets file: DELETE 200 with an empty body and no Content-Type, then GET 404 with the AML
    RP's error body (not ARM's ErrorResponse), naming the workspace's location."""
    emu.add_workspace("00000000-0000-0000-0000-000000000", "00000", "00000", location="eastus2")
    path = (
        "/subscriptions/00000000-0000-0000-0000-000000000/resourceGroups/00000/providers/"
        "Microsoft.MachineLearningServices/workspaces/00000/connections/e2etest_wps_conn_test_159994907929"
    )
    emu.arm("PUT", path, api_version, json=body("AccessKey", {"accessKeyId": "dummy"}, category="S3"))
    deleted = emu.arm("DELETE", path, api_version)
    assert (deleted.status_code, deleted.content, deleted.headers.get("content-type")) == (200, b"", None)
    gone = emu.arm("GET", path, api_version)
    assert gone.status_code == 404
    answer = gone.json()
    assert list(answer) == [
        "error",
        "correlation",
        "environment",
        "location",
        "time",
        "componentName",
        "statusCode",
    ]
    assert answer["error"] == {
        "code": "UserError",
        "severity": None,
        "message": "Connection e2etest_wps_conn_test_159994907929 can't be found in this workspace",
        "messageFormat": None,
        "messageParameters": None,
        "referenceCode": None,
        "detailsUri": None,
        "target": None,
        "details": [],
        "innerError": {"code": "NotFoundError", "innerError": None},
        "debugInfo": None,
        "additionalInfo": None,
    }
    assert re.match(r"^[0-9a-f]{32}$", answer["correlation"]["operation"])
    assert re.match(r"^[0-9a-f]{16}$", answer["correlation"]["request"])
    assert (answer["environment"], answer["location"], answer["componentName"], answer["statusCode"]) == (
        "eastus2",
        "eastus2",
        "account-rp",
        404,
    )
    assert answer["time"].endswith("+00:00")


@EVERY
def test_rate_limit_headers_of_both_families(emu: EmulatorClient, api_version: str) -> None:
    """Headers of every recording: PUT writes 199/2999 then 198/2998; GET and list (200 and 404) reads
    249/3749; listsecrets counts as a write; DELETE deletes 199/2999; a request id on every answer."""
    emu.admin(
        "PUT",
        "throttle",
        {"writes": {"capacity": 200, "rate": 0.001}, "global": {"writes": {"capacity": 3000, "rate": 0.001}}},
    )
    prefix = "x-ms-ratelimit-remaining-subscription-"
    calls = [
        ("PUT", conn("limits"), "writes", ("199", "2999")),
        ("POST", conn("limits") + "/listsecrets", "writes", ("198", "2998")),
        ("GET", conn("limits"), "reads", ("249", "3749")),
        ("GET", CONNECTIONS, "reads", None),
        ("DELETE", conn("limits"), "deletes", ("199", "2999")),
        ("GET", conn("limits"), "reads", None),
    ]
    for method, path, op, remaining in calls:
        answer = emu.arm(method, path, api_version, json=body("None") if method == "PUT" else None)
        assert {prefix + op, prefix + "global-" + op} <= set(answer.headers), (method, path)
        if remaining is not None:
            assert (answer.headers[prefix + op], answer.headers[prefix + "global-" + op]) == remaining
        assert "x-ms-request-id" in answer.headers
        others = {"reads", "writes", "deletes"} - {op}
        assert not any(prefix + other in answer.headers for other in others)
