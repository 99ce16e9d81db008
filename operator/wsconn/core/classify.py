"""Every way a pass can fail -> a verdict: the condition's state and reason, and when to try again.

One table, as in Azure Service Operator's error_classifier.go: the shell turns each exception into a plain
`Fault` (arm/errors.py and kube/secrets.py carry theirs), and `classify` is the only place that decides what
it means; apply and delete passes use the same table. ARM answers go by known codes first, then by HTTP
status.

    Fault
      ArmAnswered      ARM answered with an error status (code, Retry-After)
      ArmUnanswered    no answer: connection refused or dropped, TLS failure, a transport timeout
      ArmDeadline      an ARM request, or the whole pass, ran past its deadline
      ArmMalformed     a 2xx answer that cannot be used: not JSON, over the size cap, or contradicting the write
      TokenRefused     azure-identity could not get a token (Entra's AADSTS code when it refused)
      KubeAnswered     reading a Secret failed with this HTTP status (0: no answer)

`stalled` means only a change by someone (the manifest, a Secret, Azure RBAC, the workspace) can help;
causes that live outside the cluster are still retried slowly, because no Kubernetes event will announce
their fix. `progressing` is transient: retried with backoff, honouring Retry-After.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from wsconn.core import reasons
from wsconn.core.conditions import State
from wsconn.core.reasons import Reason

SLOW_RETRY_SECONDS = 300.0


class Retry(enum.Enum):
    """When to run the pass again."""

    NOW = "now"  # at once: the cause is already gone (an expired token was dropped and will be refreshed)
    BACKOFF = "backoff"  # transient: exponential backoff with jitter, and at least Retry-After
    SLOW = "slow"  # fixed outside the cluster: every SLOW_RETRY_SECONDS
    ON_CHANGE = "on-change"  # only a change of the resource or its Secrets can help


@dataclass(frozen=True)
class ArmAnswered:
    """ARM answered with an error status."""

    status: int
    code: str = ""
    retry_after: float | None = None


@dataclass(frozen=True)
class ArmUnanswered:
    """No answer came back."""


@dataclass(frozen=True)
class ArmDeadline:
    """A deadline passed before the answer was complete."""


@dataclass(frozen=True)
class ArmMalformed:
    """A 2xx answer that cannot be used."""


@dataclass(frozen=True)
class TokenRefused:
    """No Azure token; `message` is azure-identity's (it holds Entra's AADSTS code when Entra refused)."""

    message: str


@dataclass(frozen=True)
class KubeAnswered:
    """Reading from the API server failed with `status` (0: no answer)."""

    status: int


Fault = ArmAnswered | ArmUnanswered | ArmDeadline | ArmMalformed | TokenRefused | KubeAnswered


@dataclass(frozen=True)
class Verdict:
    """What a fault means for the resource."""

    state: State
    reason: Reason
    retry: Retry
    retry_after: float | None = None  # the server's own Retry-After, when it sent one


def _stalled(reason: Reason, retry: Retry = Retry.SLOW) -> Verdict:
    return Verdict("stalled", reason, retry)


def _transient(reason: Reason) -> Verdict:
    return Verdict("progressing", reason, Retry.BACKOFF)


_BY_CODE: dict[str, Verdict] = {
    "ResourceGroupNotFound": _stalled(reasons.WORKSPACE_NOT_FOUND),
    "ParentResourceNotFound": _stalled(reasons.WORKSPACE_NOT_FOUND),
    "SubscriptionNotFound": _stalled(reasons.WORKSPACE_NOT_FOUND),
    "AuthorizationFailed": _stalled(reasons.AZURE_AUTHORIZATION_FAILED),
    "LinkedAuthorizationFailed": _stalled(reasons.AZURE_AUTHORIZATION_FAILED),
    "InvalidAuthenticationToken": _stalled(reasons.AZURE_AUTHENTICATION_FAILED),
    "AuthenticationFailed": _stalled(reasons.AZURE_AUTHENTICATION_FAILED),
    "ExpiredAuthenticationToken": Verdict("progressing", reasons.AZURE_AUTHENTICATION_FAILED, Retry.NOW),
    "SubscriptionRequestsThrottled": _transient(reasons.AZURE_THROTTLED),
    "TooManyRequests": _transient(reasons.AZURE_THROTTLED),
    "AnotherOperationInProgress": _transient(reasons.AZURE_CONFLICT),
    "Conflict": _transient(reasons.AZURE_CONFLICT),
    "NoRegisteredProviderFound": _stalled(reasons.AZURE_REJECTED, Retry.ON_CHANGE),
    "MissingApiVersionParameter": _stalled(reasons.AZURE_REJECTED, Retry.ON_CHANGE),
}


def classify(fault: Fault) -> Verdict:
    """The verdict for a fault that ended an apply pass (delete passes: `classify_delete`)."""
    match fault:
        case ArmAnswered(status=status, code=code, retry_after=retry_after):
            verdict = _by_status(status, code)
            return Verdict(verdict.state, verdict.reason, verdict.retry, retry_after)
        case ArmUnanswered() | ArmDeadline() | ArmMalformed():
            return _transient(reasons.AZURE_UNAVAILABLE)
        case TokenRefused(message=message):
            # Entra's own refusals carry an AADSTS code (bad client secret, unknown client or tenant): someone
            # must fix the identity. Without one the authority was not reached, or no credential source is
            # configured yet (as while Workload Identity's token file appears): transient.
            if "AADSTS" in message:
                return _stalled(reasons.AZURE_AUTHENTICATION_FAILED)
            return _transient(reasons.AZURE_AUTHENTICATION_FAILED)
        case KubeAnswered(status=403):
            return _stalled(reasons.SECRET_ACCESS_DENIED)
        case KubeAnswered():
            return _transient(reasons.KUBERNETES_UNAVAILABLE)


def classify_delete(fault: Fault) -> Verdict:
    """The verdict for a fault that ended a delete pass: the same table, reported as `DeleteFailed`.

    A finalizer never waits for a change that may not come: what would wait for one is retried with backoff,
    so that fixing the cause (or switching to `deletionPolicy: Orphan`) is noticed without a touch.
    """
    verdict = classify(fault)
    retry = Retry.BACKOFF if verdict.retry is Retry.ON_CHANGE else verdict.retry
    return Verdict(verdict.state, reasons.DELETE_FAILED, retry, verdict.retry_after)


def _by_status(status: int, code: str) -> Verdict:
    if code in _BY_CODE:
        return _BY_CODE[code]
    if status == 401:
        return _stalled(reasons.AZURE_AUTHENTICATION_FAILED)
    if status == 403:
        return _stalled(reasons.AZURE_AUTHORIZATION_FAILED)
    if status == 404:
        return _stalled(reasons.WORKSPACE_NOT_FOUND)
    if status == 429:
        return _transient(reasons.AZURE_THROTTLED)
    if status == 409:
        return _transient(reasons.AZURE_CONFLICT)
    if status == 408 or status >= 500:
        return _transient(reasons.AZURE_UNAVAILABLE)
    return _stalled(reasons.AZURE_REJECTED, Retry.ON_CHANGE)


def retry_delay(verdict: Verdict, *, attempt: int, jitter: float) -> float | None:
    """Seconds until the next pass (None: on the next change). `jitter` in [0, 1) spreads backoffs: the
    delay is between half and all of the backoff, and never below the server's Retry-After."""
    match verdict.retry:
        case Retry.ON_CHANGE:
            return None
        case Retry.NOW:
            return verdict.retry_after or 0.0
        case Retry.SLOW:
            return max(SLOW_RETRY_SECONDS, verdict.retry_after or 0.0)
        case Retry.BACKOFF:
            return max(backoff(attempt) * (0.5 + jitter / 2), verdict.retry_after or 0.0)


def backoff(attempt: int, *, base: float = 2.0, cap: float = 300.0) -> float:
    """Exponential backoff for retry `attempt` (0-based), before jitter."""
    return float(min(cap, base * (2 ** min(attempt, 32))))
