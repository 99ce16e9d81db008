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

from tests.recordings import RECORDINGS_DIR, load
from tests.unit.golden import CASE_IDS, CASES, METADATA_NAME, Golden
from tests.unit.golden import WORKSPACE as WORKSPACE_SPEC
from wsconn.api.spec import parse_spec
from wsconn.core.bodies import desired_properties, public_body
from wsconn.core.credentials import FetchedSecret, resolve
from wsconn.core.drift import credential_differences, differences
from wsconn.core.fingerprint import carried_over, fingerprint
from wsconn.core.ids import connection_id, subscription_of
from wsconn.core.plan import check_basis, drift_due, jitter_factor, persist_check

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


# ---- carried_over: the same body applied under another api-version is applied -----------------------------


def carried(
    applied: str | None,
    *,
    api_version: str = "2026-05-01",
    applied_api_version: str | None = None,
    body: dict[str, Any] | None = None,
    versions: dict[str, str] | None = None,
) -> bool:
    return carried_over(
        applied,
        desired=fp(api_version=api_version, body=body, versions=versions),
        resource_id=ID,
        public_body=BODY if body is None else body,
        secret_versions=VERSIONS if versions is None else versions,
        applied_api_version=applied_api_version,
    )


def test_an_upgrade_from_the_old_default_carries_the_applied_fingerprint_over() -> None:
    # What the previous release stored for this body (the pinned canonical form above, api-version 2025-06-01),
    # read by an operator whose default is now 2026-05-01: the same body is in Azure, nothing to write.
    assert carried(fp(api_version="2025-06-01"), applied_api_version="2025-06-01")


@pytest.mark.parametrize("old", ["2024-04-01", "2025-06-01", "2025-09-01", "2025-12-01"])
def test_the_same_body_under_any_supported_api_version_is_carried_over(old: str) -> None:
    assert carried(fp(api_version=old))  # even when status does not say which version it was
    assert carried(fp(api_version=old), applied_api_version=old)


def test_an_api_version_no_longer_supported_is_recognised_through_status() -> None:
    applied = fp(api_version="2023-10-01")
    assert not carried(applied)
    assert carried(applied, applied_api_version="2023-10-01")


@pytest.mark.parametrize(
    "change",
    [
        {"body": {"properties": {**BODY["properties"], "target": "https://b"}}},
        {"versions": {"openai": "124"}},
    ],
    ids=["body", "secret-version"],
)
def test_a_changed_body_or_secret_is_never_carried_over(change: dict[str, Any]) -> None:
    assert not carried(fp(api_version="2025-06-01"), applied_api_version="2025-06-01", **change)


def test_nothing_to_carry_over_when_nothing_was_applied_or_it_is_already_current() -> None:
    assert not carried(None, applied_api_version="2025-06-01")
    assert not carried(fp(api_version="2026-05-01"), applied_api_version="2026-05-01")
    assert not carried("sha256:" + "0" * 64, applied_api_version="2025-06-01")


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
    (
        "metadata-key-added-by-the-service",
        DESIRED,
        observed(
            metadata={
                "ApiType": "Azure",
                "ApiVersion": "2024-10-21",
                "DeploymentApiVersion": "2023-10-01-preview",
            }
        ),
    ),
    (
        "metadata-key-added-by-another-tool",
        DESIRED,
        observed(metadata={"ApiType": "Azure", "ApiVersion": "2024-10-21", "Kind": "x"}),
    ),
    (
        "metadata-null-for-a-key-the-spec-does-not-set",
        {"metadata": {"hello": "world"}},
        {"metadata": {"hello": "world", "ApiVersion": None}},
    ),
    ("metadata-empty-vs-service-keys", {"metadata": {}}, {"metadata": {"DeploymentApiVersion": "x"}}),
    # write-only: accepted by the service, never returned (ASO's recording)
    ("value-never-returned", {"value": '{"foo":"bar"}', "valueFormat": "JSON"}, {}),
    ("value-returned-other", {"value": "a", "valueFormat": "JSON"}, {"value": "b", "valueFormat": "XML"}),
    ("credentials-never-compared", {"credentials": {"key": {"$secretKeyRef": "s/k"}}}, {"credentials": None}),
    # server-owned: the spec cannot set them; even a desired mapping that carried them is not compared
    (
        "server-owned",
        {
            "group": "AzureAI",
            "isDefault": False,
            "peStatus": "Active",
            "error": "",
            "createdByWorkspaceArmId": "x",
        },
        {"group": "Azure", "isDefault": True, "peStatus": "NotApplicable", "error": None},
    ),
    ("peRequirement-case", {"peRequirement": "NotRequired"}, {"peRequirement": "notrequired"}),
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
    ("metadata-missing", DESIRED, observed(metadata=None), ["metadata"]),
    (
        "metadata-set-key-null",
        DESIRED,
        observed(metadata={"ApiType": "Azure", "ApiVersion": None}),
        ["metadata"],
    ),
    (
        "metadata-set-key-empty-string-vs-null",
        {"metadata": {"k": ""}},
        {"metadata": {"k": None}},
        ["metadata"],
    ),
    ("metadata-not-an-object", DESIRED, observed(metadata=["ApiType"]), ["metadata"]),
    (
        "metadata-key-case",
        {"metadata": {"ApiType": "Azure"}},
        {"metadata": {"apitype": "Azure"}},
        ["metadata"],
    ),
    ("peRequirement", {"peRequirement": "Required"}, {"peRequirement": "NotRequired"}, ["peRequirement"]),
    (
        "useWorkspaceManagedIdentity",
        {"useWorkspaceManagedIdentity": True},
        {"useWorkspaceManagedIdentity": False},
        ["useWorkspaceManagedIdentity"],
    ),
    (
        "useWorkspaceManagedIdentity-missing",
        {"useWorkspaceManagedIdentity": False},
        {},
        ["useWorkspaceManagedIdentity"],
    ),
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


# ---- differences against real responses (tests/fixtures/recordings) ---------------------------------------
# The spec is what a user would write for the recorded PUT; the response is the service's, unchanged. The
# replay tier (tests/replay/test_drift_replay.py) does this for every recorded response; these name the facts.


def recorded_properties(file: str, index: int) -> dict[str, Any]:
    recording = load(RECORDINGS_DIR / file)
    props: dict[str, Any] = recording.interactions[index].response.body["properties"]
    return props


def desired_for(api_version: str = "2024-04-01", **spec: Any) -> dict[str, Any]:
    raw = {
        "workspace": dict(WORKSPACE_SPEC),
        "connectionName": "recorded",
        "azureApiVersion": api_version,
        **spec,
    }
    return desired_properties(parse_spec(raw, metadata_name="recorded", default_api_version=api_version))


AOAI = "azure-sdk-assets-test_azure_open_ai_crud.json"
KEY = {"key": {"secretKeyRef": {"name": "openai", "key": "key"}}}

RECORDED_SAME: list[tuple[str, str, int, dict[str, Any]]] = [
    (
        # The service appends DeploymentApiVersion to AzureOpenAI metadata (6 needless PUTs before).
        "service-added-metadata-key",
        AOAI,
        0,
        {
            "authType": "ApiKey",
            "category": "AzureOpenAI",
            "isSharedToAll": True,
            "metadata": {"hello": "world", "ApiVersion": "1.0", "ApiType": "Azure"},
            "target": "dummy",
            "credentials": KEY,
        },
    ),
    (
        # Sent with "ApiVersion": null and "ResourceId": null, kept as null: keys the spec cannot set.
        "null-metadata-values-kept",
        AOAI,
        4,
        {
            "authType": "AAD",
            "category": "AzureOpenAI",
            "isSharedToAll": True,
            "metadata": {"hello": "world", "ApiType": "Azure"},
            "target": "dummy",
        },
    ),
    (
        # value/valueFormat accepted, never returned; isSharedToAll and metadata defaulted by the service.
        "write-only-value",
        "azure-service-operator-Test_MachineLearning_Workspaces_20240401_CRUD.json",
        1,
        {
            "authType": "None",
            "category": "ContainerRegistry",
            "target": "www.microsoft.com",
            "value": '{"foo":"bar", "baz":"bee"}',
            "valueFormat": "JSON",
        },
    ),
    (
        # No target sent: the service answers target null; category OpenAi is returned as OpenAI.
        "no-target-canonical-category",
        "azure-sdk-assets-test_non_azure_open_ai_crud.json",
        0,
        {
            "authType": "ApiKey",
            "category": "OpenAI",
            "isSharedToAll": True,
            "metadata": {},
            "credentials": KEY,
        },
    ),
]


@pytest.mark.parametrize(
    ("file", "index", "spec"), [r[1:] for r in RECORDED_SAME], ids=[r[0] for r in RECORDED_SAME]
)
def test_no_difference_for_a_real_response_to_the_spec_that_was_put(
    file: str, index: int, spec: dict[str, Any]
) -> None:
    assert differences(desired_for(**spec), recorded_properties(file, index)) == []


@pytest.mark.parametrize(
    ("change", "names"),
    [
        ({"target": "elsewhere"}, ["target"]),
        ({"metadata": {"hello": "world", "ApiVersion": "2.0"}}, ["metadata"]),
        ({"metadata": {"DeploymentApiVersion": "2024-10-21"}}, ["metadata"]),
        ({"isSharedToAll": False}, ["isSharedToAll"]),
        ({"category": "OpenAI"}, ["category"]),
    ],
    ids=["target", "metadata-value", "metadata-service-key-other-value", "isSharedToAll", "category"],
)
def test_a_real_response_still_shows_what_the_spec_changed(change: dict[str, Any], names: list[str]) -> None:
    spec = {**RECORDED_SAME[0][3], **change}
    assert differences(desired_for(**spec), recorded_properties(AOAI, 0)) == names


@pytest.mark.parametrize("api_version", ["2025-12-01", "2026-05-01"])
def test_the_defaults_the_service_reports_are_compared_once_the_spec_sets_them(api_version: str) -> None:
    props = recorded_properties(AOAI, 0)
    assert (props["peRequirement"], props["useWorkspaceManagedIdentity"]) == ("NotRequired", False)
    base = {k: v for k, v in RECORDED_SAME[0][3].items()}
    assert differences(desired_for(api_version, **base), props) == []
    assert differences(desired_for(api_version, **base, peRequirement="NotRequired"), props) == []
    assert differences(desired_for(api_version, **base, peRequirement="Required"), props) == ["peRequirement"]
    assert differences(desired_for(api_version, **base, useWorkspaceManagedIdentity=True), props) == [
        "useWorkspaceManagedIdentity"
    ]


def test_the_deep_check_finds_the_recorded_key_unchanged() -> None:
    listed = recorded_properties(AOAI, 1)
    assert credential_differences({"key": "dGhpcyBpcyBmYWtlIGtleQ=="}, listed["credentials"]) == []
    assert credential_differences({"key": "another"}, listed["credentials"]) == ["key"]


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


@pytest.mark.parametrize(
    ("persisted", "interval", "now_due"),
    [(None, 600, None), (ago(100), 600, ago(100)), (ago(700), 0, ago(700))],
    ids=["never-checked", "recent", "drift-disabled"],
)
def test_check_basis_keeps_what_needs_no_spreading(
    persisted: dt.datetime | None, interval: float, now_due: dt.datetime | None
) -> None:
    assert check_basis(persisted=persisted, now=NOW, interval=interval, key="k") == now_due


@pytest.mark.parametrize("key", [f"uid-{i}" for i in range(20)])
def test_check_basis_spreads_an_old_check_within_one_interval(key: str) -> None:
    basis = check_basis(persisted=ago(5000), now=NOW, interval=600, key=key)
    assert basis is not None
    assert ago(600) < basis <= NOW
    assert not drift_due(last_checked=basis, now=NOW, interval=600, jitter=0.1, key=key)
    assert drift_due(
        last_checked=basis, now=NOW + dt.timedelta(seconds=541), interval=600, jitter=0.1, key=key
    )


@pytest.mark.parametrize(
    ("persisted", "interval", "written"),
    [(None, 3600, True), (ago(3599), 3600, False), (ago(3600), 3600, True), (ago(1), 0, True)],
    ids=["never", "younger", "interval-old", "every-check"],
)
def test_persist_check(persisted: dt.datetime | None, interval: float, written: bool) -> None:
    assert persist_check(persisted=persisted, now=NOW, interval=interval) is written
