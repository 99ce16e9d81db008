"""Which Azure identity a resource uses (core/identity.py), the operator-identity allowlist, and the label
selectors of --secret-selector (core/selectors.py): plain data in, plain data out."""

from __future__ import annotations

import pytest

from wsconn.api.spec import InvalidSpecError, parse_spec
from wsconn.core import reasons
from wsconn.core.credentials import FetchedSecret
from wsconn.core.identity import (
    NAMESPACE_SECRET,
    Allowlist,
    Identity,
    IdentityError,
    credential_secret,
    requested_secret,
    resolve_identity,
    with_credential_version,
)
from wsconn.core.selectors import SelectorError, parse_selector

TENANT = "11111111-2222-3333-4444-555555555555"
CLIENT = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
CANARY = "client-secret-canary-7f3e"
ALL = Allowlist.parse("*")


def credentials(
    name: str = "team-a-azure", *, labels: dict[str, str] | None = None, data: dict[str, str] | None = None
) -> FetchedSecret:
    values = {"AZURE_TENANT_ID": TENANT, "AZURE_CLIENT_ID": CLIENT, "AZURE_CLIENT_SECRET": CANARY}
    values.update(data or {})
    return FetchedSecret(
        name=name,
        resource_version="41",
        data={k: v.encode() for k, v in values.items() if v},
        uid="uid-1",
        labels=labels or {},
    )


def resolve(
    requested: str | None,
    fetched: FetchedSecret | None,
    allowlist: Allowlist = ALL,
    namespace: str = "team-a",
    selector: str = "",
) -> Identity:
    return resolve_identity(
        namespace=namespace,
        requested=requested,
        fetched=fetched,
        allowlist=allowlist,
        operator=("op-tenant", "op-client"),
        selector=parse_selector(selector),
    )


def refusal(*args: object, **kwargs: object) -> IdentityError:
    with pytest.raises(IdentityError) as caught:
        resolve(*args, **kwargs)  # type: ignore[arg-type]
    return caught.value


def test_the_resources_own_secret_comes_first() -> None:
    identity = resolve("team-a-azure", credentials())
    assert (identity.source, identity.tenant_id, identity.client_id) == ("Resource", TENANT, CLIENT)
    assert identity.credential is not None
    assert identity.credential.kind == "secret"
    assert identity.version == ("uid-1", "41")
    assert identity.principal == f"{TENANT}/{CLIENT}"


def test_the_namespace_secret_is_used_when_the_spec_names_none() -> None:
    identity = resolve(None, credentials(NAMESPACE_SECRET))
    assert identity.source == "Namespace"
    assert identity.secret_name == NAMESPACE_SECRET


def test_the_operator_identity_is_the_last_resort_where_allowed() -> None:
    identity = resolve(None, None, Allowlist.parse("team-a, team-b"))
    assert identity == Identity("Operator", "op-tenant", "op-client")
    assert identity.principal == "operator"
    assert identity.to_status() == {"source": "Operator", "tenantId": "op-tenant", "clientId": "op-client"}


@pytest.mark.parametrize("setting", ["", "team-b", " , "])
def test_the_operator_identity_is_refused_outside_the_allowlist(setting: str) -> None:
    error = refusal(None, None, Allowlist.parse(setting))
    assert error.reason is reasons.OPERATOR_IDENTITY_NOT_ALLOWED
    assert "team-a" in str(error)
    assert "--operator-identity-namespaces" in str(error)


def test_a_star_among_names_allows_every_namespace() -> None:
    assert Allowlist.parse("team-b,*").allows("anything")
    assert str(Allowlist.parse("")) == ""


def test_a_named_secret_that_is_missing_is_refused_not_replaced_by_another_identity() -> None:
    error = refusal("team-a-azure", None)
    assert error.reason is reasons.AZURE_CREDENTIALS_NOT_FOUND
    assert "'team-a-azure' not found in namespace 'team-a'" in str(error)


@pytest.mark.parametrize(
    ("data", "missing"),
    [
        ({"AZURE_TENANT_ID": ""}, "AZURE_TENANT_ID"),
        ({"AZURE_CLIENT_ID": ""}, "AZURE_CLIENT_ID"),
        ({"AZURE_CLIENT_SECRET": ""}, "one of AZURE_CLIENT_SECRET, AZURE_CLIENT_CERTIFICATE"),
        ({"AZURE_CLIENT_SECRET": "", "AZURE_USE_WORKLOAD_IDENTITY": "false"}, "AZURE_USE_WORKLOAD_IDENTITY"),
    ],
)
def test_an_incomplete_secret_is_refused_naming_what_it_lacks(data: dict[str, str], missing: str) -> None:
    for requested, secret in (("team-a-azure", "team-a-azure"), (None, NAMESPACE_SECRET)):
        error = refusal(requested, credentials(secret, data=data))
        assert error.reason is reasons.AZURE_CREDENTIALS_NOT_FOUND
        assert missing in str(error)
        assert CANARY not in str(error)


def test_certificate_and_workload_identity() -> None:
    pem = "-----BEGIN CERTIFICATE-----\nMII...\n-----END CERTIFICATE-----"
    cert = resolve("x", credentials(data={"AZURE_CLIENT_SECRET": "", "AZURE_CLIENT_CERTIFICATE": pem}))
    assert cert.credential is not None
    assert (cert.credential.kind, cert.credential.material) == ("certificate", pem)
    workload = resolve(
        "x", credentials(data={"AZURE_CLIENT_SECRET": "", "AZURE_USE_WORKLOAD_IDENTITY": "True"})
    )
    assert workload.credential is not None
    assert workload.credential.kind == "workload"


def test_a_client_secret_wins_over_a_certificate_as_in_azure_service_operator() -> None:
    identity = resolve(
        "x", credentials(data={"AZURE_CLIENT_CERTIFICATE": "pem", "AZURE_USE_WORKLOAD_IDENTITY": "true"})
    )
    assert identity.credential is not None
    assert identity.credential.kind == "secret"


def test_no_secret_in_any_repr_or_status() -> None:
    identity = resolve("team-a-azure", credentials())
    assert CANARY not in repr(identity)
    assert CANARY not in str(identity.to_status())
    assert identity.to_status() == {"source": "Resource", "tenantId": TENANT, "clientId": CLIENT}


def test_a_secret_outside_the_selector_may_not_name_an_identity() -> None:
    selector = "wsconn.azureml.dev/usable=true"
    error = refusal("team-a-azure", credentials(), selector=selector)
    assert error.reason is reasons.AZURE_CREDENTIALS_NOT_FOUND
    assert "--secret-selector" in str(error)
    namespace = refusal(None, credentials(NAMESPACE_SECRET), selector=selector)
    assert namespace.reason is reasons.AZURE_CREDENTIALS_NOT_FOUND, "never falls back to the operator's"
    labelled = credentials(labels={"wsconn.azureml.dev/usable": "true"})
    assert resolve("team-a-azure", labelled, selector=selector).source == "Resource"


def test_which_secret_is_read() -> None:
    assert credential_secret(None) == NAMESPACE_SECRET
    assert credential_secret("mine") == "mine"
    assert requested_secret({"azureCredentials": {"secretRef": {"name": "mine"}}}) == "mine"
    for raw in ({}, {"azureCredentials": "x"}, {"azureCredentials": {"secretRef": {"name": 3}}}):
        assert requested_secret(raw) is None


def test_the_credential_version_is_recorded_beside_the_applied_ones() -> None:
    found = credentials()
    assert with_credential_version({"openai": "3"}, "team-a-azure", found) == {
        "openai": "3",
        "team-a-azure": "41",
    }
    assert with_credential_version({"openai": "3", "team-a-azure": "40"}, "team-a-azure", None) == {
        "openai": "3"
    }


def test_the_spec_parses_azure_credentials() -> None:
    raw = {
        "workspace": {"subscriptionId": TENANT, "resourceGroup": "rg", "name": "ws-prod"},
        "authType": "AAD",
        "azureCredentials": {"secretRef": {"name": "team-a-azure"}},
    }
    assert parse_spec(raw, metadata_name="conn", default_api_version="2025-06-01").azure_credentials == (
        "team-a-azure"
    )
    with pytest.raises(InvalidSpecError, match=r"spec.azureCredentials.secretRef.name: Required value"):
        parse_spec(
            {**raw, "azureCredentials": {"secretRef": {}}},
            metadata_name="c",
            default_api_version="2025-06-01",
        )
    with pytest.raises(InvalidSpecError, match=r"spec.azureCredentials.secretRef: Required value"):
        parse_spec({**raw, "azureCredentials": {}}, metadata_name="c", default_api_version="2025-06-01")


@pytest.mark.parametrize(
    ("selector", "labels", "matches"),
    [
        ("a=b", {"a": "b"}, True),
        ("a==b", {"a": "c"}, False),
        ("a!=b", {}, True),
        ("a!=b", {"a": "b"}, False),
        ("a", {"a": ""}, True),
        ("!a", {"a": "x"}, False),
        ("!a", {}, True),
        ("env in (prod, dev),team", {"env": "dev", "team": "a"}, True),
        ("env in (prod,dev),team", {"env": "dev"}, False),
        ("env notin (prod)", {}, True),
        ("env notin (prod)", {"env": "prod"}, False),
        ("wsconn.azureml.dev/usable=true", {"wsconn.azureml.dev/usable": "true"}, True),
        ("a=", {"a": ""}, True),
    ],
)
def test_label_selectors_match_as_kubernetes_does(
    selector: str, labels: dict[str, str], matches: bool
) -> None:
    parsed = parse_selector(selector)
    assert parsed is not None
    assert parsed.matches(labels) is matches


def test_an_empty_selector_is_no_restriction() -> None:
    assert parse_selector("") is None
    assert parse_selector("  ") is None


@pytest.mark.parametrize("text", ["a=b=c", "env in (prod", "env in ()", "=b", "a b", "a,(", "env in (a)b)"])
def test_a_bad_selector_is_refused(text: str) -> None:
    with pytest.raises(SelectorError):
        parse_selector(text)
