"""The emulator's pure parts, without a server: the swagger walk of contract.py, the token buckets, fault
rules, authorization, redaction and request log of control.py, and the store's naming rules."""

from __future__ import annotations

import hashlib
import random
from typing import Any

import pytest

from tests.emulator.support import API_VERSIONS, AUTH_TYPES, body, valid_body
from wsconn_testbed.emulator import contract, control, state

# --- contract ---


@pytest.mark.parametrize("api_version", API_VERSIONS)
def test_contract_knows_the_twelve_auth_types(api_version: str) -> None:
    assert set(contract.subtypes(api_version)) == {a.lower() for a in AUTH_TYPES}
    assert set(contract.enum_values(api_version, "ConnectionAuthType")) == set(AUTH_TYPES)


def test_categories_per_api_version() -> None:
    old = set(contract.enum_values("2024-04-01", "ConnectionCategory"))
    new = set(contract.enum_values("2025-06-01", "ConnectionCategory"))
    assert (len(old), len(new)) == (102, 105)
    assert new - old == {"Pinecone", "Elasticsearch", "ManagedOnlineEndpoint"}


@pytest.mark.parametrize("api_version", API_VERSIONS)
@pytest.mark.parametrize("auth_type", sorted(AUTH_TYPES))
def test_valid_bodies_have_no_problems(api_version: str, auth_type: str) -> None:
    assert contract.validate_put(api_version, valid_body(auth_type)) == []


@pytest.mark.parametrize(
    ("auth_type", "fields"),
    [
        ("PAT", ("pat",)),
        ("SAS", ("sas",)),
        ("AccountKey", ("key",)),
        ("UsernamePassword", ("username", "password", "securityToken")),
        ("ManagedIdentity", ("resourceId", "clientId")),
        ("CustomKeys", ("keys",)),
        ("None", ()),
        ("AAD", ()),
        ("accesskey", ("accessKeyId", "secretAccessKey")),
        ("Bogus", ()),
    ],
)
def test_secret_fields(auth_type: str, fields: tuple[str, ...]) -> None:
    assert contract.secret_fields("2025-06-01", auth_type) == fields


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("2024-03-15T14:30:00Z", True),
        ("2024-03-15t14:30:00.5z", True),
        ("2024-03-15T14:30:00-05:00", True),
        ("2024-03-15T14:30:00", False),
        ("2024-03-15", False),
        ("2024-02-30T00:00:00Z", False),
        ("2024-03-15T25:00:00Z", False),
        ("2024-03-15 14:30:00Z", False),
        ("", False),
    ],
)
def test_date_time_format(value: str, ok: bool) -> None:
    assert contract.is_date_time(value) is ok


def test_problems_name_the_path_never_the_value() -> None:
    sent = body("PAT", {"token": "SECRET-x"}, expiryTime="SECRET-y", category="SECRET-z")
    problems = contract.validate_put("2025-06-01", sent)
    assert sorted(p.split(":")[0] for p in problems) == [
        "properties.category",
        "properties.credentials.token",
        "properties.expiryTime",
    ]
    assert "SECRET" not in " ".join(problems)


def test_common_types_references_resolve() -> None:
    # Resource.systemData refers to SystemData inside common-types, not inside the workspace swagger.
    assert contract.validate_put("2024-04-01", {**body("None"), "systemData": {"createdBy": "x"}}) == [
        "systemData: read-only; must not be sent"
    ]


def test_patch_problems() -> None:
    assert contract.validate_patch("2025-06-01", {}) == []
    assert contract.validate_patch("2025-06-01", {"properties": None}) == []
    assert (
        contract.validate_patch("2025-06-01", {"properties": {"target": "t", "metadata": {"a": None}}}) == []
    )
    assert contract.validate_patch("2025-06-01", {"properties": {"expiryTime": None}}) == []
    assert (
        contract.validate_patch("2025-06-01", {"properties": {"authType": "None", "credentials": None}}) == []
    )
    assert contract.validate_patch("2025-06-01", {"properties": {"expiryTime": "x"}}) == [
        "properties.expiryTime: must have format date-time"
    ]
    assert contract.validate_patch("2025-06-01", {"tags": {}}) == ["tags: unknown property"]
    assert contract.validate_patch("2025-06-01", []) == ["(body): must be a JSON object"]


def test_normalise_applies_the_tolerances() -> None:
    stored = contract.normalise(
        {"authType": "accountKey", "credentials": {"sas": "k"}, "metadata": {"a": None, "b": "2"}}
    )
    assert stored == {"authType": "accountKey", "credentials": {"key": "k"}, "metadata": {"b": "2"}}
    assert contract.normalise({"authType": "SAS", "credentials": {"sas": "s"}})["credentials"] == {"sas": "s"}


# --- control: buckets, faults, authorization, redaction, log ---


def test_op_classes() -> None:
    assert [control.op_class(m) for m in ("GET", "PUT", "PATCH", "POST", "DELETE")] == [
        "reads",
        "writes",
        "writes",
        "writes",
        "deletes",
    ]


def test_bucket_takes_and_refills(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    monkeypatch.setattr("wsconn_testbed.emulator.control.time.monotonic", lambda: now[0])
    bucket = control.Bucket(capacity=2, rate=0.5, stamp=100.0)
    assert (bucket.take(), bucket.take()) == (0.0, 0.0)
    assert bucket.remaining == 0
    assert bucket.take() == pytest.approx(2.0)
    now[0] += 1.0
    assert bucket.take() == pytest.approx(1.0)
    now[0] += 1.0
    assert bucket.take() == 0.0
    now[0] += 100.0
    bucket.take()
    assert bucket.remaining == 1  # capped at capacity
    assert control.Bucket(capacity=0, rate=0).take() == 3600.0


def test_retry_after_is_whole_seconds_at_least_one() -> None:
    assert [control.retry_after_seconds(w) for w in (0.01, 1.0, 1.2, 6.0)] == [1, 1, 2, 6]


def test_throttling_configure_and_defaults() -> None:
    throttling = control.Throttling()
    assert throttling.limits == control.DEFAULT_LIMITS
    assert throttling.bucket("SUB", "reads") is throttling.bucket("sub", "reads")
    throttling.configure({"writes": {"capacity": 1, "rate": 1}})
    assert throttling.take("sub", "writes") == 0.0
    assert throttling.take("sub", "writes") > 0
    assert throttling.take("other", "writes") == 0.0
    assert throttling.throttled == 1
    throttling.configure({"enabled": False})
    assert throttling.take("sub", "writes") == 0.0


def test_fault_rule_parse_and_match() -> None:
    rule = control.FaultRule.parse(
        {"methods": ["put"], "path_contains": "/Conn-A", "latency": [0.1, 0.2], "count": 1, "phase": "after"}
    )
    assert rule.methods == ("PUT",)
    assert rule.latency == (0.1, 0.2)
    assert rule.phase == "after"
    assert rule.matches("PUT", "/x/connections/conn-a")
    assert not rule.matches("GET", "/x/connections/conn-a")
    assert not rule.matches("PUT", "/x/connections/conn-b")
    assert control.FaultRule.parse({"duration": -1}).matches("GET", "/") is False


def test_faults_are_reproducible_per_seed() -> None:
    def run(seed: int) -> list[Any]:
        faults = control.Faults()
        faults.configure(
            {"seed": seed, "rules": [{"error_rate": 0.3, "drop_rate": 0.2, "statuses": [500, 503]}]}
        )
        return [faults.decide("GET", "/") for _ in range(50)]

    assert run(1) == run(1)
    assert run(1) != run(2)
    decisions = run(1)
    assert {d.status for d in decisions} == {0, 500, 503}
    assert any(d.drop for d in decisions)
    assert all(d.retry_after == (1 if d.status == 503 else 0) for d in decisions)


def test_fault_burst_count_and_latency() -> None:
    faults = control.Faults()
    faults.configure({"rules": [{"burst_429": 2, "retry_after": 4}, {"latency": 0.5, "count": 3}]})
    decisions = [faults.decide("GET", "/") for _ in range(4)]
    assert [(d.status, d.retry_after) for d in decisions] == [(429, 4), (429, 4), (0, 0), (0, 0)]
    assert [d.delay for d in decisions] == [0.0, 0.0, 0.5, 0.5]
    assert faults.decide("GET", "/").delay == 0.5
    assert faults.decide("GET", "/").delay == 0.0
    assert faults.injected == {"429": 2}


def test_authorization_deny_rules() -> None:
    auth = control.Authorization(
        deny=[{"client_id": "app-1", "action": "write", "scope": "/subscriptions/S/"}]
    )
    assert auth.denied("app-1", "write", "/subscriptions/s/resourceGroups/x")
    assert not auth.denied("app-2", "write", "/subscriptions/s/resourceGroups/x")
    assert not auth.denied("app-1", "read", "/subscriptions/s/resourceGroups/x")
    assert not auth.denied("app-1", "write", "/subscriptions/t")
    assert control.Authorization(deny=[{}]).denied("anyone", "delete", "/anything")


def test_redaction_keeps_names_and_hides_values() -> None:
    sent: dict[str, Any] = {
        "properties": {
            "authType": "CustomKeys",
            "credentials": {"keys": {"a": "s1", "b": "s2"}},
            "value": "s3",
            "metadata": {"m": "visible"},
        },
        "credentials": {"pat": "s4"},
        "extra": [{"Credentials": "s5"}],
    }
    redacted = control.redact_body(sent)
    assert redacted == {
        "properties": {
            "authType": "CustomKeys",
            "credentials": {"keys": {"a": "<redacted>", "b": "<redacted>"}},
            "value": "<redacted>",
            "metadata": {"m": "visible"},
        },
        "credentials": {"pat": "<redacted>"},
        "extra": [{"Credentials": "<redacted>"}],
    }
    assert sent["properties"]["credentials"] == {"keys": {"a": "s1", "b": "s2"}}  # not modified in place
    assert control.redact_body([1]) is None
    assert control.redact_body({"properties": {"credentials": "s"}}) == {
        "properties": {"credentials": "<redacted>"}
    }


def test_body_digest() -> None:
    assert control.body_digest(b"") == ""
    assert control.body_digest(b"{}") == "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"


def test_request_log_is_bounded_and_incremental() -> None:
    log = control.RequestLog(limit=3)
    for i in range(5):
        log.add({"method": "GET", "status": 200 if i % 2 else 404})
    assert [e["seq"] for e in log.entries] == [3, 4, 5]
    assert [e["seq"] for e in log.since(4)] == [5]
    assert log.counters == {"GET 200": 2, "GET 404": 3}


# --- state ---


@pytest.mark.parametrize("api_version", API_VERSIONS)
def test_every_category_has_a_group_of_the_enum(api_version: str) -> None:
    groups = set(contract.enum_values(api_version, "ConnectionGroup"))
    for category in contract.enum_values(api_version, "ConnectionCategory"):
        assert state.group_of(category) in groups
        assert state.group_of(category.upper()) == state.group_of(category)
    assert state.group_of(None) == "ServicesAndApps"


def test_store_names_and_lookup() -> None:
    store = state.Store()
    ws = store.add_workspace("Sub", "Rg", "Ws")
    assert store.add_workspace("SUB", "RG", "WS") == ws  # the first casing stays
    created = store.put(
        "sub", "rg", "ws", "Conn", properties={"authType": "PAT", "credentials": {"pat": "p"}}, principal="me"
    )
    assert created.id == f"{ws}/connections/Conn"
    replaced = store.put("SUB", "RG", "WS", "CONN", properties={"authType": "None"}, principal="me")
    assert replaced is created
    assert (replaced.name, replaced.credentials, replaced.writes) == ("Conn", None, 2)
    assert store.find(created.id.upper()) is not None
    assert store.find("/subscriptions/x") is None
    assert store.missing_parent("sub", "rg", "other") == (
        "ParentResourceNotFound",
        "Can not perform requested operation on nested resource. Parent resource 'other' not found.",
    )
    assert store.missing_parent("sub", "nope", "ws")[0] == "ResourceGroupNotFound"  # type: ignore[index]
    assert store.missing_parent("nope", "rg", "ws")[0] == "SubscriptionNotFound"  # type: ignore[index]
    assert store.remove_workspace("sub", "rg", "ws") == 1
    assert store.connections == {}


def test_credential_digest_is_canonical() -> None:
    connection = state.Connection(
        id="i",
        name="n",
        properties={},
        credentials={"b": "2", "a": "1"},
        created_at="",
        created_by="",
        modified_at="",
        modified_by="",
    )
    assert connection.credential_digest() == hashlib.sha256(b'{"a":"1","b":"2"}').hexdigest()
    assert "credentials" not in connection.resource()["properties"]
    assert connection.with_secrets()["properties"]["credentials"] == {"b": "2", "a": "1"}


def test_random_is_stable_for_seeds() -> None:
    # Reproducible faults rely on random.Random(seed) giving the same floats across runs and versions.
    assert random.Random(0).random() == pytest.approx(0.8444218515250481)
