"""kstatus conditions from one outcome, and ARM answers -> (state, reason, retry) with backoff.

kstatus reads: Current = Ready True at the observed generation; InProgress = Reconciling True; Failed =
Stalled True. Exactly one of the three is True for any outcome.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wsconn.core.classify import (
    Verdict,
    backoff,
    classify_credential_failure,
    classify_status,
    classify_transport,
)
from wsconn.core.conditions import Outcome, build_conditions, is_ready, ready_condition
from wsconn.core.reasons import BY_NAME

T0 = "2025-06-01T10:00:00Z"
T1 = "2025-06-01T11:00:00Z"


def conditions(
    state: str,
    *,
    previous: list[dict[str, Any]] | None = None,
    now: str = T1,
    generation: int = 3,
    message: str = "m",
) -> list[dict[str, Any]]:
    return build_conditions(
        Outcome(state, "Reason", message),  # type: ignore[arg-type]
        generation=generation,
        previous=previous or [],
        now=now,
    )


def statuses(conds: list[dict[str, Any]]) -> dict[str, str]:
    return {c["type"]: c["status"] for c in conds}


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("ready", {"Ready": "True", "Reconciling": "False", "Stalled": "False"}),
        ("progressing", {"Ready": "False", "Reconciling": "True", "Stalled": "False"}),
        ("stalled", {"Ready": "False", "Reconciling": "False", "Stalled": "True"}),
    ],
)
def test_each_state_sets_the_kstatus_conditions(state: str, expected: dict[str, str]) -> None:
    assert statuses(conditions(state)) == expected


def test_conditions_for_a_first_success_in_full() -> None:
    assert build_conditions(
        Outcome("ready", "Succeeded", "connection applied"), generation=1, previous=[], now=T0
    ) == [
        {
            "type": "Ready",
            "status": "True",
            "reason": "Succeeded",
            "message": "connection applied",
            "observedGeneration": 1,
            "lastTransitionTime": T0,
        },
        {
            "type": "Reconciling",
            "status": "False",
            "reason": "Succeeded",
            "message": "connection applied",
            "observedGeneration": 1,
            "lastTransitionTime": T0,
        },
        {
            "type": "Stalled",
            "status": "False",
            "reason": "Succeeded",
            "message": "connection applied",
            "observedGeneration": 1,
            "lastTransitionTime": T0,
        },
    ]


@pytest.mark.parametrize("state", ["ready", "progressing", "stalled"])
def test_ready_comes_first(state: str) -> None:
    assert [c["type"] for c in conditions(state)] == ["Ready", "Reconciling", "Stalled"]


@pytest.mark.parametrize("state", ["ready", "progressing", "stalled"])
def test_unchanged_statuses_keep_their_transition_time(state: str) -> None:
    before = conditions(state, now=T0, generation=1)
    after = conditions(state, previous=before, now=T1, generation=2)
    assert [c["lastTransitionTime"] for c in after] == [T0, T0, T0]
    assert [c["observedGeneration"] for c in after] == [2, 2, 2]


@pytest.mark.parametrize(
    ("first", "second", "times"),
    [
        ("ready", "stalled", {"Ready": T1, "Reconciling": T0, "Stalled": T1}),
        ("ready", "progressing", {"Ready": T1, "Reconciling": T1, "Stalled": T0}),
        ("progressing", "ready", {"Ready": T1, "Reconciling": T1, "Stalled": T0}),
        ("stalled", "progressing", {"Ready": T0, "Reconciling": T1, "Stalled": T1}),
        ("stalled", "ready", {"Ready": T1, "Reconciling": T0, "Stalled": T1}),
    ],
)
def test_a_flipped_status_gets_a_new_transition_time(first: str, second: str, times: dict[str, str]) -> None:
    after = conditions(second, previous=conditions(first, now=T0), now=T1)
    assert {c["type"]: c["lastTransitionTime"] for c in after} == times


def test_a_previous_condition_without_transition_time_gets_now() -> None:
    previous = [{"type": "Ready", "status": "True"}]
    after = conditions("ready", previous=previous, now=T1)
    assert after[0]["lastTransitionTime"] == T1


def test_reason_and_message_change_without_a_flip_keep_the_time() -> None:
    before = build_conditions(Outcome("stalled", "SecretNotFound", "a"), generation=1, previous=[], now=T0)
    after = build_conditions(Outcome("stalled", "InvalidSpec", "b"), generation=1, previous=before, now=T1)
    assert [(c["reason"], c["message"], c["lastTransitionTime"]) for c in after] == [
        ("InvalidSpec", "b", T0),
        ("InvalidSpec", "b", T0),
        ("InvalidSpec", "b", T0),
    ]


@pytest.mark.parametrize("generation", [1, 7, 2**40])
def test_observed_generation_is_stamped_on_every_condition(generation: int) -> None:
    assert [c["observedGeneration"] for c in conditions("ready", generation=generation)] == [generation] * 3


@pytest.mark.parametrize(
    ("length", "expected_length", "truncated"),
    [(0, 0, False), (1023, 1023, False), (1024, 1024, False), (1025, 1024, True), (100_000, 1024, True)],
)
def test_long_messages_are_truncated(length: int, expected_length: int, truncated: bool) -> None:
    message = "".join(chr(ord("a") + i % 26) for i in range(length))
    got = conditions("stalled", message=message)[0]["message"]
    assert len(got) == expected_length
    if truncated:
        assert got == message[:1021] + "..."
    else:
        assert got == message


@pytest.mark.parametrize(
    ("status", "generation", "ready"),
    [
        ({"conditions": [{"type": "Ready", "status": "True", "observedGeneration": 4}]}, 4, True),
        ({"conditions": [{"type": "Ready", "status": "True", "observedGeneration": 3}]}, 4, False),
        ({"conditions": [{"type": "Ready", "status": "False", "observedGeneration": 4}]}, 4, False),
        ({"conditions": [{"type": "Stalled", "status": "True", "observedGeneration": 4}]}, 4, False),
        ({"conditions": [{"type": "Ready", "status": "True"}]}, 4, False),
        ({"conditions": []}, 1, False),
        ({}, 1, False),
        (None, 1, False),
    ],
    ids=[
        "current",
        "old-generation",
        "not-ready",
        "only-stalled",
        "no-generation",
        "empty",
        "no-conditions",
        "none",
    ],
)
def test_is_ready(status: dict[str, Any] | None, generation: int, ready: bool) -> None:
    assert is_ready(status, generation) is ready


@pytest.mark.parametrize("state", ["ready", "progressing", "stalled"])
def test_is_ready_reads_built_conditions(state: str) -> None:
    assert is_ready({"conditions": conditions(state, generation=5)}, 5) is (state == "ready")


def test_ready_condition_finds_ready_among_others() -> None:
    conds = [{"type": "Stalled", "status": "False"}, {"type": "Ready", "status": "True"}]
    assert ready_condition(conds) == {"type": "Ready", "status": "True"}
    assert ready_condition(None) is None


# ---- classify ----------------------------------------------------------------------------------------------

SLOW = 300.0

CLASSIFY: list[tuple[int, str | None, Verdict]] = [
    # 400: a rejection only a change can fix
    (400, None, Verdict("stalled", "AzureRejected", None)),
    (400, "BadRequest", Verdict("stalled", "AzureRejected", None)),
    (400, "InvalidParameter", Verdict("stalled", "AzureRejected", None)),
    (400, "NoRegisteredProviderFound", Verdict("stalled", "AzureRejected", None)),
    (400, "MissingApiVersionParameter", Verdict("stalled", "AzureRejected", None)),
    # 401/403: fixed outside the cluster, retried slowly
    (401, None, Verdict("stalled", "AzureAuthenticationFailed", SLOW)),
    (401, "InvalidAuthenticationToken", Verdict("stalled", "AzureAuthenticationFailed", SLOW)),
    (401, "AuthenticationFailed", Verdict("stalled", "AzureAuthenticationFailed", SLOW)),
    (401, "ExpiredAuthenticationToken", Verdict("progressing", "AzureAuthenticationFailed", 0.0)),
    (403, None, Verdict("stalled", "AzureAuthorizationFailed", SLOW)),
    (403, "AuthorizationFailed", Verdict("stalled", "AzureAuthorizationFailed", SLOW)),
    (403, "LinkedAuthorizationFailed", Verdict("stalled", "AzureAuthorizationFailed", SLOW)),
    # 404 with the parent codes (CONNECTIONS.md §10.6)
    (404, "ResourceGroupNotFound", Verdict("stalled", "WorkspaceNotFound", SLOW)),
    (404, "ParentResourceNotFound", Verdict("stalled", "WorkspaceNotFound", SLOW)),
    (404, "SubscriptionNotFound", Verdict("stalled", "WorkspaceNotFound", SLOW)),
    (404, None, Verdict("stalled", "WorkspaceNotFound", SLOW)),
    # 409: someone else is busy with it
    (409, "Conflict", Verdict("progressing", "AzureConflict", None)),
    (409, "AnotherOperationInProgress", Verdict("progressing", "AzureConflict", None)),
    (409, None, Verdict("progressing", "AzureConflict", None)),
    # 429: throttled, Retry-After decides
    (429, "SubscriptionRequestsThrottled", Verdict("progressing", "AzureThrottled", None)),
    (429, "TooManyRequests", Verdict("progressing", "AzureThrottled", None)),
    (429, None, Verdict("progressing", "AzureThrottled", None)),
    # 5xx and 408: transient
    (500, None, Verdict("progressing", "AzureUnavailable", None)),
    (500, "InternalServerError", Verdict("progressing", "AzureUnavailable", None)),
    (502, None, Verdict("progressing", "AzureUnavailable", None)),
    (503, "ServiceUnavailable", Verdict("progressing", "AzureUnavailable", None)),
    (504, "GatewayTimeout", Verdict("progressing", "AzureUnavailable", None)),
    (408, None, Verdict("progressing", "AzureUnavailable", None)),
    # unknown codes fall back to the HTTP status
    (400, "SomethingNewFromArm", Verdict("stalled", "AzureRejected", None)),
    (403, "SomethingNewFromArm", Verdict("stalled", "AzureAuthorizationFailed", SLOW)),
    (404, "SomethingNewFromArm", Verdict("stalled", "WorkspaceNotFound", SLOW)),
    (503, "SomethingNewFromArm", Verdict("progressing", "AzureUnavailable", None)),
    (413, None, Verdict("stalled", "AzureRejected", None)),
    (422, None, Verdict("stalled", "AzureRejected", None)),
    (400, "", Verdict("stalled", "AzureRejected", None)),
    # a known code wins over its status
    (400, "SubscriptionRequestsThrottled", Verdict("progressing", "AzureThrottled", None)),
    (500, "AuthorizationFailed", Verdict("stalled", "AzureAuthorizationFailed", SLOW)),
]


@pytest.mark.parametrize(("status", "code", "verdict"), CLASSIFY, ids=[f"{s}-{c}" for s, c, _ in CLASSIFY])
def test_classify_status(status: int, code: str | None, verdict: Verdict) -> None:
    assert classify_status(status, code) == verdict


def test_a_transport_failure_is_transient() -> None:
    assert classify_transport() == Verdict("progressing", "AzureUnavailable", None)


@pytest.mark.parametrize(
    ("message", "verdict"),
    [
        (
            "ClientSecretCredential: AADSTS7000215: Invalid client secret provided.",
            Verdict("stalled", "AzureAuthenticationFailed", SLOW),
        ),
        (
            "AADSTS90002: Tenant 'contoso' not found.",
            Verdict("stalled", "AzureAuthenticationFailed", SLOW),
        ),
        (
            "Cannot connect to host login.microsoftonline.com:443",
            Verdict("progressing", "AzureAuthenticationFailed", None),
        ),
        (
            "DefaultAzureCredential failed to retrieve a token from the included credentials.",
            Verdict("progressing", "AzureAuthenticationFailed", None),
        ),
        ("", Verdict("progressing", "AzureAuthenticationFailed", None)),
    ],
    ids=["bad-client-secret", "unknown-tenant", "authority-unreachable", "no-credential-yet", "empty"],
)
def test_a_token_failure_stalls_only_when_entra_refused(message: str, verdict: Verdict) -> None:
    assert classify_credential_failure(message) == verdict


def test_every_reason_classify_produces_is_documented() -> None:
    produced = {v.reason for _, _, v in CLASSIFY} | {classify_transport().reason}
    assert produced <= set(BY_NAME)


@pytest.mark.parametrize(
    ("attempt", "delay"),
    [(0, 2.0), (1, 4.0), (2, 8.0), (3, 16.0), (6, 128.0), (7, 256.0), (8, 300.0), (9, 300.0), (100, 300.0)],
)
def test_backoff_doubles_up_to_the_cap(attempt: int, delay: float) -> None:
    assert backoff(attempt) == delay


@pytest.mark.parametrize(
    ("attempt", "base", "cap", "delay"),
    [(0, 1.0, 60.0, 1.0), (3, 1.0, 60.0, 8.0), (6, 1.0, 60.0, 60.0), (2, 0.5, 10.0, 2.0)],
)
def test_backoff_with_custom_base_and_cap(attempt: int, base: float, cap: float, delay: float) -> None:
    assert backoff(attempt, base=base, cap=cap) == delay


@pytest.mark.parametrize("attempt", [1023, 1024, 1100, 10_000])
def test_backoff_stays_at_the_cap_after_very_many_retries(attempt: int) -> None:
    # Kopf's retry counter keeps growing while a resource keeps failing (5 minutes apart: ~3.5 days to 1024).
    assert backoff(attempt) == 300.0


@given(attempt=st.integers(min_value=0, max_value=2000))
def test_backoff_is_positive_capped_and_monotonic(attempt: int) -> None:
    assert 0.0 < backoff(attempt) <= 300.0
    assert backoff(attempt) <= backoff(attempt + 1)
