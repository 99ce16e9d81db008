"""What tests steer through the admin API, checked from the client's side: ARM's token buckets, injected
faults (429 bursts, error rates, dropped connections, latency, seeded reproducibility, effects after the
write), the request log (which never holds a credential value), out-of-band changes, and reset."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

import httpx
import pytest

from tests.emulator.support import (
    AUTH_TYPES,
    CONNECTIONS,
    RESOURCE_GROUP,
    SUBSCRIPTION,
    WORKSPACE,
    WS_PATH,
    Emulator,
    body,
    code,
    conn,
    trust,
)
from wsconn_testbed.emulator.client import EmulatorClient

# --- throttling ---


def test_write_bucket_empties_into_429_with_retry_after(emu: EmulatorClient) -> None:
    emu.admin("PUT", "throttle", {"writes": {"capacity": 3, "rate": 0.5}})
    remaining = []
    for i in range(3):
        answer = emu.arm("PUT", conn(f"c-{i}"), json=body("None"))
        assert answer.status_code == 200
        remaining.append(int(answer.headers["x-ms-ratelimit-remaining-subscription-writes"]))
    assert remaining == [2, 1, 0]
    throttled = emu.arm("PUT", conn("c-3"), json=body("None"))
    assert throttled.status_code == 429
    assert code(throttled) == "SubscriptionRequestsThrottled"
    assert 1 <= int(throttled.headers["Retry-After"]) <= 2
    assert throttled.headers["x-ms-failure-cause"] == "gateway"
    assert "write requests" in throttled.json()["error"]["message"]
    logged = emu.requests()[-1]
    assert (logged["status"], logged["retry_after"]) == (429, int(throttled.headers["Retry-After"]))
    # Not processed; reads and deletes have their own buckets.
    read = emu.arm("GET", conn("c-3"))
    assert read.status_code == 404
    assert emu.arm("GET", CONNECTIONS).status_code == 200
    assert emu.arm("DELETE", conn("c-0")).status_code == 200
    assert emu.arm("POST", conn("c-1") + "/listsecrets").status_code == 429  # listsecrets is a write
    assert emu.admin("GET", "counters")["throttled"] == 2


def test_bucket_refills_at_its_rate(emu: EmulatorClient) -> None:
    emu.admin("PUT", "throttle", {"reads": {"capacity": 1, "rate": 2}})
    assert emu.arm("GET", CONNECTIONS).status_code == 200
    assert emu.arm("GET", CONNECTIONS).status_code == 429
    time.sleep(0.6)  # 2 tokens/s: one is back after 0.5 s
    assert emu.arm("GET", CONNECTIONS).status_code == 200


def test_throttling_is_per_subscription(emu: EmulatorClient) -> None:
    other = emu.add_workspace("11111111-0000-0000-0000-000000000000", "rg", "ws-two")
    emu.admin("PUT", "throttle", {"deletes": {"capacity": 1, "rate": 0.01}})
    assert emu.arm("DELETE", conn("c-1")).status_code == 204
    assert emu.arm("DELETE", conn("c-1")).status_code == 429
    assert emu.arm("DELETE", f"{other}/connections/c-1").status_code == 204


def test_throttling_can_be_disabled(emu: EmulatorClient) -> None:
    emu.admin("PUT", "throttle", {"enabled": False, "writes": {"capacity": 1, "rate": 0.01}})
    for i in range(3):
        answer = emu.arm("PUT", conn(f"c-{i}"), json=body("None"))
        assert answer.status_code == 200
        assert "x-ms-ratelimit-remaining-subscription-writes" not in answer.headers


# --- faults ---


def _statuses(emu: EmulatorClient, n: int, path: str = CONNECTIONS) -> list[int]:
    return [emu.arm("GET", path).status_code for _ in range(n)]


def test_burst_of_429s(emu: EmulatorClient) -> None:
    emu.faults([{"methods": ["GET"], "burst_429": 2, "retry_after": 3}])
    first = emu.arm("GET", CONNECTIONS)
    assert first.status_code == 429
    assert first.headers["Retry-After"] == "3"
    assert code(first) == "TooManyRequests"
    assert _statuses(emu, 3) == [429, 200, 200]
    assert emu.arm("PUT", conn("c-1"), json=body("None")).status_code == 200  # PUT does not match
    assert emu.admin("GET", "counters")["injected"] == {"429": 2}


def test_error_rate_with_chosen_statuses_before_the_write(emu: EmulatorClient) -> None:
    emu.faults([{"methods": ["PUT"], "error_rate": 1.0, "statuses": [503]}])
    answer = emu.arm("PUT", conn("c-1"), json=body("None"))
    assert answer.status_code == 503
    assert code(answer) == "ServiceUnavailable"
    assert "Retry-After" in answer.headers
    assert emu.arm("GET", conn("c-1")).status_code == 404  # the write did not happen


def test_error_after_the_write_took_effect(emu: EmulatorClient) -> None:
    emu.faults([{"methods": ["PUT"], "error_rate": 1.0, "statuses": [500], "phase": "after"}])
    answer = emu.arm("PUT", conn("c-1"), json=body("PAT", {"pat": "landed"}))
    assert answer.status_code == 500
    assert code(answer) == "InternalServerError"
    emu.admin("DELETE", "faults")
    assert emu.arm("GET", conn("c-1")).status_code == 200
    assert emu.arm("POST", conn("c-1") + "/listsecrets").json()["properties"]["credentials"] == {
        "pat": "landed"
    }


def test_dropped_connection(emu: EmulatorClient) -> None:
    emu.faults([{"methods": ["PUT"], "drop_rate": 1.0}])
    with pytest.raises(httpx.TransportError):
        emu.arm("PUT", conn("c-1"), json=body("None"))
    assert emu.arm("GET", conn("c-1")).status_code == 404
    emu.faults([{"methods": ["PUT"], "drop_rate": 1.0, "phase": "after"}])
    with pytest.raises(httpx.TransportError):
        emu.arm("PUT", conn("c-2"), json=body("None"))
    assert emu.arm("GET", conn("c-2")).status_code == 200
    dropped = [e for e in emu.requests() if e["fault"] == "drop"]
    assert [(e["method"], e["status"]) for e in dropped] == [("PUT", 0), ("PUT", 0)]


def test_latency_fixed_and_distributed(emu: EmulatorClient) -> None:
    emu.faults([{"latency": 0.3, "count": 1}])
    started = time.monotonic()
    assert emu.arm("GET", CONNECTIONS).status_code == 200
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    emu.arm("GET", CONNECTIONS)
    assert time.monotonic() - started < 0.3  # count: 1 is spent
    emu.faults([{"latency": [0.05, 0.1]}])
    started = time.monotonic()
    emu.arm("GET", CONNECTIONS)
    assert time.monotonic() - started >= 0.05


def test_rule_matching_by_path_and_count(emu: EmulatorClient) -> None:
    emu.arm("PUT", conn("flaky"), json=body("None"))
    emu.arm("PUT", conn("steady"), json=body("None"))
    emu.faults([{"path_contains": "/connections/FLAKY", "error_rate": 1.0, "statuses": [500], "count": 2}])
    assert _statuses(emu, 2, conn("steady")) == [200, 200]
    assert _statuses(emu, 3, conn("flaky")) == [500, 500, 200]


def test_same_seed_same_faults(emu: EmulatorClient) -> None:
    rule = {"methods": ["GET"], "error_rate": 0.5, "statuses": [500, 503]}

    def run(seed: int) -> list[int]:
        emu.faults([rule], seed=seed)
        return _statuses(emu, 24)

    first, again, other = run(7), run(7), run(8)
    assert first == again
    assert set(first) == {200, 500, 503}
    assert other != first


def test_clearing_faults_reports_what_was_injected(emu: EmulatorClient) -> None:
    emu.faults([{"error_rate": 1.0, "statuses": [504]}])
    _statuses(emu, 2)
    assert emu.admin("DELETE", "faults")["injected"] == {"504": 2}
    assert _statuses(emu, 1) == [200]


# --- request log ---

CANARY = "SECRET-canary-3b1f9c"
# The legacy `value` is an ordinary property (GET returns it), but it may hold a v1 secret: not logged either.
VALUE_CANARY = "SECRET-legacy-value-77e0"


def _leaky_requests() -> list[tuple[str, str, str, Any]]:
    """(method, path, api-version, body) carrying the canary wherever a credential can sit, and in places it
    should not (a wrong credential field, credentials beside `properties`, the legacy `value`)."""
    creds = {
        "PAT": {"pat": CANARY},
        "UsernamePassword": {"username": "u", "password": CANARY, "securityToken": CANARY},
        "CustomKeys": {"keys": {"k": CANARY}},
        "OAuth2": {"clientSecret": CANARY, "refreshToken": CANARY},
        "AccountKey": {"sas": CANARY},
        "ServicePrincipal": {"clientId": "c", "clientSecret": CANARY, "tenantId": "t"},
    }
    latest = "2025-06-01"
    calls: list[tuple[str, str, str, Any]] = [
        ("PUT", conn(f"leak-{a.lower()}"), latest, body(a, c)) for a, c in creds.items()
    ]
    calls += [
        ("PUT", conn("leak-value"), latest, body("None", value=VALUE_CANARY)),
        ("PUT", conn("leak-bad"), latest, body("PAT", {"token": CANARY})),
        ("PUT", conn("leak-top"), latest, {**body("PAT"), "credentials": {"pat": CANARY}}),
        ("PUT", conn("leak-2024"), "2024-04-01", body("SAS", {"sas": CANARY})),
        ("PATCH", conn("leak-pat"), latest, {"properties": {"credentials": {"pat": CANARY + "2"}}}),
        ("PATCH", conn("leak-pat"), "2024-04-01", {"properties": {"credentials": {"pat": CANARY}}}),
        ("POST", conn("leak-pat") + "/listsecrets", latest, None),
        ("GET", CONNECTIONS, latest, None),
    ]
    return calls


def test_request_log_never_holds_a_credential(emulator: Emulator, emu: EmulatorClient) -> None:
    emu.faults([{"path_contains": "leak-2024", "error_rate": 1.0, "statuses": [500], "phase": "after"}])
    statuses = [emu.arm(m, path, v, json=sent).status_code for m, path, v, sent in _leaky_requests()]
    assert statuses == [200] * 7 + [400, 400, 500, 200, 405, 200, 200]
    revealed = emu.arm("POST", conn("leak-pat") + "/listsecrets")
    assert CANARY in revealed.text  # the canary did reach the store

    log = emu.admin("GET", "requests")
    entries = [e for e in log["entries"] if e["kind"] == "arm"]
    assert len(entries) >= len(statuses)
    assert CANARY not in json.dumps(log)
    assert VALUE_CANARY not in json.dumps(log)
    assert CANARY not in json.dumps(emu.admin("GET", "connections"))
    assert CANARY not in json.dumps(emu.admin("GET", "counters"))
    stdout = emulator.log_file.read_text(errors="replace")
    assert CANARY not in stdout
    assert VALUE_CANARY not in stdout

    puts = [e for e in entries if e["method"] in ("PUT", "PATCH")]
    assert all(len(e["body_sha256"]) == 64 for e in puts)
    redacted = [e["body"] for e in puts if e["body"] and "credentials" in e["body"].get("properties", {})]
    assert redacted
    for logged in redacted:
        assert _leaves(logged["properties"]["credentials"]) <= {"<redacted>"}
    assert {"keys": {"k": "<redacted>"}} in [b["properties"]["credentials"] for b in redacted]
    top = [e["body"] for e in puts if e["path"] == conn("leak-top")]
    assert top == [{**body("PAT"), "credentials": {"pat": "<redacted>"}}]
    [value] = [e["body"] for e in puts if e["path"] == conn("leak-value")]
    assert value["properties"]["value"] == "<redacted>"


def _leaves(node: Any) -> set[Any]:
    if isinstance(node, dict):
        return set().union(*(_leaves(v) for v in node.values()))
    return {node}


def test_request_log_entries(emu: EmulatorClient) -> None:
    sent = json.dumps(body("PAT", {"pat": "p"})).encode()
    since = emu.last_seq()
    emu.arm("PUT", conn("c-1"), "2024-04-01", content=sent, headers={"content-type": "application/json"})
    emu.arm("GET", conn("absent"))
    emu.arm("DELETE", conn("c-1"))
    put, get, delete = emu.requests(since=since)
    client_id = next(iter(emu.info["clients"]))
    assert (put["method"], put["path"], put["api_version"], put["status"], put["op"]) == (
        "PUT",
        conn("c-1"),
        "2024-04-01",
        200,
        "writes",
    )
    assert put["body_sha256"] == hashlib.sha256(sent).hexdigest()
    assert put["body"]["properties"]["credentials"] == {"pat": "<redacted>"}
    assert put["client_id"] == client_id
    assert put["subscription"] == SUBSCRIPTION
    assert (get["status"], get["op"], get["body_sha256"], get["body"]) == (404, "reads", "", None)
    assert (delete["status"], delete["op"]) == (200, "deletes")
    assert put["seq"] < get["seq"] < delete["seq"]
    assert emu.requests(since=delete["seq"]) == []
    tokens = emu.requests(kind="entra")
    assert all(e["kind"] == "entra" for e in tokens)
    counters = emu.admin("GET", "counters")
    assert counters["requests"]["PUT 200"] >= 1
    assert counters["connections"] == 0


def test_request_log_can_be_cleared(emu: EmulatorClient) -> None:
    emu.arm("GET", CONNECTIONS)
    last = emu.admin("DELETE", "requests")["last"]
    assert emu.requests(kind="arm") == []
    emu.arm("GET", CONNECTIONS)
    [entry] = emu.requests()
    assert entry["seq"] == last + 1


# --- out-of-band changes, workspaces ---


def test_out_of_band_edit_and_delete(emu: EmulatorClient) -> None:
    created = emu.arm(
        "PUT", conn("drifty"), json=body("PAT", {"pat": "original"}, metadata={"a": "1"})
    ).json()
    edited = emu.admin(
        "PATCH",
        "connections",
        {
            "id": created["id"].upper(),
            "properties": {"target": "https://drifted", "metadata": None},
            "credentials": {"pat": "rotated"},
        },
    )
    assert edited["properties"]["target"] == "https://drifted"
    assert edited["properties"]["credentials"] is None
    got = emu.arm("GET", conn("drifty")).json()
    assert got["properties"]["target"] == "https://drifted"
    assert got["properties"]["metadata"] == {}
    assert got["systemData"]["lastModifiedBy"] == "out-of-band"
    revealed = emu.arm("POST", conn("drifty") + "/listsecrets").json()
    assert revealed["properties"]["credentials"] == {"pat": "rotated"}

    [stored] = emu.connections()
    assert stored["credentialFields"] == ["pat"]
    canonical = json.dumps({"pat": "rotated"}, sort_keys=True, separators=(",", ":"))
    assert stored["credentialDigest"] == hashlib.sha256(canonical.encode()).hexdigest()
    assert "rotated" not in json.dumps(stored)

    assert emu.admin("DELETE", "connections", {"id": created["id"]}) == {"deleted": True}
    assert emu.admin("DELETE", "connections", {"id": created["id"]}) == {"deleted": False}
    assert emu.arm("GET", conn("drifty")).status_code == 404
    assert emu.arm("DELETE", conn("drifty")).status_code == 204


def test_admin_connections_filter_by_prefix(emu: EmulatorClient) -> None:
    other = emu.add_workspace(SUBSCRIPTION, RESOURCE_GROUP, "ws-two")
    emu.arm("PUT", conn("c-1"), json=body("None"))
    emu.arm("PUT", f"{other}/connections/c-2", json=body("None"))
    assert [c["name"] for c in emu.connections(prefix=CONNECTIONS.upper())] == ["c-1"]
    assert len(emu.connections()) == 2


def test_removing_a_workspace_deletes_its_connections(emu: EmulatorClient) -> None:
    for name in ("c-1", "c-2"):
        emu.arm("PUT", conn(name), json=body("None"))
    assert emu.remove_workspace(SUBSCRIPTION, RESOURCE_GROUP, WORKSPACE.upper()) == 2
    gone = emu.arm("GET", conn("c-1"))
    assert gone.status_code == 404
    assert code(gone) == "ParentResourceNotFound"
    assert emu.add_workspace(SUBSCRIPTION, RESOURCE_GROUP, WORKSPACE) == WS_PATH
    assert emu.arm("GET", CONNECTIONS).json() == {"value": []}


def test_removing_a_resource_group(emu: EmulatorClient) -> None:
    emu.arm("PUT", conn("c-1"), json=body("None"))
    emu.admin("DELETE", "resource-groups", {"subscription": SUBSCRIPTION, "resource_group": RESOURCE_GROUP})
    assert code(emu.arm("GET", conn("c-1"))) == "ResourceGroupNotFound"
    assert emu.admin("GET", "counters")["connections"] == 0


def test_new_workspace_in_a_new_subscription(emu: EmulatorClient) -> None:
    ws = emu.add_workspace("aaaaaaaa-0000-0000-0000-000000000001", "Other-RG", "Ws-New")
    assert ws.endswith(
        "/resourceGroups/Other-RG/providers/Microsoft.MachineLearningServices/workspaces/Ws-New"
    )
    created = emu.arm("PUT", f"{ws.lower()}/connections/c-1", json=body("None"))
    assert created.status_code == 200
    assert created.json()["id"] == f"{ws}/connections/c-1"
    assert created.json()["properties"]["createdByWorkspaceArmId"] == ws


# --- reset, admin API ---


def test_reset_restores_the_start_up_state(emu: EmulatorClient) -> None:
    gone = emu.add_workspace("bbbbbbbb-0000-0000-0000-000000000002", "rg", "ws-x")
    emu.arm("PUT", conn("c-1"), json=body("None"))
    emu.remove_workspace(SUBSCRIPTION, RESOURCE_GROUP, WORKSPACE)
    emu.faults([{"methods": ["DELETE"], "error_rate": 1.0}])
    emu.admin("PUT", "authorization", {"deny": [{"action": "read", "scope": "/"}]})
    emu.admin("PUT", "throttle", {"enabled": False, "writes": {"capacity": 1, "rate": 1}})
    emu.admin(
        "PUT",
        "settings",
        {
            "page_size": 1,
            "token_ttl": 5,
            "echo_body_in_errors": True,
            "max_name_length": 10,
            "added_metadata": {"S3": {"k": "v"}},
        },
    )

    emu.admin("POST", "reset")
    settings = emu.admin("PUT", "settings", {})
    assert settings == {
        "page_size": 20,
        "echo_body_in_errors": False,
        "token_ttl": 3600,
        "max_name_length": 64,
        "added_metadata": {"AzureOpenAI": {"DeploymentApiVersion": "2023-10-01-preview"}},
    }
    assert emu.admin("GET", "requests")["entries"] == []
    counters = emu.admin("GET", "counters")
    assert (counters["connections"], counters["throttled"], counters["injected"]) == (0, 0, {})
    assert emu.arm("GET", conn("c-1")).status_code == 404  # workspace back, no deny rule, no connection
    assert emu.arm("DELETE", conn("c-1")).status_code == 204  # no fault
    put = emu.arm("PUT", conn("c-1"), json=body("None"))
    assert put.headers["x-ms-ratelimit-remaining-subscription-writes"] == "199"  # throttling on, bucket full
    assert emu.arm("PUT", conn("c-2"), json=body("None")).status_code == 200
    assert code(emu.arm("GET", f"{gone}/connections")) == "SubscriptionNotFound"


def test_echo_body_in_errors_is_off_by_default(emu: EmulatorClient) -> None:
    bad = body("PAT", {"token": "SECRET-echo"})
    assert "SECRET-echo" not in emu.arm("PUT", conn("c-1"), json=bad).text
    emu.admin("PUT", "settings", {"echo_body_in_errors": True})
    assert "SECRET-echo" in emu.arm("PUT", conn("c-1"), json=bad).text


def test_admin_api_needs_its_token(emu: EmulatorClient) -> None:
    base = emu.info["arm_endpoint"] + "/_emulator/counters"
    assert httpx.get(base, verify=trust(emu.info)).status_code == 401
    token = emu.token()  # an ARM token is not the admin token
    assert (
        httpx.get(base, headers={"Authorization": f"Bearer {token}"}, verify=trust(emu.info)).status_code
        == 401
    )


@pytest.mark.parametrize(
    ("method", "route", "sent", "status"),
    [
        ("GET", "nowhere", None, 404),
        ("POST", "connections", None, 404),
        ("PATCH", "connections", {"id": "/subscriptions/x"}, 400),
        ("PUT", "workspaces", {"subscription": "s"}, 400),
        ("PUT", "throttle", {"writes": {"capacity": 1}}, 400),
    ],
)
def test_admin_api_errors(emu: EmulatorClient, method: str, route: str, sent: Any, status: int) -> None:
    with pytest.raises(httpx.HTTPStatusError) as raised:
        emu.admin(method, route, sent)
    assert raised.value.response.status_code == status


def test_all_auth_types_are_covered() -> None:
    assert len(AUTH_TYPES) == 12
