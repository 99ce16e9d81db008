"""Every documented reason is produced, and every produced reason is documented.

docs/reasons.md is generated from core/reasons.py (tests/contract/test_generated.py holds the file to it);
here each reason has a scenario that drives the real reconciler (over the in-memory ports of
tests/unit/fakes.py) into writing it, and a new reason without a scenario fails the first test."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable

import pytest

from tests.unit.fakes import API_VERSION, Shell, apikey_spec, connection_id, secret, view
from tests.unit.virtual import run
from wsconn.api.references import SecretRef
from wsconn.arm.errors import ArmCredentialError, ArmError
from wsconn.core import reasons
from wsconn.core.identity import Allowlist
from wsconn.core.ownership import Claimant
from wsconn.core.reasons import Reason
from wsconn.kube.secrets import SecretReadError
from wsconn.reconciler import ReconcileConfig

LOG = logging.getLogger("test")
ID = connection_id("conn")


def written(shell: Shell, spec: dict[str, object] | None = None) -> set[str]:
    """The reasons one reconcile pass writes (an interim status included)."""
    result = run(shell.reconciler.reconcile(view(spec=spec), log=LOG))
    interim = {c["reason"] for _, patch in shell.writer.patches for c in patch.get("conditions", [])}
    return {result.outcome.reason.name} | interim


def put_fails(error: Exception) -> set[str]:
    shell = Shell()
    shell.arm.failures["PUT"] = [error]
    return written(shell)


def with_secret(data: dict[str, bytes]) -> set[str]:
    shell = Shell()
    shell.secrets.put("ns", secret("openai", data))
    return written(shell)


def secret_read_fails(status: int) -> set[str]:
    shell = Shell()
    shell.secrets.error = SecretReadError(SecretRef("ns", "openai"), status, "x")
    return written(shell)


def slow_rotation() -> set[str]:
    shell = Shell()
    first = run(shell.reconciler.reconcile(view(), log=LOG))
    shell.secrets.put("ns", secret("openai", {"api-key": b"rotated-value"}, version="2"))
    shell.arm.latency["PUT"] = 30.0
    run(shell.reconciler.reconcile(view(status=first.status.to_raw()), log=LOG))
    return {c["reason"] for _, patch in shell.writer.patches for c in patch["conditions"]}


def delete_fails() -> set[str]:
    shell = Shell()
    shell.arm.failures["DELETE"] = [ArmError(403, "AuthorizationFailed", "no", "rid")]
    result = run(shell.reconciler.delete(view(), log=LOG))
    assert result.patch is not None
    return {c["reason"] for c in result.patch["conditions"]}


def conflict() -> set[str]:
    shell = Shell()
    owner = Claimant("team-a", "conn", "2026-01-01T00:00:00Z", applied=True)
    obj = dataclasses.replace(
        view(), claimants=(owner, Claimant("ns", "conn", "2026-02-01T00:00:00Z", False))
    )
    return {run(shell.reconciler.reconcile(obj, log=LOG)).outcome.reason.name}


def refused() -> set[str]:
    shell = Shell()
    shell.arm.connections[ID.lower()] = {"id": ID, "properties": {"authType": "ApiKey"}}
    return written(shell, apikey_spec(adoptionPolicy="Refuse"))


def skipped() -> set[str]:
    obj = dataclasses.replace(view(), annotations={"azureml.dev/reconcile-policy": "skip"})
    return {run(Shell().reconciler.reconcile(obj, log=LOG)).outcome.reason.name}


SCENARIOS: dict[Reason, Callable[[], set[str]]] = {
    reasons.SUCCEEDED: lambda: written(Shell()),
    reasons.APPLYING: slow_rotation,
    reasons.INVALID_SPEC: lambda: written(Shell(), apikey_spec(authType="Unknown")),
    reasons.SECRET_NOT_FOUND: lambda: written(Shell(), apikey_spec(secret="absent")),
    reasons.SECRET_KEY_NOT_FOUND: lambda: with_secret({"other-key": b"v"}),
    reasons.SECRET_VALUE_EMPTY: lambda: with_secret({"api-key": b"  "}),
    reasons.SECRET_VALUE_INVALID: lambda: with_secret({"api-key": b"\xff\xfe"}),
    reasons.SECRET_ACCESS_DENIED: lambda: secret_read_fails(403),
    reasons.KUBERNETES_UNAVAILABLE: lambda: secret_read_fails(503),
    reasons.AZURE_AUTHENTICATION_FAILED: lambda: put_fails(ArmCredentialError("AADSTS7000215: bad secret")),
    reasons.AZURE_AUTHORIZATION_FAILED: lambda: put_fails(ArmError(403, "AuthorizationFailed", "no", "rid")),
    reasons.WORKSPACE_NOT_FOUND: lambda: put_fails(ArmError(404, "ParentResourceNotFound", "no ws", "rid")),
    reasons.AZURE_REJECTED: lambda: put_fails(ArmError(400, "BadRequest", "bad", "rid")),
    reasons.AZURE_THROTTLED: lambda: put_fails(
        ArmError(429, "SubscriptionRequestsThrottled", "wait", "rid", 5)
    ),
    reasons.AZURE_CONFLICT: lambda: put_fails(ArmError(409, "AnotherOperationInProgress", "busy", "rid")),
    reasons.AZURE_UNAVAILABLE: lambda: put_fails(ArmError(503, "ServiceUnavailable", "down", "rid")),
    reasons.DELETE_FAILED: delete_fails,
    reasons.AZURE_CREDENTIALS_NOT_FOUND: lambda: written(
        Shell(), apikey_spec(azureCredentials={"secretRef": {"name": "absent"}})
    ),
    reasons.OPERATOR_IDENTITY_NOT_ALLOWED: lambda: written(
        Shell(config=ReconcileConfig(API_VERSION, 600, operator_identity=Allowlist.parse("")))
    ),
    reasons.CONNECTION_CONFLICT: conflict,
    reasons.ALREADY_EXISTS: refused,
    reasons.RECONCILE_SKIPPED: skipped,
}


def test_every_documented_reason_has_a_scenario() -> None:
    assert set(SCENARIOS) == set(reasons.REASONS)


@pytest.mark.parametrize("reason", list(SCENARIOS), ids=lambda r: r.name)
def test_the_scenario_produces_its_reason(reason: Reason) -> None:
    assert reason.name in SCENARIOS[reason]()


def test_reason_names_are_unique_pascal_case() -> None:
    names = [r.name for r in reasons.REASONS]
    assert len(names) == len(set(names))
    assert all(n[0].isupper() and n.isalnum() for n in names)
    assert {r.condition for r in reasons.REASONS} <= {
        "Ready",
        "Reconciling",
        "Stalled",
        "Reconciling or Stalled",
        "Reconciling, then Stalled",
        "Ready (Unknown)",
    }
