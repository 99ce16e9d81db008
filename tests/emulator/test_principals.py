"""Several principals, as multi-team clusters need them: each with its own secrets (rotated, revoked),
tenant and ARM scopes; tokens revoked; the request log naming who made each request; ARM's per-principal
buckets beside the subscription's global ones. Tokens come from the emulator's Entra endpoint, through the
real azure-identity where a client library would be used."""

from __future__ import annotations

import uuid

import pytest
from azure.core.exceptions import ClientAuthenticationError

from tests.emulator.support import CONNECTIONS, SUBSCRIPTION, WS_PATH, azure_identity_token, body, code, conn
from wsconn_testbed.emulator.client import EmulatorClient

OTHER_SUBSCRIPTION = "11111111-2222-3333-4444-555555555555"
OTHER_WS = (
    f"/subscriptions/{OTHER_SUBSCRIPTION}/resourceGroups/rg-b/providers/Microsoft.MachineLearningServices"
    "/workspaces/ws-b"
)


def _register(emu: EmulatorClient, **extra: object) -> tuple[str, str, str]:
    """A new app registration: (client id, secret, object id)."""
    client_id = str(uuid.uuid4())
    answer = emu.admin("POST", "clients", {"client_id": client_id, "secret": f"s-{client_id}", **extra})
    return client_id, answer["secret"], answer["object_id"]


def _token(emu: EmulatorClient, client_id: str, secret: str) -> str:
    return emu.client_token(client_id, secret)


def test_a_principal_outside_its_scopes_gets_authorization_failed(emu: EmulatorClient) -> None:
    emu.add_workspace(OTHER_SUBSCRIPTION, "rg-b", "ws-b")
    client_id, secret, object_id = _register(emu, scopes=[f"/subscriptions/{SUBSCRIPTION}"])
    token = _token(emu, client_id, secret)
    assert emu.arm("PUT", conn("team-a"), bearer=token, json=body("None")).status_code == 200
    for method, path, action in (
        ("PUT", f"{OTHER_WS}/connections/team-a", "write"),
        ("GET", f"{OTHER_WS}/connections/team-a", "read"),
        ("DELETE", f"{OTHER_WS}/connections/team-a", "delete"),
        ("POST", f"{OTHER_WS}/connections/team-a/listsecrets", "listsecrets/action"),
        ("GET", f"{OTHER_WS}/connections", "read"),
    ):
        answer = emu.arm(method, path, bearer=token, json=body("None") if method == "PUT" else None)
        assert answer.status_code == 403, (method, path)
        assert code(answer) == "AuthorizationFailed"
        scope = path.removesuffix("/listsecrets")
        assert answer.json()["error"]["message"] == (
            f"The client '{client_id}' with object id '{object_id}' does not have authorization to perform "
            f"action 'Microsoft.MachineLearningServices/workspaces/connections/{action}' over scope '{scope}' "
            "or the scope is invalid. If access was recently granted, please refresh your credentials."
        )
        assert answer.headers["x-ms-failure-cause"] == "gateway"
    assert emu.connections(prefix=OTHER_WS) == []
    emu.admin("PUT", "principals/scopes", {"client_id": client_id, "scopes": ["/"]})
    assert emu.arm("GET", f"{OTHER_WS}/connections", bearer=token).status_code == 200


def test_a_subscription_of_another_tenant_refuses_the_token(emu: EmulatorClient) -> None:
    tenant_b = str(uuid.uuid4())
    emu.add_workspace(OTHER_SUBSCRIPTION, "rg-b", "ws-b", tenant_id=tenant_b)
    client_a, secret_a, _ = _register(emu)
    client_b, secret_b, _ = _register(emu, tenant_id=tenant_b)
    token_a = _token(emu, client_a, secret_a)
    refused = emu.arm("GET", f"{OTHER_WS}/connections", bearer=token_a)
    assert refused.status_code == 401
    assert code(refused) == "InvalidAuthenticationTokenTenant"
    assert f"/{tenant_b}" in refused.headers["WWW-Authenticate"]
    token_b = emu.client_token(client_b, secret_b, tenant=tenant_b)
    assert emu.arm("GET", f"{OTHER_WS}/connections", bearer=token_b).status_code == 200
    assert emu.arm("GET", CONNECTIONS, bearer=token_b).status_code == 401  # and the other way round


def test_rotating_a_client_secret(emu: EmulatorClient) -> None:
    client_id, old, _ = _register(emu)
    new = emu.admin("POST", "clients/secrets", {"client_id": client_id})["secret"]
    assert new != old
    for secret in (old, new):
        assert emu.arm("GET", CONNECTIONS, bearer=_token(emu, client_id, secret)).status_code == 200
    kept = emu.admin("DELETE", "clients/secrets", {"client_id": client_id, "secret": old})
    assert kept["secrets"] == 1
    with pytest.raises(ClientAuthenticationError, match="AADSTS7000215"):
        azure_identity_token(emu.info, client_id, old)
    assert (
        emu.arm("GET", CONNECTIONS, bearer=azure_identity_token(emu.info, client_id, new).token).status_code
        == 200
    )
    assert emu.admin("DELETE", "clients/secrets", {"client_id": client_id})["secrets"] == 0


def test_revoked_tokens_get_401(emu: EmulatorClient) -> None:
    client_id, secret, object_id = _register(emu)
    other_id, other_secret, _ = _register(emu)
    revoked, unaffected = _token(emu, client_id, secret), _token(emu, other_id, other_secret)
    answer = emu.admin("POST", "principals/revoke-tokens", {"client_id": client_id})
    assert (answer["object_id"], answer["revoked"]) == (object_id, 1)
    refused = emu.arm("GET", CONNECTIONS, bearer=revoked)
    assert refused.status_code == 401
    assert code(refused) == "InvalidAuthenticationToken"
    assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]
    assert emu.arm("GET", CONNECTIONS, bearer=unaffected).status_code == 200
    assert (
        emu.arm("GET", CONNECTIONS, bearer=_token(emu, client_id, secret)).status_code == 200
    )  # a new one works


def test_revoking_a_users_tokens(emu: EmulatorClient) -> None:
    emu.admin("POST", "users", {"username": "carol@example.test", "password": "pw"})
    token = emu.user_token("carol@example.test", "pw")
    assert emu.admin("POST", "principals/revoke-tokens", {"username": "carol@example.test"})["revoked"] == 1
    assert emu.arm("GET", CONNECTIONS, bearer=token).status_code == 401


def test_the_request_log_names_the_principal(emu: EmulatorClient) -> None:
    team_a = _register(emu)
    team_b = _register(emu)
    since = emu.last_seq()
    for name, (client_id, secret, _) in (("from-a", team_a), ("from-b", team_b)):
        emu.arm("PUT", conn(name), bearer=_token(emu, client_id, secret), json=body("None"))
    tokens = emu.requests(since=since, kind="entra")
    assert [(e["client_id"], e["object_id"], e["auth"]) for e in tokens] == [
        (team_a[0], team_a[2], "secret"),
        (team_b[0], team_b[2], "secret"),
    ]
    writes = emu.requests(since=since)
    assert [(e["path"], e["client_id"], e["object_id"], e["principal_type"]) for e in writes] == [
        (conn("from-a"), team_a[0], team_a[2], "Application"),
        (conn("from-b"), team_b[0], team_b[2], "Application"),
    ]
    assert {e["tenant_id"] for e in writes} == {emu.info["tenant_id"]}
    [a, b] = emu.connections(prefix=WS_PATH)
    assert (a["systemData"]["createdBy"], b["systemData"]["createdBy"]) == (team_a[0], team_b[0])


def test_arm_buckets_are_per_principal_with_a_global_one(emu: EmulatorClient) -> None:
    emu.admin(
        "PUT",
        "throttle",
        {"writes": {"capacity": 2, "rate": 0.001}, "global": {"writes": {"capacity": 3, "rate": 0.001}}},
    )
    team_a, team_b, team_c = (_register(emu) for _ in range(3))
    token_a, token_b, token_c = (_token(emu, c, s) for c, s, _ in (team_a, team_b, team_c))
    header = "x-ms-ratelimit-remaining-subscription-writes"
    first = [emu.arm("PUT", conn(f"a-{i}"), bearer=token_a, json=body("None")) for i in range(3)]
    assert [a.status_code for a in first] == [200, 200, 429]
    assert [a.headers.get(header) for a in first[:2]] == ["1", "0"]
    assert "write requests" in first[2].json()["error"]["message"]
    b = emu.arm("PUT", conn("b-0"), bearer=token_b, json=body("None"))
    assert (
        b.status_code,
        b.headers[header],
        b.headers["x-ms-ratelimit-remaining-subscription-global-writes"],
    ) == (
        200,
        "1",
        "0",
    )
    c = emu.arm("PUT", conn("c-0"), bearer=token_c, json=body("None"))
    assert c.status_code == 429  # the subscription's global limit, across principals
    assert "global limit" in c.json()["error"]["message"]
