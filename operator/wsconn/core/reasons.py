"""The stable set of condition reasons: what each means and what the user should do.

docs/reasons.md is generated from this table, and a test checks that every reason the code can produce is
listed here, so the documentation cannot fall behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class Reason:
    """A documented reason."""

    name: str
    state: str
    meaning: str
    action: str


REASONS: Final = (
    Reason(
        "Succeeded",
        "Ready",
        "The connection in Azure matches the spec and the Secrets it references.",
        "Nothing.",
    ),
    Reason(
        "InvalidSpec",
        "Stalled",
        "The spec cannot become a valid ARM request (the message names the field). Usually refused at `kubectl apply` already; this catches objects written before a CRD upgrade.",
        "Fix the field the message names.",
    ),
    Reason(
        "SecretNotFound",
        "Stalled",
        "A referenced Secret does not exist in the resource's namespace. Nothing is changed in Azure.",
        "Create the Secret (it is picked up within a second) or fix the reference.",
    ),
    Reason(
        "SecretKeyNotFound",
        "Stalled",
        "The Secret exists but lacks the referenced key (or, for CustomKeys, has no keys).",
        "Add the key to the Secret or fix `secretKeyRef.key`.",
    ),
    Reason(
        "SecretValueEmpty",
        "Stalled",
        "The referenced key holds an empty or whitespace-only value.",
        "Put the credential into the Secret.",
    ),
    Reason(
        "SecretValueInvalid",
        "Stalled",
        "The referenced key is not UTF-8 text.",
        "Store the credential as text.",
    ),
    Reason(
        "SecretAccessDenied",
        "Stalled",
        "The operator may not read Secrets in this namespace (RBAC); retried every few minutes.",
        "Add the namespace to the chart's watched namespaces, or grant the operator `get` on Secrets there.",
    ),
    Reason(
        "KubernetesUnavailable",
        "Reconciling",
        "Reading a Secret failed for a transient reason; retried with backoff.",
        "Nothing, unless it persists: check the API server.",
    ),
    Reason(
        "AzureAuthenticationFailed",
        "Stalled",
        "No valid Azure token: the identity's credentials are wrong or expired, or ARM refused the token (401). Retried every few minutes.",
        "Check the operator's Azure identity (Workload Identity federation, client secret, tenant).",
    ),
    Reason(
        "AzureAuthorizationFailed",
        "Stalled",
        "ARM answered 403: the operator's identity lacks permission on the workspace. Retried every few minutes.",
        "Grant the identity a role with `Microsoft.MachineLearningServices/workspaces/connections/*` on the workspace.",
    ),
    Reason(
        "WorkspaceNotFound",
        "Stalled",
        "The subscription, resource group or workspace does not exist (404). Retried every few minutes, so a workspace created later is picked up.",
        "Create the workspace or fix `spec.workspace`.",
    ),
    Reason(
        "AzureRejected",
        "Stalled",
        "ARM refused the request (a 400-class error). Not retried until the spec or a Secret changes.",
        "Read ARM's code and message in the condition and fix the spec or the Secret.",
    ),
    Reason(
        "AzureThrottled",
        "Reconciling",
        "ARM answered 429; retried after its Retry-After.",
        "Nothing; if frequent, lower the operator's ARM rates or the drift-check frequency.",
    ),
    Reason(
        "AzureConflict",
        "Reconciling",
        "ARM reported a conflicting operation in progress (409); retried with backoff.",
        "Nothing.",
    ),
    Reason(
        "AzureUnavailable",
        "Reconciling",
        "ARM answered 5xx or 408, or did not answer; retried with backoff.",
        "Nothing, unless it persists: check connectivity to AZURE_RESOURCE_MANAGER_ENDPOINT.",
    ),
    Reason(
        "DeleteFailed",
        "Reconciling or Stalled",
        "Deleting the connection in Azure failed; the finalizer stays and deletion is retried.",
        "Read the message; fix permissions, or set `deletionPolicy: Orphan` to let go without deleting.",
    ),
)

BY_NAME: Final = {r.name: r for r in REASONS}


def markdown_table() -> str:
    """The reasons as a markdown table (docs/reasons.md)."""
    rows = ["| Reason | Condition | Meaning | What to do |", "|---|---|---|---|"]
    rows += [f"| `{r.name}` | {r.state} | {r.meaning} | {r.action} |" for r in REASONS]
    return "\n".join(rows) + "\n"
