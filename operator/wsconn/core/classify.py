"""ARM answers and transport failures -> a condition reason, and whether and when to try again.

One table, as in Azure Service Operator's error_classifier.go: known codes first, then the HTTP status.
`stalled` means only a change by someone (the manifest, a Secret, Azure RBAC, the workspace) can help; the
operator still retries those that can be fixed outside the cluster (RBAC, a missing workspace, credentials)
slowly, because no Kubernetes event will announce the fix. `progressing` is transient and retried with
backoff, honouring Retry-After.
"""

from __future__ import annotations

from dataclasses import dataclass

from wsconn.core.conditions import State

SLOW_RETRY_SECONDS = 300.0


@dataclass(frozen=True)
class Verdict:
    """What an error means for the resource."""

    state: State
    reason: str
    retry_after: float | None  # None: wait for a change of the resource or its Secrets


_BY_CODE: dict[str, Verdict] = {
    "ResourceGroupNotFound": Verdict("stalled", "WorkspaceNotFound", SLOW_RETRY_SECONDS),
    "ParentResourceNotFound": Verdict("stalled", "WorkspaceNotFound", SLOW_RETRY_SECONDS),
    "SubscriptionNotFound": Verdict("stalled", "WorkspaceNotFound", SLOW_RETRY_SECONDS),
    "AuthorizationFailed": Verdict("stalled", "AzureAuthorizationFailed", SLOW_RETRY_SECONDS),
    "LinkedAuthorizationFailed": Verdict("stalled", "AzureAuthorizationFailed", SLOW_RETRY_SECONDS),
    "InvalidAuthenticationToken": Verdict("stalled", "AzureAuthenticationFailed", SLOW_RETRY_SECONDS),
    "AuthenticationFailed": Verdict("stalled", "AzureAuthenticationFailed", SLOW_RETRY_SECONDS),
    "ExpiredAuthenticationToken": Verdict("progressing", "AzureAuthenticationFailed", 0.0),
    "SubscriptionRequestsThrottled": Verdict("progressing", "AzureThrottled", None),
    "TooManyRequests": Verdict("progressing", "AzureThrottled", None),
    "AnotherOperationInProgress": Verdict("progressing", "AzureConflict", None),
    "Conflict": Verdict("progressing", "AzureConflict", None),
    "NoRegisteredProviderFound": Verdict("stalled", "AzureRejected", None),
    "MissingApiVersionParameter": Verdict("stalled", "AzureRejected", None),
}


def classify_status(status: int, code: str | None) -> Verdict:
    """The verdict for an ARM error response."""
    if code and code in _BY_CODE:
        return _BY_CODE[code]
    if status == 401:
        return Verdict("stalled", "AzureAuthenticationFailed", SLOW_RETRY_SECONDS)
    if status == 403:
        return Verdict("stalled", "AzureAuthorizationFailed", SLOW_RETRY_SECONDS)
    if status == 404:
        return Verdict("stalled", "WorkspaceNotFound", SLOW_RETRY_SECONDS)
    if status == 429:
        return Verdict("progressing", "AzureThrottled", None)
    if status in {408, 409} or status >= 500:
        return Verdict("progressing", "AzureUnavailable" if status != 409 else "AzureConflict", None)
    return Verdict("stalled", "AzureRejected", None)


def classify_transport() -> Verdict:
    """A request that got no answer (connection refused or dropped, timeout, TLS failure)."""
    return Verdict("progressing", "AzureUnavailable", None)


def classify_credential_failure(message: str) -> Verdict:
    """azure-identity could not get a token.

    Entra's own refusals carry an AADSTS code (bad client secret, unknown client or tenant): someone must fix
    the identity, so the resource stalls and is retried slowly. Without a code the authority was not reached
    (or no credential source is configured yet, as while Workload Identity's token file appears): transient.
    """
    if "AADSTS" in message:
        return Verdict("stalled", "AzureAuthenticationFailed", SLOW_RETRY_SECONDS)
    return Verdict("progressing", "AzureAuthenticationFailed", None)


def backoff(attempt: int, *, base: float = 2.0, cap: float = 300.0) -> float:
    """Exponential backoff for retry `attempt` (0-based), before jitter."""
    return float(min(cap, base * (2 ** min(attempt, 32))))
