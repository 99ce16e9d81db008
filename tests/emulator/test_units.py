"""The emulator's pure parts, without a server: the contract readings (swagger and bicep-types, per
api-version), the category tables, the answer shapes, the token buckets, fault rules and body-fault plans,
principals, authorization, redaction, the request log and the store."""

from __future__ import annotations

import base64
import hashlib
import json
import random
from typing import Any

import pytest

from tests.emulator.support import ALL_API_VERSIONS, ANSWER_ORDER, API_VERSIONS, AUTH_TYPES, body, valid_body
from wsconn_testbed.emulator import answers, categories, contract, control, faults, principals, state, swagger
from wsconn_testbed.emulator.bicep import BicepSchema
from wsconn_testbed.emulator.swagger import SwaggerSchema
from wsconn_testbed.emulator.throttling import (
    DEFAULT_LIMITS,
    Bucket,
    Throttling,
    op_class,
    retry_after_seconds,
)

# --- contract: api-versions, readings, tolerances ---


def test_api_versions_and_their_schemas() -> None:
    assert contract.API_VERSIONS == (
        "2022-05-01",
        "2024-04-01-preview",
        "2024-04-01",
        "2025-06-01",
        "2025-09-01",
        "2025-12-01",
        "2026-05-01",
    )
    readers = {v: type(contract.schema(v)).__name__ for v in contract.API_VERSIONS}
    assert readers == {
        "2022-05-01": "SwaggerSchema",
        "2024-04-01-preview": "SwaggerSchema",
        "2024-04-01": "SwaggerSchema",
        "2025-06-01": "SwaggerSchema",
        "2025-09-01": "BicepSchema",
        "2025-12-01": "BicepSchema",
        "2026-05-01": "BicepSchema",
    }
    assert [v for v in contract.API_VERSIONS if contract.VERSIONS[v].patch] == list(API_VERSIONS[1:])
    assert [v for v in contract.API_VERSIONS if contract.VERSIONS[v].legacy] == ["2022-05-01"]


@pytest.mark.parametrize("api_version", ALL_API_VERSIONS)
def test_contract_knows_the_twelve_auth_types(api_version: str) -> None:
    assert set(contract.schema(api_version).auth_types().values()) == set(AUTH_TYPES)


def test_categories_per_api_version() -> None:
    counts = {v: len(contract.schema(v).categories()) for v in API_VERSIONS}
    assert counts == {
        "2024-04-01": 102,
        "2025-06-01": 105,
        "2025-09-01": 105,
        "2025-12-01": 120,
        "2026-05-01": 120,
    }
    old, new = (set(contract.schema(v).categories()) for v in ("2024-04-01", "2025-06-01"))
    assert new - old == {"Pinecone", "Elasticsearch", "ManagedOnlineEndpoint"}
    before, after = (set(contract.schema(v).categories()) for v in ("2025-09-01", "2025-12-01"))
    assert after - before == {
        "AzureKeyVault",
        "AzureContainerAppEnvironment",
        "AzureStorageAccount",
        "Databricks",
        "RemoteTool",
        "AppInsights",
        "AppConfig",
        "ApiManagement",
        "ModelGateway",
        "GroundingWithBingSearch",
        "GroundingWithCustomSearch",
        "Sharepoint",
        "MicrosoftFabric",
        "PowerPlatformEnvironment",
        "RemoteA2A",
    }
    assert set(contract.schema("2026-05-01").categories()) == after


@pytest.mark.parametrize("api_version", ALL_API_VERSIONS)
@pytest.mark.parametrize("auth_type", sorted(AUTH_TYPES))
def test_valid_bodies_have_no_problems(api_version: str, auth_type: str) -> None:
    assert contract.validate_put(api_version, valid_body(auth_type), "c-1") == []


@pytest.mark.parametrize(
    ("auth_type", "fields"),
    [
        ("PAT", ("pat",)),
        ("SAS", ("sas",)),
        ("AccountKey", ("key",)),
        ("UsernamePassword", ("username", "password", "securityToken")),
        ("ManagedIdentity", ("resourceId", "clientId")),
        ("CustomKeys", ("keys",)),
        ("None", None),
        ("AAD", None),
        ("accesskey", ("accessKeyId", "secretAccessKey")),
        ("Bogus", None),
    ],
)
@pytest.mark.parametrize("api_version", ["2025-06-01", "2026-05-01"])
def test_credential_fields(api_version: str, auth_type: str, fields: tuple[str, ...] | None) -> None:
    found = contract.schema(api_version).credential_fields(auth_type)
    assert (sorted(found) if found is not None else None) == (sorted(fields) if fields is not None else None)
    assert contract.has_credentials(api_version, auth_type) is (fields is not None)


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
    assert swagger.is_date_time(value) is ok


@pytest.mark.parametrize("api_version", API_VERSIONS)
def test_problems_name_the_path_never_the_value(api_version: str) -> None:
    sent = body("PAT", {"token": "SECRET-x"}, expiryTime="SECRET-y", category="SECRET-z")
    problems = contract.validate_put(api_version, sent, "c-1")
    assert sorted(p.split(":")[0] for p in problems) == [
        "properties.category",
        "properties.credentials.token",
        "properties.expiryTime",
    ]
    assert "SECRET" not in " ".join(problems)


def test_common_types_references_resolve() -> None:
    # Resource.systemData refers to SystemData inside common-types, not inside the workspace swagger.
    assert contract.validate_put("2024-04-01", {**body("None"), "systemData": {"createdBy": "x"}}, "c-1") == [
        "systemData: read-only; must not be sent"
    ]


@pytest.mark.parametrize("api_version", ALL_API_VERSIONS)
def test_top_level_name_equal_to_the_url_name(api_version: str) -> None:
    # Azure Service Operator's recorded PUT sends the envelope name; the service accepted it.
    assert contract.validate_put(api_version, {**body("None"), "name": "My-Conn"}, "my-conn") == []
    assert contract.validate_put(api_version, {**body("None"), "name": "other"}, "my-conn") == [
        "name: must equal the connection name in the request URL"
    ]


@pytest.mark.parametrize(
    ("api_version", "field", "problem"),
    [
        ("2024-04-01", "value", ""),
        ("2025-09-01", "value", ""),
        ("2025-12-01", "value", "properties.value: unknown property"),
        ("2026-05-01", "valueFormat", "properties.valueFormat: unknown property"),
        ("2025-12-01", "peRequirement", ""),
        ("2025-09-01", "peRequirement", "properties.peRequirement: unknown property"),
        ("2025-12-01", "useWorkspaceManagedIdentity", ""),
        ("2025-12-01", "error", "properties.error: read-only; must not be sent"),
        ("2026-05-01", "peStatus", "properties.peStatus: read-only; must not be sent"),
        ("2026-05-01", "group", "properties.group: read-only; must not be sent"),
        (
            "2025-12-01",
            "createdByWorkspaceArmId",
            "properties.createdByWorkspaceArmId: read-only; must not be sent",
        ),
    ],
)
def test_fields_per_api_version(api_version: str, field: str, problem: str) -> None:
    sample = {
        "value": "v",
        "valueFormat": "JSON",
        "peRequirement": "Required",
        "useWorkspaceManagedIdentity": True,
        "error": "e",
        "peStatus": "Active",
        "group": "Azure",
        "createdByWorkspaceArmId": "/subscriptions/x",
    }
    problems = contract.validate_put(api_version, body("None", **{field: sample[field]}), "c-1")
    assert problems == ([problem] if problem else [])


def test_bicep_formats_come_from_the_swagger_definitions() -> None:
    # bicep-types keep no formats: expiryTime stays a date-time and OAuth2's authUrl a URL (2025-06-01's swagger).
    assert contract.validate_put("2025-12-01", body("None", expiryTime="soon"), "c-1") == [
        "properties.expiryTime: must have format date-time"
    ]
    assert contract.validate_put("2025-12-01", body("OAuth2", {"authUrl": "nope"}), "c-1") == [
        "properties.credentials.authUrl: must have format url"
    ]
    assert swagger.formats("2025-06-01")["WorkspaceConnectionOAuth2"] == {
        "authUrl": "url",
        "clientId": "uuid",
    }


# Bodies for reading the same version (2025-06-01) both ways; the swagger leaves some subtypes open
# (additionalProperties absent) where bicep-types cannot say so, which is the one expected difference.
CROSS_CHECK: list[dict[str, Any]] = [
    *(valid_body(a) for a in AUTH_TYPES),
    body(
        "None",
        expiryTime="2030-01-01T00:00:00Z",
        isSharedToAll=True,
        sharedUserList=["a"],
        metadata={"k": "v"},
    ),
    body("None", expiryTime="tomorrow"),
    body("None", category="Bogus"),
    body("Bogus"),
    body("PAT", {"token": "t"}),
    body("OAuth2", {"clientId": "not-a-uuid"}),
    body("CustomKeys", {"keys": {"a": 1}}),
    body("None", metadata={"a": 1}),
    body("None", valueFormat="XML"),
    body("None", value="v", valueFormat="json"),
    body("None", group="Azure"),
    body("ApiKey", {"key": "k"}, extra="x"),
    body("AAD", extra="x"),
    {"properties": {"category": "Git"}},
]


@pytest.mark.parametrize("sent", CROSS_CHECK, ids=[json.dumps(b)[:60] for b in CROSS_CHECK])
def test_swagger_and_bicep_readings_agree_on_2025_06_01(sent: dict[str, Any]) -> None:
    props = sent["properties"]
    by_swagger = SwaggerSchema("2025-06-01").check_properties(props, require_auth_type=True)
    by_bicep = BicepSchema("2025-06-01").check_properties(props, require_auth_type=True)
    open_subtype = str(props.get("authType")) in {"ApiKey", "AAD"}
    if open_subtype and "extra" in props:
        assert (by_swagger, by_bicep) == ([], ["properties.extra: unknown property"])
    else:
        assert bool(by_swagger) == bool(by_bicep), (by_swagger, by_bicep)
        assert {p.split(":")[0] for p in by_swagger} <= {p.split(":")[0] for p in by_bicep}


def test_patch_problems() -> None:
    for version in API_VERSIONS[1:]:
        assert contract.validate_patch(version, {}) == []
        assert contract.validate_patch(version, {"properties": None}) == []
        assert (
            contract.validate_patch(version, {"properties": {"target": "t", "metadata": {"a": None}}}) == []
        )
        assert contract.validate_patch(version, {"properties": {"expiryTime": None}}) == []
        assert (
            contract.validate_patch(version, {"properties": {"authType": "None", "credentials": None}}) == []
        )
        assert contract.validate_patch(version, {"properties": {"expiryTime": "x"}}) == [
            "properties.expiryTime: must have format date-time"
        ]
        assert contract.validate_patch(version, {"tags": {}}) == ["tags: unknown property"]
        assert contract.validate_patch(version, []) == ["(body): must be a JSON object"]


def test_stored_keeps_what_the_version_defines() -> None:
    sent = {"authType": "accountKey", "credentials": {"sas": "k"}, "metadata": {"a": None, "b": "2"}}
    assert contract.stored("2025-06-01", sent) == {
        "authType": "accountKey",
        "credentials": {"key": "k"},
        "metadata": {"a": None, "b": "2"},
    }
    # An open swagger subtype lets unknown members through; the service's model drops them.
    assert contract.stored(
        "2024-04-01", {"authType": "ApiKey", "peRequirement": "Required", "target": "t"}
    ) == {
        "authType": "ApiKey",
        "target": "t",
    }
    assert contract.stored("2025-12-01", {"authType": "ApiKey", "peRequirement": "Required"}) == {
        "authType": "ApiKey",
        "peRequirement": "Required",
    }


@pytest.mark.parametrize(
    ("name", "bound", "ok"),
    [
        ("abc", 64, True),
        ("e2etest_wps_conn_test_795723416582", 64, True),  # 34 characters, recorded
        ("a" * 64, 64, True),
        ("a" * 65, 64, False),
        ("a" * 34, 33, False),
        ("ab", 64, False),
        ("_abc", 64, False),
        ("abc.def", 64, False),
    ],
)
def test_connection_name_rule(name: str, bound: int, ok: bool) -> None:
    problem = contract.name_problem(name, bound)
    assert (problem == "") is ok
    if not ok:
        assert f"3 to {bound} characters" in problem


# --- categories ---


@pytest.mark.parametrize("api_version", API_VERSIONS)
def test_every_category_has_a_group_of_the_enum(api_version: str) -> None:
    groups = {"Azure", "AzureAI", "Database", "NoSQL", "File", "GenericProtocol", "ServicesAndApps"}
    for category in contract.schema(api_version).categories():
        assert categories.group_of(category) in groups
        assert categories.group_of(category.upper()) == categories.group_of(category)
    assert categories.group_of(None) is None


def test_recorded_groups_and_casing() -> None:
    recorded = {
        "S3": "File",
        "ContainerRegistry": "Azure",
        "ADLSGen2": "Azure",
        "AzureOneLake": "Azure",
        "AzureOpenAI": "AzureAI",
        "OpenAI": "AzureAI",
    }
    assert {c: categories.group_of(c) for c in recorded} == recorded
    assert [categories.canonical(c) for c in ("AzureOpenAi", "azureopenai", "OpenAi", "s3", "adlsgen2")] == [
        "AzureOpenAI",
        "AzureOpenAI",
        "OpenAI",
        "s3",
        "adlsgen2",
    ]


def test_added_metadata() -> None:
    table = categories.DEFAULT_ADDED_METADATA
    added = categories.with_added_metadata("AzureOpenAI", {"hello": "world", "ApiVersion": None}, table)
    assert list((added or {}).items()) == [
        ("hello", "world"),
        ("ApiVersion", None),
        ("DeploymentApiVersion", "2023-10-01-preview"),
    ]
    assert categories.with_added_metadata("azureopenai", None, table) == {
        "DeploymentApiVersion": "2023-10-01-preview"
    }
    assert categories.with_added_metadata("AzureOpenAI", {"DeploymentApiVersion": "mine"}, table) == {
        "DeploymentApiVersion": "mine"
    }
    assert categories.with_added_metadata("S3", {"four": "five"}, table) == {"four": "five"}
    assert categories.with_added_metadata("S3", None, table) is None


# --- answers ---


def _connection(**properties: Any) -> state.Connection:
    stamp = state.Stamp("2026-01-01T00:00:00Z", "me", "User")
    workspace = state.Workspace("/subscriptions/s/resourceGroups/r/providers/P/workspaces/w", "eastus2")
    return state.Connection(
        id=f"{workspace.id}/connections/c",
        name="c",
        workspace=workspace,
        properties=properties,
        credentials={"key": "k"} if properties.get("authType") == "ApiKey" else None,
        created=stamp,
        modified=stamp,
    )


@pytest.mark.parametrize("api_version", ALL_API_VERSIONS[1:])
def test_answer_shape(api_version: str) -> None:
    answer = answers.resource(_connection(authType="ApiKey", category="AzureOpenAI", value="v"), api_version)
    assert list(answer) == ["tags", "location", "id", "name", "type", "properties", "systemData"]
    assert list(answer["properties"]) == ANSWER_ORDER
    assert answer["properties"]["credentials"] is None
    assert (
        answers.resource(_connection(authType="AAD"), api_version)["properties"].get("credentials", "-")
        == "-"
    )
    secrets = answers.resource(_connection(authType="ApiKey"), api_version, with_secrets=True)
    assert secrets["properties"]["credentials"] == {"key": "k"}


def test_answer_shape_of_2022() -> None:
    answer = answers.resource(
        _connection(authType="None", category="ContainerRegistry", target="t"), "2022-05-01"
    )
    assert answer["properties"] == {
        "authType": "None",
        "category": "ContainerRegistry",
        "target": "t",
        "metadata": None,
    }
    assert answer["systemData"] is None


def test_not_found_body() -> None:
    found = answers.connection_not_found("conn-1", "eastus2")
    assert found["error"]["message"] == "Connection conn-1 can't be found in this workspace"
    assert (found["environment"], found["location"], found["statusCode"]) == ("eastus2", "eastus2", 404)
    assert found["time"].endswith("+00:00")


def test_times_have_the_services_format(monkeypatch: pytest.MonkeyPatch) -> None:
    for nanos, expected in (
        (1774585204005925400, "2026-03-27T04:20:04.0059254Z"),
        (1774585263301316000, "2026-03-27T04:21:03.301316Z"),
        (981173106000000000, "2001-02-03T04:05:06Z"),
    ):
        monkeypatch.setattr("wsconn_testbed.emulator.state.time.time_ns", lambda nanos=nanos: nanos)
        assert state.now_iso() == expected
    assert state.now_iso(offset=True) == "2001-02-03T04:05:06+00:00"


# --- throttling ---


def test_op_classes() -> None:
    assert [op_class(m) for m in ("GET", "PUT", "PATCH", "POST", "DELETE")] == [
        "reads",
        "writes",
        "writes",
        "writes",
        "deletes",
    ]


def test_bucket_waits_and_refills(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    monkeypatch.setattr("wsconn_testbed.emulator.throttling.time.monotonic", lambda: now[0])
    bucket = Bucket(capacity=2, rate=0.5, stamp=100.0)
    bucket.tokens -= 2
    assert bucket.wait() == pytest.approx(2.0)
    now[0] += 1.0
    bucket.refill()
    assert bucket.wait() == pytest.approx(1.0)
    now[0] += 100.0
    bucket.refill()
    assert (bucket.remaining, bucket.wait()) == (2, 0.0)  # capped at capacity
    assert Bucket(capacity=0, rate=0, stamp=0.0).wait() == 3600.0


def test_retry_after_is_whole_seconds_at_least_one() -> None:
    assert [retry_after_seconds(w) for w in (0.01, 1.0, 1.2, 6.0)] == [1, 1, 2, 6]


def test_buckets_per_principal_and_global(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("wsconn_testbed.emulator.throttling.time.monotonic", lambda: 0.0)
    throttling = Throttling()
    assert throttling.limits == DEFAULT_LIMITS
    assert throttling.global_limits["reads"] == {"capacity": 3750, "rate": 375}
    first = throttling.take("SUB", "alice", "writes")
    assert (first.wait, first.remaining, first.remaining_global) == (0.0, 199, 2999)
    assert throttling.take("sub", "bob", "writes").remaining == 199  # another principal, another bucket
    assert throttling.take("sub", "bob", "writes").remaining_global == 2997  # the global one is shared
    throttling.configure(
        {"writes": {"capacity": 1, "rate": 1}, "global": {"deletes": {"capacity": 1, "rate": 1}}}
    )
    assert throttling.take("sub", "alice", "writes").wait == 0.0
    refused = throttling.take("sub", "alice", "writes")
    assert (refused.wait, refused.scope) == (1.0, "principal")
    assert throttling.take("sub", "bob", "writes").wait == 0.0
    assert throttling.take("other", "alice", "writes").wait == 0.0
    assert throttling.take("sub", "alice", "deletes").wait == 0.0
    assert throttling.take("sub", "bob", "deletes").scope == "global"
    assert throttling.throttled == 2
    throttling.configure({"enabled": False})
    assert throttling.take("sub", "alice", "writes") == throttling.take("sub", "alice", "writes")


# --- faults ---


def test_fault_rule_parse_and_match() -> None:
    rule = faults.FaultRule.parse(
        {"methods": ["put"], "path_contains": "/Conn-A", "latency": [0.1, 0.2], "count": 1, "phase": "after"}
    )
    assert rule.methods == ("PUT",)
    assert rule.latency == (0.1, 0.2)
    assert rule.phase == "after"
    assert rule.matches("PUT", "/x/connections/conn-a")
    assert not rule.matches("GET", "/x/connections/conn-a")
    assert not rule.matches("PUT", "/x/connections/conn-b")
    assert faults.FaultRule.parse({"duration": -1}).matches("GET", "/") is False


def test_faults_are_reproducible_per_seed() -> None:
    def run(seed: int) -> list[Any]:
        rules = faults.Faults()
        rules.configure(
            {"seed": seed, "rules": [{"error_rate": 0.3, "drop_rate": 0.2, "statuses": [500, 503]}]}
        )
        return [rules.decide("GET", "/") for _ in range(50)]

    assert run(1) == run(1)
    assert run(1) != run(2)
    decisions = run(1)
    assert {d.status for d in decisions} == {0, 500, 503}
    assert any(d.drop for d in decisions)
    assert all(d.retry_after == (1 if d.status == 503 else 0) for d in decisions)


def test_fault_burst_count_and_latency() -> None:
    rules = faults.Faults()
    rules.configure({"rules": [{"burst_429": 2, "retry_after": 4}, {"latency": 0.5, "count": 3}]})
    decisions = [rules.decide("GET", "/") for _ in range(4)]
    assert [(d.status, d.retry_after) for d in decisions] == [(429, 4), (429, 4), (0, 0), (0, 0)]
    assert [d.delay for d in decisions] == [0.0, 0.0, 0.5, 0.5]
    assert rules.decide("GET", "/").delay == 0.5
    assert rules.decide("GET", "/").delay == 0.0
    assert rules.injected == {"429": 2}


def test_body_fault_rules() -> None:
    parse = faults.BodyFault.parse
    assert parse({"trickle": {"bytes": 3, "every": 0.5}}) == faults.BodyFault("trickle", chunk=3, every=0.5)
    assert parse({"oversize_mib": 2}) == faults.BodyFault("oversize", size=2 * 1024 * 1024)
    assert parse({"malformed": "html"}) == faults.BodyFault("html")
    assert parse({"contradict": True}) == faults.BodyFault("contradict", overrides=faults.CONTRADICTION)
    assert parse({"error_rate": 1}) is None
    rules = faults.Faults()
    rules.configure({"rules": [{"methods": ["PUT"], "malformed": "not-json", "count": 1}]})
    assert rules.decide("PUT", "/").body == faults.BodyFault("not-json")
    assert rules.decide("PUT", "/").body is None


PAYLOAD = {"id": "x", "properties": {"authType": "ApiKey", "credentials": None, "target": "t"}}


def _sent(fault: faults.BodyFault) -> tuple[faults.BodyPlan, bytes]:
    plan = faults.plan(fault, PAYLOAD)
    return plan, b"".join(plan.chunks)


def test_body_fault_plans() -> None:
    plan, sent = _sent(faults.BodyFault("trickle", chunk=4, every=0.25))
    assert (json.loads(sent), plan.length, plan.delay) == (PAYLOAD, len(sent), 0.25)
    assert [len(c) for c in faults.plan(faults.BodyFault("trickle", chunk=4), PAYLOAD).chunks][:2] == [4, 4]
    plan, sent = _sent(faults.BodyFault("oversize", size=3 * 1024 * 1024))
    assert len(sent) == plan.length == 3 * 1024 * 1024
    assert {k: v for k, v in json.loads(sent).items() if k != "padding"} == PAYLOAD
    plan, sent = _sent(faults.BodyFault("not-json"))
    assert (sent, plan.content_type) == (b"{not json", "application/json; charset=utf-8")
    plan, sent = _sent(faults.BodyFault("html"))
    assert plan.content_type.startswith("text/html")
    assert sent.startswith(b"<!DOCTYPE html>")
    _, sent = _sent(faults.BodyFault("contradict", overrides=faults.CONTRADICTION))
    assert json.loads(sent)["properties"] == {"authType": "None", "target": "https://contradiction.invalid/"}


# --- principals ---


def test_certificate_thumbprints_match_both_encodings(certificate: tuple[str, str]) -> None:
    pem, _ = certificate
    loaded = principals.Certificate.load(pem)
    urlsafe = base64.urlsafe_b64encode(loaded.sha1).decode()
    standard = base64.b64encode(loaded.sha1).decode()
    assert loaded.matches({"x5t": urlsafe})
    assert loaded.matches({"x5t": standard.rstrip("=")})
    assert loaded.matches({"x5t#S256": base64.urlsafe_b64encode(loaded.sha256).decode()})
    assert not loaded.matches({"x5t": base64.b64encode(b"0" * 20).decode()})
    assert not loaded.matches({"x5t": "!!!"})
    assert not loaded.matches({})
    assert loaded.thumbprint == loaded.sha1.hex().upper()


def test_principal_scopes() -> None:
    everywhere = principals.Principal("Application", "a", "t", "o")
    assert everywhere.may_act_on("/subscriptions/x/resourceGroups/y")
    scoped = principals.Principal("Application", "a", "t", "o", scopes=("/subscriptions/AAA/",))
    assert scoped.may_act_on("/subscriptions/aaa/resourceGroups/y")
    assert scoped.may_act_on("/subscriptions/aaa")
    assert not scoped.may_act_on("/subscriptions/aaab/resourceGroups/y")
    assert not scoped.may_act_on("/subscriptions/bbb")


def test_directory_and_revocation() -> None:
    directory = principals.Directory()
    app = directory.add(principals.Principal("Application", "App-1", "T1", "oid-1"))
    user = directory.add(principals.Principal("User", "Alice@Example.test", "T2", "oid-2"))
    assert (directory.app("App-1"), directory.user("alice@example.TEST")) == (app, user)
    assert directory.by_object_id("oid-2") is user
    assert directory.tenants() == {"t1", "t2"}
    directory.remember("oid-1", "tok-a")
    directory.remember("oid-1", "tok-b")
    assert directory.revoke_tokens("oid-1") == 2
    assert directory.is_revoked("tok-a")
    assert not directory.is_revoked("tok-c")
    assert directory.revoke_tokens("oid-1") == 0


# --- control: authorization, redaction, log ---


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


def test_store_names_and_lookup() -> None:
    store = state.Store()
    ws = store.add_workspace("Sub", "Rg", "Ws", tenant="T", location="eastus2")
    assert (
        store.add_workspace("SUB", "RG", "WS", tenant="other", location="x") == ws
    )  # the first casing stays
    assert store.tenant_of("sub") == "T"
    first = state.Stamp("t1", "me", "User")
    created = store.put(
        ("sub", "rg", "ws", "Conn"), properties={"authType": "PAT"}, credentials={"pat": "p"}, stamp=first
    )
    assert created.id == f"{ws}/connections/Conn"
    second = state.Stamp("t2", "you", "Application")
    replaced = store.put(
        ("SUB", "RG", "WS", "CONN"), properties={"authType": "None"}, credentials=None, stamp=second
    )
    assert (replaced.name, replaced.credentials, replaced.writes, replaced.created) == (
        "Conn",
        None,
        2,
        second,
    )
    patched = store.put(
        ("sub", "rg", "ws", "conn"), properties={}, credentials=None, stamp=first, created=second
    )
    assert (patched.created, patched.modified) == (second, first)
    assert store.find(created.id.upper()) is not None
    assert store.find("/subscriptions/x") is None
    assert store.workspace("sub", "rg", "other") is None
    assert store.remove_workspace("sub", "rg", "ws") == 1
    assert store.connections == {}


def test_credential_digest_is_canonical() -> None:
    connection = _connection(authType="PAT")
    connection.credentials = {"b": "2", "a": "1"}
    assert connection.credential_digest() == hashlib.sha256(b'{"a":"1","b":"2"}').hexdigest()


def test_random_is_stable_for_seeds() -> None:
    # Reproducible faults rely on random.Random(seed) giving the same floats across runs and versions.
    assert random.Random(0).random() == pytest.approx(0.8444218515250481)
