"""What ARM answers before the resource provider is reached, and the headers it always sends: bearer tokens
(401), api-version (400), missing subscription / resource group / workspace (404), authorization (403),
request and correlation ids, and the remaining-quota headers."""

from __future__ import annotations

import uuid

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.emulator.support import (
    CONNECTIONS,
    RESOURCE_GROUP,
    SUBSCRIPTION,
    WORKSPACE,
    WS_PATH,
    body,
    code,
    conn,
    trust,
)
from wsconn_testbed.emulator.client import EmulatorClient


def _raw(
    emu: EmulatorClient, method: str, path: str, headers: dict[str, str], **params: str
) -> httpx.Response:
    """An ARM call with exactly these headers (no token unless given)."""
    return httpx.request(
        method,
        emu.info["arm_endpoint"] + path,
        params={"api-version": "2025-06-01", **params},
        headers=headers,
        verify=trust(emu.info),
    )


def _fresh_token(emu: EmulatorClient) -> str:
    client_id, secret = next(iter(emu.info["clients"].items()))
    answer = httpx.post(
        f"{emu.info['authority_host']}/{emu.info['tenant_id']}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": secret,
            "scope": emu.info["audience"].rstrip("/") + "/.default",
        },
        verify=trust(emu.info),
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


# --- 401 ---


def test_no_token_is_401(emu: EmulatorClient) -> None:
    answer = _raw(emu, "GET", CONNECTIONS, {})
    assert answer.status_code == 401
    assert code(answer) == "AuthenticationFailed"
    assert answer.headers["WWW-Authenticate"].startswith("Bearer ")
    assert answer.headers["x-ms-failure-cause"] == "gateway"


@pytest.mark.parametrize("header", ["Bearer", "Bearer not-a-jwt", "Basic dXNlcjpwYXNz", "Bearer a.b.c"])
def test_garbage_token_is_401(emu: EmulatorClient, header: str) -> None:
    answer = _raw(emu, "GET", CONNECTIONS, {"Authorization": header})
    assert answer.status_code == 401
    assert code(answer) in {"AuthenticationFailed", "InvalidAuthenticationToken"}
    assert "WWW-Authenticate" in answer.headers


def test_expired_token_is_401_with_expired_challenge(emu: EmulatorClient) -> None:
    emu.admin("PUT", "settings", {"token_ttl": -10})
    expired = _fresh_token(emu)
    emu.admin("PUT", "settings", {"token_ttl": 3600})
    answer = _raw(emu, "GET", CONNECTIONS, {"Authorization": f"Bearer {expired}"})
    assert answer.status_code == 401
    assert code(answer) == "ExpiredAuthenticationToken"
    assert "expired" in answer.headers["WWW-Authenticate"]
    assert 'error="invalid_token"' in answer.headers["WWW-Authenticate"]
    assert _raw(emu, "GET", CONNECTIONS, {"Authorization": f"Bearer {_fresh_token(emu)}"}).status_code == 200


def test_token_not_signed_by_the_emulator_is_401(emu: EmulatorClient) -> None:
    genuine = jwt.decode(_fresh_token(emu), options={"verify_signature": False})
    forged = jwt.encode(genuine, rsa.generate_private_key(65537, 2048), algorithm="RS256")
    answer = _raw(emu, "GET", CONNECTIONS, {"Authorization": f"Bearer {forged}"})
    assert answer.status_code == 401
    assert code(answer) == "InvalidAuthenticationToken"
    unsigned = jwt.encode(genuine, key="", algorithm="none")
    assert _raw(emu, "GET", CONNECTIONS, {"Authorization": f"Bearer {unsigned}"}).status_code == 401


def test_auth_comes_before_everything_else(emu: EmulatorClient) -> None:
    # Even a missing api-version and an unknown subscription are answered 401 to an anonymous caller.
    answer = httpx.get(
        emu.info["arm_endpoint"] + "/subscriptions/nope/resourceGroups/x", verify=trust(emu.info)
    )
    assert answer.status_code == 401


# --- api-version ---


def test_missing_api_version(emu: EmulatorClient) -> None:
    for method in ("GET", "PUT", "DELETE"):
        answer = emu.arm(method, conn("c-1"), None, json=body("None") if method == "PUT" else None)
        assert answer.status_code == 400
        assert code(answer) == "MissingApiVersionParameter"
        assert answer.headers["x-ms-failure-cause"] == "gateway"
    assert emu.arm("GET", conn("c-1"), "").status_code == 400


@pytest.mark.parametrize("api_version", ["2023-10-01", "2025-06-01-preview", "2024-04-01x", "latest"])
def test_unknown_api_version(emu: EmulatorClient, api_version: str) -> None:
    answer = emu.arm("PUT", conn("c-1"), api_version, json=body("None"))
    assert answer.status_code == 400
    assert code(answer) == "NoRegisteredProviderFound"
    assert "2024-04-01" in answer.json()["error"]["message"]
    assert emu.arm("GET", conn("c-1")).status_code == 404  # nothing was written


# --- missing parents ---


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (WS_PATH.replace(SUBSCRIPTION, str(uuid.UUID(int=7))), "SubscriptionNotFound"),
        (WS_PATH.replace(RESOURCE_GROUP, "rg-missing"), "ResourceGroupNotFound"),
        (WS_PATH.replace(WORKSPACE, "ws-missing"), "ParentResourceNotFound"),
    ],
    ids=["subscription", "resource-group", "workspace"],
)
@pytest.mark.parametrize("api_version", ["2024-04-01", "2025-06-01"])
def test_missing_parents_are_404(emu: EmulatorClient, path: str, expected: str, api_version: str) -> None:
    calls = [
        ("PUT", f"{path}/connections/c-1", body("None")),
        ("GET", f"{path}/connections/c-1", None),
        ("DELETE", f"{path}/connections/c-1", None),
        ("POST", f"{path}/connections/c-1/listsecrets", None),
        ("GET", f"{path}/connections", None),
    ]
    for method, url, sent in calls:
        answer = emu.arm(method, url, api_version, json=sent)
        assert answer.status_code == 404, (method, url, answer.text)
        assert code(answer) == expected
    # ARM answers the first two itself (gateway); the RP answers the missing workspace.
    assert ("x-ms-failure-cause" in answer.headers) == (expected != "ParentResourceNotFound")


def test_parent_checks_come_before_api_version_and_name_checks(emu: EmulatorClient) -> None:
    missing_rg = WS_PATH.replace(RESOURCE_GROUP, "rg-missing")
    assert code(emu.arm("GET", f"{missing_rg}/connections/c-1", "1999-01-01")) == "ResourceGroupNotFound"
    missing_ws = WS_PATH.replace(WORKSPACE, "ws-missing")
    assert code(emu.arm("GET", f"{missing_ws}/connections/!", "2025-06-01")) == "ParentResourceNotFound"


def test_unknown_resource_type_is_404(emu: EmulatorClient) -> None:
    answer = emu.arm(
        "GET", f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}/providers/Microsoft.Foo/bars/x"
    )
    assert answer.status_code == 404
    assert code(answer) == "InvalidResourceType"


# --- authorization ---


def test_deny_rule_gives_403_for_that_action_only(emu: EmulatorClient) -> None:
    emu.arm("PUT", conn("c-1"), json=body("PAT", {"pat": "p"}))
    emu.admin("PUT", "authorization", {"deny": [{"client_id": "*", "action": "write", "scope": WS_PATH}]})
    denied = emu.arm("PUT", conn("c-1"), json=body("PAT", {"pat": "q"}))
    assert denied.status_code == 403
    assert code(denied) == "AuthorizationFailed"
    assert "connections/write" in denied.json()["error"]["message"]
    assert emu.arm("PATCH", conn("c-1"), json={"properties": {"target": "x"}}).status_code == 403
    assert emu.arm("GET", conn("c-1")).status_code == 200
    assert emu.arm("POST", conn("c-1") + "/listsecrets").json()["properties"]["credentials"] == {"pat": "p"}
    assert emu.arm("DELETE", conn("c-1")).status_code == 200


def test_deny_listsecrets_and_scope_matching(emu: EmulatorClient) -> None:
    emu.arm("PUT", conn("c-1"), json=body("PAT", {"pat": "p"}))
    client_id = next(iter(emu.info["clients"]))
    rules = [
        {
            "client_id": client_id,
            "action": "listsecrets",
            "scope": WS_PATH.lower(),
        },  # scopes are case-insensitive
        {"client_id": "someone-else", "action": "*", "scope": "/"},
        {"client_id": "*", "action": "*", "scope": WS_PATH + "/connections/other"},
    ]
    emu.admin("PUT", "authorization", {"deny": rules})
    assert emu.arm("POST", conn("c-1") + "/listsecrets").status_code == 403
    assert emu.arm("GET", conn("c-1")).status_code == 200
    assert emu.arm("PUT", conn("c-2"), json=body("None")).status_code == 200
    assert emu.arm("PUT", conn("other"), json=body("None")).status_code == 403
    assert emu.arm("GET", conn("other")).status_code == 403
    emu.admin("PUT", "authorization", {"deny": []})
    assert emu.arm("POST", conn("c-1") + "/listsecrets").status_code == 200


# --- headers ---


def test_request_and_correlation_ids(emu: EmulatorClient) -> None:
    correlation = str(uuid.uuid4())
    answer = emu.arm(
        "PUT", conn("c-1"), json=body("None"), headers={"x-ms-correlation-request-id": correlation}
    )
    assert answer.headers["x-ms-correlation-request-id"] == correlation
    request_id = uuid.UUID(answer.headers["x-ms-request-id"])
    again = emu.arm("GET", conn("c-1"))
    assert uuid.UUID(again.headers["x-ms-request-id"]) != request_id
    uuid.UUID(again.headers["x-ms-correlation-request-id"])  # generated when the client sends none
    for failing in (
        emu.arm("GET", conn("absent")),
        emu.arm("GET", conn("c-1"), None),
        _raw(emu, "GET", CONNECTIONS, {}),
    ):
        assert failing.status_code >= 400
        uuid.UUID(failing.headers["x-ms-request-id"])
        assert failing.headers["content-type"].startswith("application/json")
    [entry] = [e for e in emu.requests() if e["correlation_id"] == correlation]
    assert entry["request_id"] == str(request_id)


def test_client_request_id_is_echoed_only_when_asked(emu: EmulatorClient) -> None:
    client_request = str(uuid.uuid4())
    plain = emu.arm("GET", CONNECTIONS, headers={"x-ms-client-request-id": client_request})
    assert "x-ms-client-request-id" not in plain.headers
    echoed = emu.arm(
        "GET",
        CONNECTIONS,
        headers={"x-ms-client-request-id": client_request, "x-ms-return-client-request-id": "true"},
    )
    assert echoed.headers["x-ms-client-request-id"] == client_request


def test_remaining_quota_headers_per_operation_class(emu: EmulatorClient) -> None:
    # A slow refill, so that the count goes down by one per request whatever the machine's speed.
    emu.admin("PUT", "throttle", {"writes": {"capacity": 200, "rate": 0.001}})
    header = "x-ms-ratelimit-remaining-subscription-writes"
    writes = [int(emu.arm("PUT", conn(f"c-{i}"), json=body("None")).headers[header]) for i in range(3)]
    assert writes == [199, 198, 197]
    read = emu.arm("GET", CONNECTIONS)
    assert int(read.headers["x-ms-ratelimit-remaining-subscription-reads"]) <= 249
    assert "x-ms-ratelimit-remaining-subscription-writes" not in read.headers
    deleted = emu.arm("DELETE", conn("c-0"))
    assert int(deleted.headers["x-ms-ratelimit-remaining-subscription-deletes"]) <= 199
    secrets = emu.arm("POST", conn("c-1") + "/listsecrets")
    assert "x-ms-ratelimit-remaining-subscription-writes" in secrets.headers  # listsecrets counts as a write


def test_remaining_quota_is_per_subscription(emu: EmulatorClient) -> None:
    other = emu.add_workspace(str(uuid.UUID(int=99)), "rg", "ws-two")
    first = emu.arm("PUT", conn("c-1"), json=body("None"))
    second = emu.arm("PUT", f"{other}/connections/c-1", json=body("None"))
    assert (
        first.headers["x-ms-ratelimit-remaining-subscription-writes"]
        == second.headers["x-ms-ratelimit-remaining-subscription-writes"]
    )


def test_routing_and_date_headers(emu: EmulatorClient) -> None:
    answer = emu.arm("GET", CONNECTIONS)
    assert "date" in answer.headers
    assert answer.headers["x-ms-routing-request-id"].endswith(answer.headers["x-ms-request-id"])
