"""kstatus conditions from one outcome, and every fault -> (state, reason, when to retry), case by case.

kstatus reads: Current = Ready True at the observed generation; InProgress = Reconciling True; Failed =
Stalled True. Exactly one of the three is True for any outcome. The classifier table follows Azure Service
Operator's error_classifier_test.go: one case per code or status, and the fallbacks.
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wsconn.api.status import Condition, Status
from wsconn.core import reasons
from wsconn.core.classify import (
    ArmAnswered,
    ArmDeadline,
    ArmMalformed,
    ArmUnanswered,
    Fault,
    KubeAnswered,
    Retry,
    TokenRefused,
    Verdict,
    backoff,
    classify,
    classify_delete,
    retry_delay,
)
from wsconn.core.conditions import REJECTED_MESSAGE, Outcome, build_conditions, kept_rejection, ready_changed
from wsconn.core.reasons import Reason

T0 = dt.datetime(2025, 6, 1, 10, tzinfo=dt.UTC)
T1 = dt.datetime(2025, 6, 1, 11, tzinfo=dt.UTC)
REASON = Reason("Reason", "Ready", "", "")


def conditions(
    state: str,
    *,
    previous: tuple[Condition, ...] = (),
    now: dt.datetime = T1,
    generation: int = 3,
    message: str = "m",
) -> tuple[Condition, ...]:
    return build_conditions(
        Outcome(state, REASON, message),  # type: ignore[arg-type]
        generation=generation,
        previous=previous,
        now=now,
    )


def statuses(conds: tuple[Condition, ...]) -> dict[str, str]:
    return {c.type: c.status for c in conds}


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
    built = build_conditions(
        Outcome("ready", reasons.SUCCEEDED, "connection applied"), generation=1, previous=(), now=T0
    )
    assert [c.to_raw() for c in built] == [
        {
            "type": kind,
            "status": "True" if kind == "Ready" else "False",
            "reason": "Succeeded",
            "message": "connection applied",
            "observedGeneration": 1,
            "lastTransitionTime": "2025-06-01T10:00:00Z",
        }
        for kind in ("Ready", "Reconciling", "Stalled")
    ]


@pytest.mark.parametrize("state", ["ready", "progressing", "stalled"])
def test_ready_comes_first(state: str) -> None:
    assert [c.type for c in conditions(state)] == ["Ready", "Reconciling", "Stalled"]


@pytest.mark.parametrize("state", ["ready", "progressing", "stalled"])
def test_unchanged_statuses_keep_their_transition_time(state: str) -> None:
    before = conditions(state, now=T0, generation=1)
    after = conditions(state, previous=before, now=T1, generation=2)
    assert [c.last_transition_time for c in after] == [T0, T0, T0]
    assert [c.observed_generation for c in after] == [2, 2, 2]


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
def test_a_flipped_status_gets_a_new_transition_time(
    first: str, second: str, times: dict[str, dt.datetime]
) -> None:
    after = conditions(second, previous=conditions(first, now=T0), now=T1)
    assert {c.type: c.last_transition_time for c in after} == times


def test_a_previous_condition_without_transition_time_gets_now() -> None:
    previous = (Condition("Ready", "True", "", ""),)
    assert conditions("ready", previous=previous, now=T1)[0].last_transition_time == T1


def test_reason_and_message_change_without_a_flip_keep_the_time() -> None:
    before = build_conditions(
        Outcome("stalled", reasons.SECRET_NOT_FOUND, "a"), generation=1, previous=(), now=T0
    )
    after = build_conditions(
        Outcome("stalled", reasons.INVALID_SPEC, "b"), generation=1, previous=before, now=T1
    )
    assert [(c.reason, c.message, c.last_transition_time) for c in after] == [("InvalidSpec", "b", T0)] * 3


@pytest.mark.parametrize("generation", [1, 7, 2**40])
def test_observed_generation_is_stamped_on_every_condition(generation: int) -> None:
    assert [c.observed_generation for c in conditions("ready", generation=generation)] == [generation] * 3


@pytest.mark.parametrize(
    ("length", "expected_length", "truncated"),
    [(0, 0, False), (1023, 1023, False), (1024, 1024, False), (1025, 1024, True), (100_000, 1024, True)],
)
def test_long_messages_are_truncated(length: int, expected_length: int, truncated: bool) -> None:
    message = "".join(chr(ord("a") + i % 26) for i in range(length))
    got = conditions("stalled", message=message)[0].message
    assert len(got) == expected_length
    assert got == (message[:1021] + "..." if truncated else message)


@pytest.mark.parametrize("state", ["ready", "progressing", "stalled"])
def test_is_ready_reads_built_conditions(state: str) -> None:
    status = Status(conditions=conditions(state, generation=5))
    assert status.is_ready(5) is (state == "ready")
    assert status.is_ready(6) is False


@pytest.mark.parametrize(
    ("previous", "outcome", "changed"),
    [
        (None, Outcome("ready", reasons.SUCCEEDED, "m"), False),
        (None, Outcome("progressing", reasons.AZURE_THROTTLED, "m"), True),
        (None, Outcome("stalled", reasons.INVALID_SPEC, "m"), True),
        (Condition("Ready", "True", "Succeeded", "x"), Outcome("ready", reasons.SUCCEEDED, "m"), False),
        (Condition("Ready", "True", "Succeeded", "x"), Outcome("progressing", reasons.APPLYING, "m"), True),
        (
            Condition("Ready", "False", "AzureThrottled", "x"),
            Outcome("progressing", reasons.AZURE_THROTTLED, "y"),
            False,
        ),
        (
            Condition("Ready", "False", "AzureThrottled", "x"),
            Outcome("progressing", reasons.AZURE_UNAVAILABLE, "y"),
            True,
        ),
    ],
    ids=[
        "first-ready",
        "first-progressing",
        "first-stalled",
        "same",
        "flipped",
        "same-reason-new-message",
        "new-reason",
    ],
)
def test_an_event_is_due_when_ready_changes_status_or_reason(
    previous: Condition | None, outcome: Outcome, changed: bool
) -> None:
    assert ready_changed(previous, outcome) is changed


@pytest.mark.parametrize(
    ("previous", "message"),
    [
        (
            Condition("Ready", "False", "AzureRejected", "ARM said: target not allowed"),
            "ARM said: target not allowed",
        ),
        (Condition("Ready", "False", "KubernetesUnavailable", "flaky"), REJECTED_MESSAGE),
        (Condition("Ready", "False", "AzureRejected", ""), REJECTED_MESSAGE),
        (None, REJECTED_MESSAGE),
    ],
    ids=["azures-words", "another-failure-in-between", "empty", "none"],
)
def test_a_kept_rejection_is_always_azure_rejected(previous: Condition | None, message: str) -> None:
    assert kept_rejection(previous) == Outcome("stalled", reasons.AZURE_REJECTED, message)


# ---- classify ----------------------------------------------------------------------------------------------

R = reasons
SLOW, BACKOFF, NEVER, NOW = Retry.SLOW, Retry.BACKOFF, Retry.ON_CHANGE, Retry.NOW

CASES: list[tuple[str, Fault, Verdict]] = [
    # 400: a rejection only a change can fix
    ("400", ArmAnswered(400), Verdict("stalled", R.AZURE_REJECTED, NEVER)),
    ("400-BadRequest", ArmAnswered(400, "BadRequest"), Verdict("stalled", R.AZURE_REJECTED, NEVER)),
    (
        "400-InvalidParameter",
        ArmAnswered(400, "InvalidParameter"),
        Verdict("stalled", R.AZURE_REJECTED, NEVER),
    ),
    (
        "400-NoRegisteredProvider",
        ArmAnswered(400, "NoRegisteredProviderFound"),
        Verdict("stalled", R.AZURE_REJECTED, NEVER),
    ),
    (
        "400-MissingApiVersion",
        ArmAnswered(400, "MissingApiVersionParameter"),
        Verdict("stalled", R.AZURE_REJECTED, NEVER),
    ),
    # 401/403: fixed outside the cluster, retried slowly; an expired token is retried at once
    ("401", ArmAnswered(401), Verdict("stalled", R.AZURE_AUTHENTICATION_FAILED, SLOW)),
    (
        "401-InvalidToken",
        ArmAnswered(401, "InvalidAuthenticationToken"),
        Verdict("stalled", R.AZURE_AUTHENTICATION_FAILED, SLOW),
    ),
    (
        "401-AuthenticationFailed",
        ArmAnswered(401, "AuthenticationFailed"),
        Verdict("stalled", R.AZURE_AUTHENTICATION_FAILED, SLOW),
    ),
    (
        "401-Expired",
        ArmAnswered(401, "ExpiredAuthenticationToken"),
        Verdict("progressing", R.AZURE_AUTHENTICATION_FAILED, NOW),
    ),
    ("403", ArmAnswered(403), Verdict("stalled", R.AZURE_AUTHORIZATION_FAILED, SLOW)),
    (
        "403-AuthorizationFailed",
        ArmAnswered(403, "AuthorizationFailed"),
        Verdict("stalled", R.AZURE_AUTHORIZATION_FAILED, SLOW),
    ),
    (
        "403-Linked",
        ArmAnswered(403, "LinkedAuthorizationFailed"),
        Verdict("stalled", R.AZURE_AUTHORIZATION_FAILED, SLOW),
    ),
    # 404 with the parent codes (CONNECTIONS.md §10.6)
    (
        "404-ResourceGroup",
        ArmAnswered(404, "ResourceGroupNotFound"),
        Verdict("stalled", R.WORKSPACE_NOT_FOUND, SLOW),
    ),
    (
        "404-Parent",
        ArmAnswered(404, "ParentResourceNotFound"),
        Verdict("stalled", R.WORKSPACE_NOT_FOUND, SLOW),
    ),
    (
        "404-Subscription",
        ArmAnswered(404, "SubscriptionNotFound"),
        Verdict("stalled", R.WORKSPACE_NOT_FOUND, SLOW),
    ),
    ("404", ArmAnswered(404), Verdict("stalled", R.WORKSPACE_NOT_FOUND, SLOW)),
    # 409: someone else is busy with it
    ("409-Conflict", ArmAnswered(409, "Conflict"), Verdict("progressing", R.AZURE_CONFLICT, BACKOFF)),
    (
        "409-AnotherOperation",
        ArmAnswered(409, "AnotherOperationInProgress"),
        Verdict("progressing", R.AZURE_CONFLICT, BACKOFF),
    ),
    ("409", ArmAnswered(409), Verdict("progressing", R.AZURE_CONFLICT, BACKOFF)),
    # 429: throttled; the server's Retry-After travels with the verdict
    (
        "429-Subscription",
        ArmAnswered(429, "SubscriptionRequestsThrottled", 7.0),
        Verdict("progressing", R.AZURE_THROTTLED, BACKOFF, 7.0),
    ),
    ("429-TooMany", ArmAnswered(429, "TooManyRequests"), Verdict("progressing", R.AZURE_THROTTLED, BACKOFF)),
    ("429", ArmAnswered(429), Verdict("progressing", R.AZURE_THROTTLED, BACKOFF)),
    # 5xx and 408: transient
    ("500", ArmAnswered(500), Verdict("progressing", R.AZURE_UNAVAILABLE, BACKOFF)),
    (
        "500-Internal",
        ArmAnswered(500, "InternalServerError"),
        Verdict("progressing", R.AZURE_UNAVAILABLE, BACKOFF),
    ),
    ("502", ArmAnswered(502), Verdict("progressing", R.AZURE_UNAVAILABLE, BACKOFF)),
    (
        "503-Retry-After",
        ArmAnswered(503, "ServiceUnavailable", 30.0),
        Verdict("progressing", R.AZURE_UNAVAILABLE, BACKOFF, 30.0),
    ),
    ("504", ArmAnswered(504, "GatewayTimeout"), Verdict("progressing", R.AZURE_UNAVAILABLE, BACKOFF)),
    ("408", ArmAnswered(408), Verdict("progressing", R.AZURE_UNAVAILABLE, BACKOFF)),
    # unknown codes fall back to the HTTP status
    ("400-new-code", ArmAnswered(400, "SomethingNewFromArm"), Verdict("stalled", R.AZURE_REJECTED, NEVER)),
    (
        "403-new-code",
        ArmAnswered(403, "SomethingNewFromArm"),
        Verdict("stalled", R.AZURE_AUTHORIZATION_FAILED, SLOW),
    ),
    (
        "404-new-code",
        ArmAnswered(404, "SomethingNewFromArm"),
        Verdict("stalled", R.WORKSPACE_NOT_FOUND, SLOW),
    ),
    (
        "503-new-code",
        ArmAnswered(503, "SomethingNewFromArm"),
        Verdict("progressing", R.AZURE_UNAVAILABLE, BACKOFF),
    ),
    ("413", ArmAnswered(413), Verdict("stalled", R.AZURE_REJECTED, NEVER)),
    ("422", ArmAnswered(422), Verdict("stalled", R.AZURE_REJECTED, NEVER)),
    # a known code wins over its status
    (
        "400-throttled-code",
        ArmAnswered(400, "SubscriptionRequestsThrottled"),
        Verdict("progressing", R.AZURE_THROTTLED, BACKOFF),
    ),
    (
        "500-authorization-code",
        ArmAnswered(500, "AuthorizationFailed"),
        Verdict("stalled", R.AZURE_AUTHORIZATION_FAILED, SLOW),
    ),
    # no usable answer
    ("no-answer", ArmUnanswered(), Verdict("progressing", R.AZURE_UNAVAILABLE, BACKOFF)),
    ("deadline", ArmDeadline(), Verdict("progressing", R.AZURE_UNAVAILABLE, BACKOFF)),
    ("malformed", ArmMalformed(), Verdict("progressing", R.AZURE_UNAVAILABLE, BACKOFF)),
    # no token: stalled only when Entra itself refused the identity
    (
        "token-bad-secret",
        TokenRefused("ClientSecretCredential: AADSTS7000215: Invalid client secret provided."),
        Verdict("stalled", R.AZURE_AUTHENTICATION_FAILED, SLOW),
    ),
    (
        "token-unknown-tenant",
        TokenRefused("AADSTS90002: Tenant 'contoso' not found."),
        Verdict("stalled", R.AZURE_AUTHENTICATION_FAILED, SLOW),
    ),
    (
        "token-unreachable",
        TokenRefused("Cannot connect to host login.microsoftonline.com:443"),
        Verdict("progressing", R.AZURE_AUTHENTICATION_FAILED, BACKOFF),
    ),
    (
        "token-no-source-yet",
        TokenRefused("DefaultAzureCredential failed to retrieve a token."),
        Verdict("progressing", R.AZURE_AUTHENTICATION_FAILED, BACKOFF),
    ),
    ("token-empty", TokenRefused(""), Verdict("progressing", R.AZURE_AUTHENTICATION_FAILED, BACKOFF)),
    # reading a Secret
    ("kube-403", KubeAnswered(403), Verdict("stalled", R.SECRET_ACCESS_DENIED, SLOW)),
    ("kube-500", KubeAnswered(500), Verdict("progressing", R.KUBERNETES_UNAVAILABLE, BACKOFF)),
    ("kube-401", KubeAnswered(401), Verdict("progressing", R.KUBERNETES_UNAVAILABLE, BACKOFF)),
    ("kube-no-answer", KubeAnswered(0), Verdict("progressing", R.KUBERNETES_UNAVAILABLE, BACKOFF)),
]


@pytest.mark.parametrize(("fault", "verdict"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_classify(fault: Fault, verdict: Verdict) -> None:
    assert classify(fault) == verdict


@pytest.mark.parametrize(("fault", "verdict"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_delete_is_judged_by_the_same_table_and_never_waits_for_a_change(
    fault: Fault, verdict: Verdict
) -> None:
    judged = classify_delete(fault)
    assert (judged.state, judged.reason, judged.retry_after) == (
        verdict.state,
        R.DELETE_FAILED,
        verdict.retry_after,
    )
    assert judged.retry is (BACKOFF if verdict.retry is NEVER else verdict.retry)


def test_an_entra_refusal_stalls_a_delete_as_it_stalls_an_apply() -> None:
    refusal = TokenRefused("AADSTS7000215: Invalid client secret provided.")
    assert classify_delete(refusal).state == classify(refusal).state == "stalled"


def test_every_reason_classify_produces_is_documented() -> None:
    produced = {v.reason for _, _, v in CASES}
    assert produced <= set(reasons.REASONS)


@pytest.mark.parametrize(
    ("verdict", "attempt", "jitter", "delay"),
    [
        (Verdict("stalled", R.AZURE_REJECTED, NEVER), 0, 0.0, None),
        (Verdict("progressing", R.AZURE_AUTHENTICATION_FAILED, NOW), 5, 0.9, 0.0),
        (Verdict("progressing", R.AZURE_AUTHENTICATION_FAILED, NOW, 3.0), 0, 0.0, 3.0),
        (Verdict("stalled", R.AZURE_AUTHORIZATION_FAILED, SLOW), 0, 0.0, 300.0),
        (Verdict("stalled", R.AZURE_AUTHORIZATION_FAILED, SLOW, 900.0), 0, 0.0, 900.0),
        (Verdict("progressing", R.AZURE_UNAVAILABLE, BACKOFF), 0, 0.0, 1.0),
        (Verdict("progressing", R.AZURE_UNAVAILABLE, BACKOFF), 0, 1.0, 2.0),
        (Verdict("progressing", R.AZURE_UNAVAILABLE, BACKOFF), 3, 0.0, 8.0),
        (Verdict("progressing", R.AZURE_THROTTLED, BACKOFF, 45.0), 0, 0.5, 45.0),
        (Verdict("progressing", R.AZURE_THROTTLED, BACKOFF, 0.0), 0, 0.0, 1.0),
    ],
    ids=[
        "on-change",
        "now-is-zero-not-missing",
        "now-honours-retry-after",
        "slow",
        "slow-honours-longer-retry-after",
        "backoff-least-jitter",
        "backoff-most-jitter",
        "backoff-grows",
        "retry-after-wins",
        "retry-after-zero",
    ],
)
def test_retry_delay(verdict: Verdict, attempt: int, jitter: float, delay: float | None) -> None:
    assert retry_delay(verdict, attempt=attempt, jitter=jitter) == delay


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
