"""Deciding whether to write without reading Azure (fingerprint, plan, drift_due) and comparing what Azure
reports with what the spec wants (differences, credential_differences)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import Counter
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.unit.golden import CASE_IDS, CASES, METADATA_NAME, Golden
from wsconn.api.spec import parse_spec
from wsconn.core.bodies import public_body
from wsconn.core.credentials import FetchedSecret, resolve
from wsconn.core.drift import credential_differences, differences
from wsconn.core.fingerprint import fingerprint
from wsconn.core.ids import connection_id, subscription_of
from wsconn.core.plan import drift_due, jitter_factor

ID = (
    "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/rg-ml"
    "/providers/Microsoft.MachineLearningServices/workspaces/ws-prod/connections/team-openai"
)
BODY: dict[str, Any] = {
    "properties": {
        "authType": "ApiKey",
        "target": "https://a",
        "credentials": {"key": "<secret openai/api-key>"},
    }
}
VERSIONS = {"openai": "123"}


def fp(
    *,
    resource_id: str = ID,
    api_version: str = "2025-06-01",
    body: dict[str, Any] | None = None,
    versions: dict[str, str] | None = None,
) -> str:
    return fingerprint(
        resource_id=resource_id,
        api_version=api_version,
        public_body=BODY if body is None else body,
        secret_versions=VERSIONS if versions is None else versions,
    )


# ---- fingerprint -------------------------------------------------------------------------------------------


def test_fingerprint_format_is_pinned_so_an_upgrade_causes_no_writes() -> None:
    # Written out by hand: sorted keys, no spaces, lower-cased ID. A change here re-PUTs every resource.
    canonical = (
        '{"apiVersion":"2025-06-01",'
        '"body":{"properties":{"authType":"ApiKey","credentials":{"key":"<secret openai/api-key>"},'
        '"target":"https://a"}},'
        '"id":"/subscriptions/00000000-1111-2222-3333-444444444444/resourcegroups/rg-ml/providers/'
        'microsoft.machinelearningservices/workspaces/ws-prod/connections/team-openai",'
        '"secretVersions":{"openai":"123"}}'
    )
    assert fp() == "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def test_fingerprint_is_the_same_for_the_same_inputs() -> None:
    assert fp() == fp()


def test_fingerprint_ignores_key_order() -> None:
    reordered = {
        "properties": {
            "credentials": {"key": "<secret openai/api-key>"},
            "target": "https://a",
            "authType": "ApiKey",
        }
    }
    versions_a = {"a": "1", "b": "2", "c": "3"}
    versions_b = {"c": "3", "a": "1", "b": "2"}
    assert fp(body=reordered) == fp()
    assert fp(versions=versions_a) == fp(versions=versions_b)


def test_fingerprint_treats_the_arm_id_case_insensitively_as_arm_does() -> None:
    assert fp(resource_id=ID.upper()) == fp()


CHANGES: list[tuple[str, dict[str, Any]]] = [
    ("api-version", {"api_version": "2024-04-01"}),
    ("resource-id", {"resource_id": ID.replace("team-openai", "team-openai-2")}),
    ("workspace", {"resource_id": ID.replace("ws-prod", "ws-test")}),
    ("target", {"body": {"properties": {**BODY["properties"], "target": "https://b"}}}),
    ("added-field", {"body": {"properties": {**BODY["properties"], "isSharedToAll": True}}}),
    (
        "secret-reference",
        {"body": {"properties": {**BODY["properties"], "credentials": {"key": "<secret openai/api-key-2>"}}}},
    ),
    ("secret-version", {"versions": {"openai": "124"}}),
    ("secret-added", {"versions": {"openai": "123", "extra": "1"}}),
    ("secret-removed", {"versions": {}}),
    ("secret-renamed", {"versions": {"openai2": "123"}}),
]


@pytest.mark.parametrize("change", [c for _, c in CHANGES], ids=[i for i, _ in CHANGES])
def test_fingerprint_changes_with_any_input(change: dict[str, Any]) -> None:
    assert fp(**change) != fp()


def test_fingerprint_looks_like_sha256() -> None:
    value = fp()
    assert value.startswith("sha256:")
    assert len(value) == len("sha256:") + 64
    assert set(value.removeprefix("sha256:")) <= set("0123456789abcdef")


def _fingerprint_of(golden: Golden, api_version: str, secrets: dict[str, dict[str, bytes]]) -> str:
    spec = parse_spec(golden.raw(api_version), metadata_name=METADATA_NAME, default_api_version=api_version)
    fetched = {name: FetchedSecret(name, f"rv-{name}", data) for name, data in secrets.items()}
    resolved = resolve(spec, fetched)
    return fingerprint(
        resource_id=connection_id(spec),
        api_version=spec.api_version,
        public_body=public_body(spec),
        secret_versions=resolved.versions,
    )


@pytest.mark.parametrize(("golden", "api_version"), CASES, ids=CASE_IDS)
def test_fingerprint_inputs_hold_no_secret_value(golden: Golden, api_version: str) -> None:
    spec = parse_spec(golden.raw(api_version), metadata_name=METADATA_NAME, default_api_version=api_version)
    inputs = json.dumps({"id": connection_id(spec), "body": public_body(spec)})
    for value in golden.secret_values():
        assert value not in inputs


@pytest.mark.parametrize(("golden", "api_version"), CASES, ids=CASE_IDS)
def test_fingerprint_does_not_depend_on_secret_values(golden: Golden, api_version: str) -> None:
    # Same Secret names and resourceVersions, different values: a fingerprint derived from a value would differ.
    other = {name: {k: b"OTHER-" + v for k, v in data.items()} for name, data in golden.secrets.items()}
    assert _fingerprint_of(golden, api_version, other) == _fingerprint_of(golden, api_version, golden.secrets)


# ---- drift_due and jitter ----------------------------------------------------------------------------------

NOW = dt.datetime(2025, 6, 1, 12, 0, 0, tzinfo=dt.UTC)


def ago(seconds: float) -> dt.datetime:
    return NOW - dt.timedelta(seconds=seconds)


DRIFT_DUE: list[tuple[str, dt.datetime | None, float, float, bool]] = [
    # (id, last checked, interval, jitter, due)
    ("never-checked", None, 600, 0.1, True),
    ("disabled-never-checked", None, 0, 0.1, False),
    ("disabled-long-ago", ago(10**6), 0, 0.1, False),
    ("negative-interval", ago(10**6), -5, 0.1, False),
    ("just-checked", ago(0), 600, 0.1, False),
    ("below-lower-bound", ago(539), 600, 0.1, False),
    ("beyond-upper-bound", ago(661), 600, 0.1, True),
    ("no-jitter-one-second-early", ago(599), 600, 0.0, False),
    ("no-jitter-exactly-due", ago(600), 600, 0.0, True),
    ("no-jitter-late", ago(601), 600, 0.0, True),
    ("clock-went-back", ago(-30), 600, 0.1, False),
]


@pytest.mark.parametrize(
    ("last_checked", "interval", "jitter", "due"), [d[1:] for d in DRIFT_DUE], ids=[d[0] for d in DRIFT_DUE]
)
@pytest.mark.parametrize("key", ["uid-1", "uid-2", "5f1c2a3e-0000-4000-8000-000000000000"])
def test_drift_due(
    last_checked: dt.datetime | None, interval: float, jitter: float, due: bool, key: str
) -> None:
    assert drift_due(last_checked=last_checked, now=NOW, interval=interval, jitter=jitter, key=key) is due


def test_drift_due_follows_the_objects_own_jitter_factor() -> None:
    key, interval, jitter = "uid-1", 600.0, 0.2
    stretched = interval * jitter_factor(key, jitter)
    assert not drift_due(last_checked=ago(stretched - 1), now=NOW, interval=interval, jitter=jitter, key=key)
    assert drift_due(last_checked=ago(stretched + 1), now=NOW, interval=interval, jitter=jitter, key=key)


@given(key=st.text(), jitter=st.floats(min_value=0.0, max_value=0.99))
def test_jitter_factor_stays_within_bounds(key: str, jitter: float) -> None:
    factor = jitter_factor(key, jitter)
    assert 1.0 - jitter <= factor <= 1.0 + jitter


@given(key=st.text())
def test_jitter_factor_is_stable_per_key(key: str) -> None:
    assert jitter_factor(key, 0.25) == jitter_factor(key, 0.25)


@given(key=st.text())
def test_no_jitter_means_factor_one(key: str) -> None:
    assert jitter_factor(key, 0.0) == 1.0


def test_jitter_factor_spreads_objects_created_together() -> None:
    factors = [jitter_factor(f"uid-{i:04}", 0.1) for i in range(1000)]
    assert min(factors) < 0.905
    assert max(factors) > 1.095
    # ten equal buckets over [0.9, 1.1]: none starved, none crowded (expected 100 each)
    buckets = Counter(min(int((f - 0.9) / 0.02), 9) for f in factors)
    assert set(buckets) == set(range(10))
    assert all(60 <= n <= 140 for n in buckets.values()), buckets


# ---- differences -------------------------------------------------------------------------------------------

DESIRED: dict[str, Any] = {
    "authType": "ApiKey",
    "category": "AzureOpenAI",
    "target": "https://contoso.openai.azure.com/",
    "metadata": {"ApiType": "Azure", "ApiVersion": "2024-10-21"},
    "isSharedToAll": True,
    "expiryTime": "2027-01-01T00:00:00Z",
    "valueFormat": "JSON",
}


def observed(**changes: Any) -> dict[str, Any]:
    out = dict(DESIRED)
    for key, value in changes.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


SAME: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("identical", DESIRED, observed()),
    ("category-case", DESIRED, observed(category="azureopenai")),
    ("category-sdk-casing", DESIRED, observed(category="AzureOpenAi")),
    ("authType-case", DESIRED, observed(authType="APIKEY")),
    ("valueFormat-case", DESIRED, observed(valueFormat="json")),
    ("expiryTime-offset", DESIRED, observed(expiryTime="2027-01-01T00:00:00+00:00")),
    ("expiryTime-other-zone", DESIRED, observed(expiryTime="2027-01-01T02:00:00+02:00")),
    ("expiryTime-fraction", DESIRED, observed(expiryTime="2027-01-01T00:00:00.0000000Z")),
    ("expiryTime-lower-z", DESIRED, observed(expiryTime="2027-01-01t00:00:00z")),
    (
        "metadata-null-values",
        DESIRED,
        observed(metadata={"ApiType": "Azure", "ApiVersion": "2024-10-21", "ResourceId": None}),
    ),
    (
        "extra-observed-fields",
        DESIRED,
        observed(
            group="AzureAI",
            createdByWorkspaceArmId="/subscriptions/x/workspaces/ws",
            peRequirement="NotRequired",
            useWorkspaceManagedIdentity=False,
            credentials={"key": None},
            sharedUserList=[],
        ),
    ),
    ("metadata-not-desired", {"authType": "AAD"}, {"authType": "AAD", "metadata": {"OtherTool": "x"}}),
    ("empty-list-vs-missing", {"sharedUserList": []}, {}),
    ("empty-list-vs-null", {"sharedUserList": []}, {"sharedUserList": None}),
    ("empty-metadata-vs-missing", {"metadata": {}}, {}),
    ("empty-metadata-vs-null", {"metadata": {}}, {"metadata": None}),
    ("empty-string-vs-missing", {"value": ""}, {}),
    ("empty-string-vs-null", {"value": ""}, {"value": None}),
]


@pytest.mark.parametrize(("desired", "got"), [s[1:] for s in SAME], ids=[s[0] for s in SAME])
def test_no_difference(desired: dict[str, Any], got: dict[str, Any]) -> None:
    assert differences(desired, got) == []


DIFFERENT: list[tuple[str, dict[str, Any], dict[str, Any], list[str]]] = [
    ("category", DESIRED, observed(category="OpenAI"), ["category"]),
    ("category-missing", DESIRED, observed(category=None), ["category"]),
    ("authType", DESIRED, observed(authType="AAD"), ["authType"]),
    ("target", DESIRED, observed(target="https://other.openai.azure.com/"), ["target"]),
    ("target-case", DESIRED, observed(target="https://CONTOSO.openai.azure.com/"), ["target"]),
    ("target-missing", DESIRED, observed(target=None), ["target"]),
    ("expiryTime-other-instant", DESIRED, observed(expiryTime="2027-01-01T00:00:01Z"), ["expiryTime"]),
    ("expiryTime-not-a-date", DESIRED, observed(expiryTime="never"), ["expiryTime"]),
    (
        "metadata-value",
        DESIRED,
        observed(metadata={"ApiType": "Azure", "ApiVersion": "2025-01-01"}),
        ["metadata"],
    ),
    ("metadata-key-missing", DESIRED, observed(metadata={"ApiType": "Azure"}), ["metadata"]),
    (
        "metadata-extra-key",
        DESIRED,
        observed(metadata={"ApiType": "Azure", "ApiVersion": "2024-10-21", "Kind": "x"}),
        ["metadata"],
    ),
    ("metadata-missing", DESIRED, observed(metadata=None), ["metadata"]),
    ("isSharedToAll", DESIRED, observed(isSharedToAll=False), ["isSharedToAll"]),
    ("sharedUserList", {"sharedUserList": ["alice"]}, {"sharedUserList": ["bob"]}, ["sharedUserList"]),
    ("sharedUserList-emptied", {"sharedUserList": ["alice"]}, {"sharedUserList": []}, ["sharedUserList"]),
    (
        "several-sorted",
        DESIRED,
        observed(target="https://x/", category="OpenAI", isSharedToAll=False),
        ["category", "isSharedToAll", "target"],
    ),
]


@pytest.mark.parametrize(
    ("desired", "got", "names"), [d[1:] for d in DIFFERENT], ids=[d[0] for d in DIFFERENT]
)
def test_real_differences_are_detected(
    desired: dict[str, Any], got: dict[str, Any], names: list[str]
) -> None:
    assert differences(desired, got) == names


CREDENTIALS: list[tuple[str, dict[str, Any], dict[str, Any] | None, list[str]]] = [
    ("same", {"key": "SECRET-a"}, {"key": "SECRET-a"}, []),
    ("changed", {"key": "SECRET-a"}, {"key": "SECRET-b"}, ["key"]),
    ("missing-in-azure", {"clientId": "c", "clientSecret": "SECRET-a"}, {"clientId": "c"}, ["clientSecret"]),
    ("extra-in-azure", {"key": "SECRET-a"}, {"key": "SECRET-a", "sas": "SECRET-x"}, ["sas"]),
    ("none-returned", {"pat": "SECRET-a", "x": "y"}, None, ["pat", "x"]),
    ("custom-keys-same", {"keys": {"a": "SECRET-1"}}, {"keys": {"a": "SECRET-1"}}, []),
    ("custom-keys-changed", {"keys": {"a": "SECRET-1"}}, {"keys": {"a": "SECRET-2"}}, ["keys"]),
]


@pytest.mark.parametrize(
    ("desired", "got", "names"), [c[1:] for c in CREDENTIALS], ids=[c[0] for c in CREDENTIALS]
)
def test_credential_differences_names_fields_never_values(
    desired: dict[str, Any], got: dict[str, Any] | None, names: list[str]
) -> None:
    result = credential_differences(desired, got)
    assert result == names
    assert not any("SECRET" in name for name in result)


# ---- ids ---------------------------------------------------------------------------------------------------


def test_connection_id_is_the_arm_id_of_the_connection() -> None:
    raw = {
        "workspace": {
            "subscriptionId": "00000000-1111-2222-3333-444444444444",
            "resourceGroup": "rg-ml",
            "name": "ws-prod",
        },
        "authType": "AAD",
        "connectionName": "team-openai",
    }
    spec = parse_spec(raw, metadata_name="ignored", default_api_version="2025-06-01")
    assert connection_id(spec) == ID


@pytest.mark.parametrize(
    ("resource_id", "subscription"),
    [
        (ID, "00000000-1111-2222-3333-444444444444"),
        ("/SUBSCRIPTIONS/abc/resourceGroups/x", "abc"),
        ("/resourceGroups/x", ""),
        ("", ""),
        ("/subscriptions", ""),
    ],
)
def test_subscription_of(resource_id: str, subscription: str) -> None:
    assert subscription_of(resource_id) == subscription
