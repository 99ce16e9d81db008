"""ARM as several principals (arm/client.py `acting_as`, arm/principals.py): each request is signed by its
principal, a 429 drains only that principal's bucket for the subscription (ARM limits per principal and
subscription), and credentials are built once per credential Secret version. ARM is an httpx.MockTransport;
the credentials are azure-identity's real ones (built, not used: no token is requested here)."""

from __future__ import annotations

import json
from collections.abc import Generator

import httpx
import pytest

from tests.unit.virtual import run
from wsconn.arm.auth import BearerTokenAuth
from wsconn.arm.client import ArmClient, Signer
from wsconn.arm.errors import ArmCredentialError, ArmError
from wsconn.arm.principals import Principals
from wsconn.arm.throttle import Throttle
from wsconn.core.identity import ClientCredential, Identity

SUB = "00000000-0000-0000-0000-00000000000a"
CONNECTION = (
    f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws"
    "/connections/c"
)


class Named(httpx.Auth):
    """Signs with a fixed name instead of a token."""

    def __init__(self, name: str) -> None:
        self.name = name

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self.name}"
        yield request


def test_each_request_is_signed_by_its_principal_and_throttled_in_its_bucket() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Authorization"])
        if request.headers["Authorization"] == "Bearer team-a":
            error = {"error": {"code": "SubscriptionRequestsThrottled", "message": "slow down"}}
            return httpx.Response(429, headers={"Retry-After": "30"}, content=json.dumps(error))
        return httpx.Response(200, json={"id": CONNECTION})

    throttle = Throttle()

    async def scenario() -> None:
        arm = ArmClient(
            endpoint="https://arm.example",
            auth=Named("operator"),
            throttle=throttle,
            transport=httpx.MockTransport(handler),
        )
        team_a = arm.acting_as(Signer("tenant/team-a", Named("team-a")))
        team_b = arm.acting_as(Signer("tenant/team-b", Named("team-b")))
        with pytest.raises(ArmError, match="SubscriptionRequestsThrottled"):
            await team_a.get(CONNECTION, "2025-06-01", correlation_id="c")
        await team_b.get(CONNECTION, "2025-06-01", correlation_id="c")
        await arm.get(CONNECTION, "2025-06-01", correlation_id="c")
        await arm.aclose()

    run(scenario())
    assert seen == ["Bearer team-a", "Bearer team-b", "Bearer operator"], "team-a's 429 is not retried inline"
    assert throttle.bucket(f"tenant/team-a|{SUB}", "read").drains == 1
    assert throttle.bucket(f"tenant/team-b|{SUB}", "read").drains == 0
    assert throttle.bucket(f"operator|{SUB}", "read").drains == 0


def identity(version: str, kind: str = "secret", material: str = "s3cret-value") -> Identity:
    return Identity(
        "Namespace",
        tenant_id="tenant",
        client_id="client",
        secret_name="wsconn-azure-credentials",
        version=("uid-1", version),
        credential=ClientCredential(kind, material),  # type: ignore[arg-type]
    )


def test_credentials_are_cached_per_secret_version() -> None:
    async def scenario() -> None:
        arm = ArmClient(endpoint="https://arm.example", auth=Named("operator"), throttle=Throttle())
        principals = Principals(arm, BearerTokenAuth(object(), "scope"), "scope")
        operator = principals.arm(Identity("Operator", "", ""))
        first = principals.arm(identity("1"))
        assert principals.arm(identity("1")) is first
        rotated = principals.arm(identity("2"))
        assert rotated is not first
        assert rotated is not operator
        assert principals.arm(identity("2")) is rotated
        await principals.aclose()
        await arm.aclose()

    run(scenario())


def test_workload_identity_needs_the_operators_projected_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AZURE_FEDERATED_TOKEN_FILE", raising=False)

    async def scenario() -> None:
        arm = ArmClient(endpoint="https://arm.example", auth=Named("operator"), throttle=Throttle())
        principals = Principals(arm, BearerTokenAuth(object(), "scope"), "scope")
        with pytest.raises(ArmCredentialError, match="AZURE_FEDERATED_TOKEN_FILE"):
            principals.arm(identity("1", "workload", ""))
        with pytest.raises(ArmCredentialError, match="not a PEM certificate"):
            principals.arm(identity("1", "certificate", "not a pem"))
        await arm.aclose()

    run(scenario())
