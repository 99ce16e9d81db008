"""One owner per connection (core/ownership.py): the decision from the claimants the index holds."""

from __future__ import annotations

import pytest

from wsconn.core.ownership import Claimant, connection_key, owner, rival_owner

WS = {"subscriptionId": "SUB-1", "resourceGroup": "RG", "name": "Ws-Prod"}


def claimant(namespace: str, name: str, created: str, *, applied: bool = False) -> Claimant:
    return Claimant(namespace, name, created, applied)


def test_the_key_is_the_workspace_and_connection_name_lower_cased() -> None:
    assert connection_key({"workspace": WS, "connectionName": "Team-OpenAI"}, "x") == (
        "sub-1/rg/ws-prod/team-openai"
    )
    assert connection_key({"workspace": WS}, "From-Metadata") == "sub-1/rg/ws-prod/from-metadata"


@pytest.mark.parametrize(
    "spec",
    [{}, {"workspace": "ws"}, {"workspace": {**WS, "name": ""}}, {"workspace": {**WS, "resourceGroup": 3}}],
)
def test_a_spec_that_names_no_connection_has_no_key(spec: dict[str, object]) -> None:
    assert connection_key(spec, "name") is None


def test_the_one_that_has_it_applied_owns_it_even_if_younger() -> None:
    older = claimant("team-a", "conn", "2026-01-01T00:00:00Z")
    applied = claimant("team-b", "conn", "2026-02-01T00:00:00Z", applied=True)
    assert owner([older, applied]) == applied
    assert rival_owner("team-a", "conn", [older, applied]) == applied
    assert rival_owner("team-b", "conn", [older, applied]) is None


def test_else_the_oldest_then_namespace_and_name() -> None:
    a = claimant("team-b", "conn", "2026-01-01T00:00:00Z")
    b = claimant("team-a", "conn", "2026-01-01T00:00:01Z")
    assert owner([b, a]) == a
    tie = claimant("team-a", "conn", "2026-01-01T00:00:00Z")
    assert owner([a, tie]) == tie, (
        "same second: namespace/name decides, the same on every replica and restart"
    )


def test_of_several_applied_the_oldest() -> None:
    first = claimant("x", "one", "2026-01-01T00:00:00Z", applied=True)
    second = claimant("a", "two", "2026-03-01T00:00:00Z", applied=True)
    assert owner([second, first]) == first


def test_nobody_else_no_rival() -> None:
    assert owner([]) is None
    assert rival_owner("ns", "conn", []) is None
    only = claimant("ns", "conn", "2026-01-01T00:00:00Z")
    assert rival_owner("ns", "conn", [only]) is None
