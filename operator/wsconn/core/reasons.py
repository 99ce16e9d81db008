"""The stable set of condition reasons: what each means and what the user should do.

Every reason the operator can write is a constant here, and code names reasons only through these constants.
docs/reasons.md is generated from `REASONS`, and tests/unit/test_reasons.py drives the reconciler into every
one of them, so a reason cannot be undocumented, and a documented reason cannot be one nothing produces.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class Reason:
    """A documented reason."""

    name: str
    condition: str
    meaning: str
    action: str

    def __str__(self) -> str:
        return self.name


SUCCEEDED: Final = Reason(
    "Succeeded",
    "Ready",
    "The connection in Azure matches the spec and the Secrets it references.",
    "Nothing.",
)
APPLYING: Final = Reason(
    "Applying",
    "Reconciling",
    "A change (of the spec, a Secret, or a connection that drifted in Azure) is being written to Azure and has been waiting for more than two seconds: for a share of the ARM connections, for the client-side rate limit, or for ARM's answer. Ready turns True when the write succeeds.",
    "Nothing; if it lasts, read the operator's log for the ARM calls of this resource.",
)
INVALID_SPEC: Final = Reason(
    "InvalidSpec",
    "Stalled",
    "The spec cannot become a valid ARM request (the message names the field). Usually refused at `kubectl apply` already; this catches objects written before a CRD upgrade.",
    "Fix the field the message names.",
)
SECRET_NOT_FOUND: Final = Reason(
    "SecretNotFound",
    "Reconciling, then Stalled",
    "A referenced Secret does not exist in the resource's namespace. Nothing is changed in Azure. For `--missing-secret-grace` (300 s) after the resource's generation is first seen it is Reconciling (GitOps tools wait for a Secret delivered a moment later); after that, Stalled. With the operator's `--secret-selector`, a Secret that does not match it reads as missing (the message names the selector, and is the same whether the Secret exists or not).",
    "Create the Secret (it is picked up within a second), label it to match the selector, or fix the reference.",
)
SECRET_KEY_NOT_FOUND: Final = Reason(
    "SecretKeyNotFound",
    "Reconciling, then Stalled",
    "The Secret exists but lacks the referenced key (or, for CustomKeys, has no keys). Reconciling during the missing-Secret grace, then Stalled, as for `SecretNotFound`.",
    "Add the key to the Secret or fix `secretKeyRef.key`.",
)
SECRET_VALUE_EMPTY: Final = Reason(
    "SecretValueEmpty",
    "Stalled",
    "The referenced key holds an empty or whitespace-only value.",
    "Put the credential into the Secret.",
)
SECRET_VALUE_INVALID: Final = Reason(
    "SecretValueInvalid",
    "Stalled",
    "The referenced key is not UTF-8 text.",
    "Store the credential as text.",
)
SECRET_ACCESS_DENIED: Final = Reason(
    "SecretAccessDenied",
    "Stalled",
    "The operator may not read Secrets in this namespace (RBAC); retried every few minutes.",
    "Add the namespace to the chart's watched namespaces, or grant the operator `get` on Secrets there.",
)
KUBERNETES_UNAVAILABLE: Final = Reason(
    "KubernetesUnavailable",
    "Reconciling",
    "Reading a Secret failed for a transient reason; retried with backoff.",
    "Nothing, unless it persists: check the API server.",
)
AZURE_AUTHENTICATION_FAILED: Final = Reason(
    "AzureAuthenticationFailed",
    "Stalled",
    "No valid Azure token: the identity's credentials are wrong or expired, or ARM refused the token (401). Retried every few minutes. While Entra ID cannot be reached, or right after ARM said a token expired, the resource is Reconciling instead and retried sooner.",
    "Check the operator's Azure identity (Workload Identity federation, client secret, tenant).",
)
AZURE_AUTHORIZATION_FAILED: Final = Reason(
    "AzureAuthorizationFailed",
    "Stalled",
    "ARM answered 403: the operator's identity lacks permission on the workspace. Retried every few minutes.",
    "Grant the identity a role with `Microsoft.MachineLearningServices/workspaces/connections/*` on the workspace.",
)
WORKSPACE_NOT_FOUND: Final = Reason(
    "WorkspaceNotFound",
    "Stalled",
    "The subscription, resource group or workspace does not exist (404). Retried every few minutes, so a workspace created later is picked up.",
    "Create the workspace or fix `spec.workspace`.",
)
AZURE_REJECTED: Final = Reason(
    "AzureRejected",
    "Stalled",
    "ARM refused the request (a 400-class error). Not retried until the spec or a Secret changes.",
    "Read ARM's code and message in the condition and fix the spec or the Secret.",
)
AZURE_THROTTLED: Final = Reason(
    "AzureThrottled",
    "Reconciling",
    "ARM answered 429; retried after its Retry-After.",
    "Nothing; if frequent, lower the operator's ARM rates or the drift-check frequency.",
)
AZURE_CONFLICT: Final = Reason(
    "AzureConflict",
    "Reconciling",
    "ARM reported a conflicting operation in progress (409); retried with backoff.",
    "Nothing.",
)
AZURE_UNAVAILABLE: Final = Reason(
    "AzureUnavailable",
    "Reconciling",
    "ARM answered 5xx or 408, did not answer within the deadline (`--arm-timeout` per request, `--pass-timeout` per pass; the message names the one that was hit), or sent an answer that cannot be used: a body that is not JSON, one larger than 4 MiB, or a connection other than the one written (the message says what came back, never the body). Retried with backoff.",
    "Nothing, unless it persists: check connectivity to AZURE_RESOURCE_MANAGER_ENDPOINT and any proxy in between.",
)
DELETE_FAILED: Final = Reason(
    "DeleteFailed",
    "Reconciling or Stalled",
    "Deleting the connection in Azure failed; the finalizer stays and deletion is retried. The message gives the cause's own reason (for example `AzureAuthorizationFailed`); the condition that is True follows it.",
    "Read the message; fix permissions, or set `deletionPolicy: Orphan` to let go without deleting.",
)
AZURE_CREDENTIALS_NOT_FOUND: Final = Reason(
    "AzureCredentialsNotFound",
    "Stalled",
    "The credential Secret that names the resource's Azure identity is missing or incomplete: the Secret `spec.azureCredentials.secretRef.name` names does not exist in the resource's namespace, or a credential Secret (that one, or the namespace's `wsconn-azure-credentials`) lacks `AZURE_TENANT_ID`, `AZURE_CLIENT_ID` or one of `AZURE_CLIENT_SECRET`, `AZURE_CLIENT_CERTIFICATE`, `AZURE_USE_WORKLOAD_IDENTITY: \"true\"`, or does not match the operator's `--secret-selector`. Nothing is sent to Azure.",
    "Create or complete the Secret in the resource's namespace (it is picked up within a second), label it to match the selector, or fix `spec.azureCredentials`.",
)
OPERATOR_IDENTITY_NOT_ALLOWED: Final = Reason(
    "OperatorIdentityNotAllowed",
    "Stalled",
    "The resource names no Azure identity (`spec.azureCredentials`, or a `wsconn-azure-credentials` Secret in its namespace) and the operator's own identity is not allowed in its namespace (`--operator-identity-namespaces`). Nothing is sent to Azure.",
    "Create a `wsconn-azure-credentials` Secret in the namespace, set `spec.azureCredentials.secretRef`, or ask the platform team to add the namespace to the operator's allowlist.",
)
CONNECTION_CONFLICT: Final = Reason(
    "ConnectionConflict",
    "Stalled",
    "Another resource in the cluster owns the same Azure connection (workspace and connection name, compared case-insensitively): the one that has it applied, else the oldest. The message names it (`namespace/name`). This resource writes nothing, and deleting it deletes nothing in Azure; when the owner is deleted, the next in line takes over.",
    "Rename this resource's connection (`spec.connectionName`) or delete one of the two resources.",
)
ALREADY_EXISTS: Final = Reason(
    "AlreadyExists",
    "Stalled",
    "`adoptionPolicy: Refuse` and the connection already exists in Azure (found by the one GET of the resource's first pass). Nothing is written, and deleting the resource deletes nothing in Azure.",
    "Rename the connection (`spec.connectionName`), delete the existing one in Azure and request a reconcile (`azureml.dev/reconcile-requested-at`), or set `adoptionPolicy: Adopt` to take it over.",
)
RECONCILE_SKIPPED: Final = Reason(
    "ReconcileSkipped",
    "Ready (Unknown)",
    "The resource carries `azureml.dev/reconcile-policy: skip`: the operator makes no ARM call for it (spec edits, Secret rotations and drift checks alike) and its deletion leaves Azure alone. Ready is Unknown, since nothing is checked (kstatus: InProgress; Argo CD: Suspended).",
    "Remove the annotation to apply the current spec.",
)

REASONS: Final = (
    SUCCEEDED,
    APPLYING,
    INVALID_SPEC,
    SECRET_NOT_FOUND,
    SECRET_KEY_NOT_FOUND,
    SECRET_VALUE_EMPTY,
    SECRET_VALUE_INVALID,
    SECRET_ACCESS_DENIED,
    KUBERNETES_UNAVAILABLE,
    AZURE_AUTHENTICATION_FAILED,
    AZURE_AUTHORIZATION_FAILED,
    WORKSPACE_NOT_FOUND,
    AZURE_REJECTED,
    AZURE_THROTTLED,
    AZURE_CONFLICT,
    AZURE_UNAVAILABLE,
    DELETE_FAILED,
    AZURE_CREDENTIALS_NOT_FOUND,
    OPERATOR_IDENTITY_NOT_ALLOWED,
    CONNECTION_CONFLICT,
    ALREADY_EXISTS,
    RECONCILE_SKIPPED,
)

BY_NAME: Final = {r.name: r for r in REASONS}


def markdown_table() -> str:
    """The reasons as a markdown table (docs/reasons.md)."""
    rows = ["| Reason | Condition | Meaning | What to do |", "|---|---|---|---|"]
    rows += [f"| `{r.name}` | {r.condition} | {r.meaning} | {r.action} |" for r in REASONS]
    return "\n".join(rows) + "\n"
