"""The shells of `plan` and `import` with in-memory fakes (the e2e tests run them against the emulator):
every verdict and exit status of plan, and import's mapping of what ARM returns into manifests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from tests.tools.test_validate import WORKSPACE, connection, secret
from wsconn.api import contract
from wsconn.api.spec import WorkspaceRef, parse_spec
from wsconn.arm.errors import ArmError, ArmTransportError
from wsconn.core.bodies import desired_properties
from wsconn.core.drift import differences
from wsconn.core.identity import Identity
from wsconn.settings import Settings
from wsconn.tools import importer
from wsconn.tools import plan as planner
from wsconn.tools.manifests import Document

REF = WorkspaceRef(WORKSPACE["subscriptionId"], WORKSPACE["resourceGroup"], WORKSPACE["name"])


class FakeArm:
    """GET answers by connection name: a body, None (404), or an exception; records every call."""

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, str]] = []

    async def get(self, resource_id: str, api_version: str, *, correlation_id: str) -> dict[str, Any] | None:
        self.calls.append(("GET", resource_id))
        answer = self.answers[resource_id.rsplit("/", 1)[-1]]
        if isinstance(answer, Exception):
            raise answer
        return answer  # type: ignore[no-any-return]


class FakeSigning:
    """Principals: ARM as an identity; records which identity each GET was signed as."""

    def __init__(self, arm: FakeArm) -> None:
        self._arm = arm
        self.identities: list[Identity] = []

    def arm(self, identity: Identity) -> FakeArm:
        self.identities.append(identity)
        return self._arm


def _plan(arm: FakeArm, *docs: Any, settings: Settings | None = None) -> list[planner.Entry]:
    return _signed(FakeSigning(arm), *docs, settings=settings)


def _signed(signing: FakeSigning, *docs: Any, settings: Settings | None = None) -> list[planner.Entry]:
    @asynccontextmanager
    async def client(settings: Settings) -> AsyncIterator[FakeSigning]:
        yield signing

    settings = settings or Settings()
    documents = [Document("m.yaml", i, d) for i, d in enumerate(docs)]
    return asyncio.run(
        planner.plan(
            documents,
            (),
            default_api_version=contract.DEFAULT_API_VERSION,
            resolve=planner.declared_identities(settings, documents),
            settings=settings,
            client=client,
        )
    )


def _properties(**changes: Any) -> dict[str, Any]:
    spec = parse_spec(
        connection()["spec"], metadata_name="team-git", default_api_version=contract.DEFAULT_API_VERSION
    )
    return {"properties": {**desired_properties(spec), "group": "Git", **changes}}


def test_plan_verdicts_and_exit_status() -> None:
    arm = FakeArm(
        {
            "same": _properties(),
            "drifted": _properties(target="https://elsewhere", metadata={"x": "y"}),
            "new": None,
            "denied": ArmError(status=403, code="AuthorizationFailed", message="no", request_id="r"),
            "offline": ArmTransportError("GET failed without an answer: ConnectError"),
        }
    )
    same = _plan(arm, connection("same"))
    assert [(e.verdict, e.detail) for e in same] == [
        ("no change", "credentials not compared (ARM never returns them)")
    ]
    assert planner.exit_code(same) == 0
    changes = _plan(arm, connection("same"), connection("drifted", metadata={"x": "z"}), connection("new"))
    assert [(e.resource, e.verdict, e.fields) for e in changes] == [
        ("same", "no change", ()),
        ("drifted", "update", ("metadata", "target")),
        ("new", "create", ()),
    ]
    assert planner.exit_code(changes) == 2
    failed = _plan(arm, connection("denied"), connection("offline"), connection("new", authType="Kerberos"))
    assert [(e.verdict, e.detail.split(":")[0]) for e in failed] == [
        ("cannot tell", "AzureAuthorizationFailed"),
        ("cannot tell", "AzureUnavailable"),
        ("cannot tell", "invalid"),
    ]
    assert planner.exit_code(failed) == 1
    assert all(method == "GET" for method, _ in arm.calls)


def test_plan_conflict_in_the_input_is_not_read_twice() -> None:
    arm = FakeArm({"same": _properties()})
    entries = _plan(arm, connection("same"), connection("other", connectionName="SAME"))
    assert [(e.resource, e.verdict) for e in entries] == [("same", "no change"), ("other", "conflict")]
    assert len(arm.calls) == 1
    assert planner.exit_code(entries) == 1


def in_namespace(doc: dict[str, Any], namespace: str) -> dict[str, Any]:
    return {**doc, "metadata": {**doc["metadata"], "namespace": namespace}}


def azure_secret(name: str, client: str, namespace: str = "team-a") -> dict[str, Any]:
    data = {"AZURE_TENANT_ID": "tenant-a", "AZURE_CLIENT_ID": client, "AZURE_CLIENT_SECRET": "not-shown"}
    return in_namespace(secret(name, **data), namespace)


def test_plan_uses_the_identity_the_operator_would_use() -> None:
    signing = FakeSigning(
        FakeArm({"own": _properties(), "shared": _properties(), "elsewhere": _properties()})
    )
    entries = _signed(
        signing,
        azure_secret("team-a-azure", "client-own"),
        azure_secret("wsconn-azure-credentials", "client-namespace"),
        in_namespace(connection("own", azureCredentials={"secretRef": {"name": "team-a-azure"}}), "team-a"),
        in_namespace(connection("shared"), "team-a"),
        in_namespace(connection("elsewhere"), "team-b"),
    )
    used = {(i.source, i.client_id) for i in signing.identities}
    assert used == {("Resource", "client-own"), ("Namespace", "client-namespace"), ("Operator", "")}
    described = {e.resource: e.identity for e in entries}
    assert described["team-a/own"] == "Resource (client client-own, Secret team-a-azure)"
    assert (
        described["team-a/shared"] == "Namespace (client client-namespace, Secret wsconn-azure-credentials)"
    )
    assert described["team-b/elsewhere"] == "Operator (client from the environment)"
    assert "not-shown" not in planner.render(entries, "text") + planner.render(entries, "json")


def test_plan_cannot_tell_without_the_identity_and_reads_nothing() -> None:
    signing = FakeSigning(FakeArm({}))
    named = connection("named", azureCredentials={"secretRef": {"name": "not-in-the-input"}})
    entries = _signed(
        signing,
        in_namespace(named, "team-a"),
        in_namespace(connection("unlisted"), "team-b"),
        settings=Settings(operator_identity_namespaces="team-a"),
    )
    assert [(e.resource, e.verdict, e.detail.split(":")[0]) for e in entries] == [
        ("team-a/named", "cannot tell", "AzureCredentialsNotFound"),
        ("team-b/unlisted", "cannot tell", "OperatorIdentityNotAllowed"),
    ]
    assert signing.identities == []
    assert planner.exit_code(entries) == 1


def test_plan_says_a_refused_adoption_would_leave_an_existing_connection_alone() -> None:
    arm = FakeArm({"same": _properties(), "new": None})
    entries = _plan(
        arm, connection("same", adoptionPolicy="Refuse"), connection("new", adoptionPolicy="Refuse")
    )
    assert [(e.resource, e.verdict, e.detail.split(":")[0]) for e in entries] == [
        ("same", "already exists", "AlreadyExists"),
        ("new", "create", "new does not exist in workspace ws-prod"),
    ]
    assert planner.exit_code(entries) == 1
    conflict = _plan(arm, connection("same"), connection("other", connectionName="SAME"))
    assert conflict[1].detail == "ConnectionConflict: same names the same connection"


def test_plan_reports_never_show_secret_values() -> None:
    arm = FakeArm({"same": _properties()})
    entries = _plan(arm, secret(pat="ghp-do-not-show"), connection("same"))
    assert "ghp-do-not-show" not in planner.render(entries, "text") + planner.render(entries, "json")


def _resource(name: str, **properties: Any) -> dict[str, Any]:
    return {"id": f"/subscriptions/x/connections/{name}", "name": name, "properties": properties}


def test_import_maps_what_arm_returns() -> None:
    resource = _resource(
        "team_openai",
        authType="apikey",
        category="azureopenai",
        target="https://contoso.openai.azure.com/",
        metadata={"ApiType": "Azure", "ApiVersion": None},
        isSharedToAll=True,
        group="AzureAI",
        createdByWorkspaceArmId="/subscriptions/x",
        isDefault=False,
    )
    result = importer.to_manifests(
        resource, workspace=REF, namespace="ml", api_version=contract.DEFAULT_API_VERSION
    )
    assert isinstance(result, importer.Imported)
    spec = result.connection["spec"]
    assert result.connection["metadata"] == {"name": "team-openai", "namespace": "ml"}
    assert spec == {
        "workspace": WORKSPACE,
        "connectionName": "team_openai",
        "authType": "ApiKey",
        "category": "AzureOpenAI",
        "target": "https://contoso.openai.azure.com/",
        "metadata": {"ApiType": "Azure"},
        "isSharedToAll": True,
        "credentials": {"key": {"secretKeyRef": {"name": "team-openai-credentials", "key": "key"}}},
    }
    assert result.secret is not None
    assert result.secret["stringData"] == {"key": ""}
    assert "key: feeds spec.credentials.key (secret)" in result.secret_comment
    parsed = parse_spec(spec, metadata_name="team-openai", default_api_version=contract.DEFAULT_API_VERSION)
    assert differences(desired_properties(parsed), resource["properties"]) == []


def test_import_with_values_keeps_non_secret_fields_in_the_manifest() -> None:
    resource = _resource("sp", authType="ServicePrincipal", category="ADLSGen2", target="https://lake")
    values = {"clientId": "c-1", "clientSecret": "s-1", "tenantId": "t-1"}
    result = importer.to_manifests(
        resource, workspace=REF, namespace=None, api_version=contract.DEFAULT_API_VERSION, credentials=values
    )
    assert isinstance(result, importer.Imported)
    assert result.connection["spec"]["credentials"] == {
        "clientId": {"value": "c-1"},
        "clientSecret": {"secretKeyRef": {"name": "sp-credentials", "key": "clientSecret"}},
        "tenantId": {"value": "t-1"},
    }
    assert result.secret is not None
    assert result.secret["stringData"] == {"clientSecret": "s-1"}
    assert result.with_values


@pytest.mark.parametrize(
    ("properties", "reason"),
    [
        ({"authType": "Kerberos", "category": "Git"}, "authType 'Kerberos' is not supported"),
        ({"authType": "AAD", "category": "Mainframe"}, "category 'Mainframe' is not supported"),
        (
            {"authType": "AAD", "category": "Git", "metadata": {"k": {"nested": "x"}}},
            "metadata.k is not a string",
        ),
    ],
)
def test_import_lists_what_it_cannot_express(properties: dict[str, Any], reason: str) -> None:
    result = importer.to_manifests(
        _resource("odd", **properties),
        workspace=REF,
        namespace=None,
        api_version=contract.DEFAULT_API_VERSION,
    )
    assert isinstance(result, importer.NotImported)
    assert reason in result.reason
