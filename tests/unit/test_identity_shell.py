"""The reconciler's passes with Azure identities, over the in-memory ports (tests/unit/fakes.py): which
principal each ARM call is made as, what status says, what a refusal sends (nothing), and that a rotated
credential Secret is used without a PUT of its own."""

from __future__ import annotations

import logging

from tests.unit.fakes import API_VERSION, Shell, apikey_spec, secret, view
from tests.unit.virtual import run
from wsconn.arm.errors import ArmCredentialError
from wsconn.core import reasons
from wsconn.core.credentials import FetchedSecret
from wsconn.core.identity import Allowlist
from wsconn.core.selectors import parse_selector
from wsconn.reconciler import ObjectView, ReconcileConfig, Result

LOG = logging.getLogger("test")
TENANT_A = "aaaaaaaa-0000-0000-0000-000000000001"
CLIENT_A = "aaaaaaaa-0000-0000-0000-00000000c11e"
CANARY = "team-a-client-secret-canary"


def azure_secret(
    name: str, client: str = CLIENT_A, version: str = "1", labels: dict[str, str] | None = None
) -> FetchedSecret:
    data = {"AZURE_TENANT_ID": TENANT_A, "AZURE_CLIENT_ID": client, "AZURE_CLIENT_SECRET": CANARY}
    return FetchedSecret(
        name=name,
        resource_version=version,
        data={k: v.encode() for k, v in data.items()},
        uid=f"uid-{name}",
        labels=labels or {},
    )


def reconcile(shell: Shell, obj: ObjectView) -> Result:
    return run(shell.reconciler.reconcile(obj, log=LOG))


def config(**changes: object) -> ReconcileConfig:
    return ReconcileConfig(API_VERSION, 600, **changes)  # type: ignore[arg-type]


def test_the_namespace_secret_signs_every_call_of_the_pass() -> None:
    shell = Shell()
    shell.secrets.put("ns", azure_secret("wsconn-azure-credentials"))
    result = reconcile(shell, view())
    assert result.outcome.reason is reasons.SUCCEEDED
    assert shell.arm.methods() == ["GET", "PUT"], "the first pass looks, then writes"
    assert shell.arm.principals() == [f"{TENANT_A}/{CLIENT_A}"] * 2
    assert result.status.azure_identity == {"source": "Namespace", "tenantId": TENANT_A, "clientId": CLIENT_A}
    assert result.patch["azureIdentity"] == {
        "source": "Namespace",
        "tenantId": TENANT_A,
        "clientId": CLIENT_A,
    }
    assert result.status.secret_versions == {"openai": "1", "wsconn-azure-credentials": "1"}
    assert CANARY not in str(result.patch)


def test_the_resources_own_secret_wins_over_the_namespaces() -> None:
    shell = Shell()
    shell.secrets.put("ns", azure_secret("wsconn-azure-credentials", client="namespace-client"))
    shell.secrets.put("ns", azure_secret("team-a-azure"))
    result = reconcile(
        shell, view(spec=apikey_spec(azureCredentials={"secretRef": {"name": "team-a-azure"}}))
    )
    assert shell.arm.principals() == [f"{TENANT_A}/{CLIENT_A}"] * 2
    assert result.status.azure_identity is not None
    assert result.status.azure_identity["source"] == "Resource"


def test_without_a_credential_secret_the_operator_signs_where_allowed() -> None:
    shell = Shell(config=config(operator_principal=("op-tenant", "op-client")))
    result = reconcile(shell, view())
    assert shell.arm.principals() == ["operator"] * 2
    assert result.status.azure_identity == {
        "source": "Operator",
        "tenantId": "op-tenant",
        "clientId": "op-client",
    }


def test_outside_the_allowlist_nothing_reaches_arm() -> None:
    shell = Shell(config=config(operator_identity=Allowlist.parse("other-ns")))
    result = reconcile(shell, view())
    assert result.outcome.state == "stalled"
    assert result.outcome.reason is reasons.OPERATOR_IDENTITY_NOT_ALLOWED
    assert shell.arm.calls == []
    assert shell.arm.identities == []
    assert result.retry_after is None, "waits for a change (a credential Secret appearing triggers a pass)"


def test_a_named_secret_that_does_not_exist_is_refused_with_nothing_sent() -> None:
    shell = Shell()
    shell.secrets.put("other-ns", azure_secret("team-a-azure"))  # exists, but in another namespace
    result = reconcile(
        shell, view(spec=apikey_spec(azureCredentials={"secretRef": {"name": "team-a-azure"}}))
    )
    assert result.outcome.reason is reasons.AZURE_CREDENTIALS_NOT_FOUND
    assert shell.arm.calls == []
    assert shell.arm.identities == []
    assert "azureIdentity" not in result.patch


def test_a_rotated_credential_secret_is_used_without_a_put_of_its_own() -> None:
    shell = Shell()
    shell.secrets.put("ns", azure_secret("wsconn-azure-credentials", version="1"))
    first = reconcile(shell, view())
    shell.secrets.put("ns", azure_secret("wsconn-azure-credentials", version="2"))

    rotated = reconcile(shell, view(status=first.status.to_raw()))

    assert shell.arm.methods() == ["GET", "PUT"], "the rotation alone writes nothing to Azure"
    assert rotated.status.applied_fingerprint == first.status.applied_fingerprint
    assert rotated.patch == {"secretVersions": {"openai": "1", "wsconn-azure-credentials": "2"}}
    assert [i.version for i in shell.arm.identities] == [
        ("uid-wsconn-azure-credentials", "1"),
        ("uid-wsconn-azure-credentials", "2"),
    ], "the next call is made with the credential built from the new version"

    shell.secrets.put("ns", secret("openai", {"api-key": b"sk-next"}, version="2"))
    reconcile(shell, view(status=rotated.status.to_raw()))
    assert shell.arm.methods() == ["GET", "PUT", "PUT"]
    assert shell.arm.identities[-1].version == ("uid-wsconn-azure-credentials", "2")


def test_a_credential_that_cannot_be_built_sends_nothing() -> None:
    shell = Shell()
    shell.secrets.put("ns", azure_secret("wsconn-azure-credentials"))
    shell.arm.refuse = ArmCredentialError("the operator has no projected ServiceAccount token")
    result = reconcile(shell, view())
    assert result.outcome.reason is reasons.AZURE_AUTHENTICATION_FAILED
    assert shell.arm.calls == []


def test_deletion_is_signed_by_the_resources_identity() -> None:
    shell = Shell()
    shell.secrets.put("ns", azure_secret("wsconn-azure-credentials"))
    applied = reconcile(shell, view())
    result = run(shell.reconciler.delete(view(status=applied.status.to_raw()), log=LOG))
    assert result.done
    assert shell.arm.principals() == [f"{TENANT_A}/{CLIENT_A}"] * 3


def test_a_deletion_without_an_allowed_identity_keeps_the_finalizer_and_retries() -> None:
    shell = Shell()
    applied = reconcile(shell, view())
    refusing = Shell(arm=shell.arm, config=config(operator_identity=Allowlist.parse("")))
    result = run(refusing.reconciler.delete(view(status=applied.status.to_raw()), log=LOG))
    assert not result.done
    assert "OperatorIdentityNotAllowed" in result.message
    assert result.retry_after is not None
    assert result.retry_after > 0
    assert shell.arm.methods() == ["GET", "PUT"], "no DELETE was sent"


def test_a_secret_outside_the_selector_reads_as_missing_whether_it_exists_or_not() -> None:
    selector = parse_selector("wsconn.azureml.dev/usable=true")
    messages = []
    for spec in (apikey_spec(), apikey_spec(secret="absent")):
        shell = Shell(config=config(secret_selector=selector))
        result = reconcile(shell, view(spec=spec))
        assert result.outcome.reason is reasons.SECRET_NOT_FOUND
        assert shell.arm.calls == []
        messages.append(result.outcome.message.replace("absent", "openai"))
    assert messages[0] == messages[1], "no way to tell an unlabelled Secret from a missing one"
    assert "--secret-selector 'wsconn.azureml.dev/usable=true'" in messages[0]


def test_a_labelled_secret_passes_the_selector() -> None:
    shell = Shell(config=config(secret_selector=parse_selector("usable")))
    shell.secrets.put("ns", FetchedSecret("openai", "1", {"api-key": b"sk-x"}, labels={"usable": "yes"}))
    assert reconcile(shell, view()).outcome.reason is reasons.SUCCEEDED
