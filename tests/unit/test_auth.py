"""arm/auth.py: bearer tokens from an azure-identity-shaped async credential (a fake one, counting calls),
through a real httpx.AsyncClient over a local transport, with a fake wall clock for expiry."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import httpx
import pytest
from azure.core.exceptions import ClientAuthenticationError

from tests.unit.virtual import run
from wsconn.arm.auth import REFRESH_MARGIN, BearerTokenAuth
from wsconn.arm.errors import ArmCredentialError
from wsconn.core.classify import TokenRefused

SCOPE = "https://management.example/.default"


@dataclass
class AccessToken:
    token: str
    expires_on: int


@dataclass
class Credential:
    """Hands out token-1, token-2, ... each valid for an hour from the clock; or raises `error`."""

    clock: list[float]
    error: Exception | None = None
    scopes: list[str] = field(default_factory=list)
    delay: float = 0.0

    async def get_token(self, scope: str) -> AccessToken:
        self.scopes.append(scope)
        await asyncio.sleep(self.delay)
        if self.error is not None:
            raise self.error
        return AccessToken(f"token-{len(self.scopes)}", int(self.clock[0]) + 3600)


def setup() -> tuple[list[float], Credential, BearerTokenAuth]:
    clock = [1_000_000.0]
    credential = Credential(clock)
    return clock, credential, BearerTokenAuth(credential, SCOPE, clock=lambda: clock[0])


def test_a_token_is_fetched_once_and_reused_until_shortly_before_expiry() -> None:
    clock, credential, auth = setup()

    async def scenario() -> list[str]:
        first = await auth.token()
        clock[0] += 3600 - REFRESH_MARGIN - 1
        second = await auth.token()
        clock[0] += 2
        third = await auth.token()
        return [first, second, third]

    assert run(scenario()) == ["token-1", "token-1", "token-2"]
    assert credential.scopes == [SCOPE, SCOPE]


def test_a_burst_of_requests_costs_one_token_request() -> None:
    _, credential, auth = setup()
    credential.delay = 1.0

    async def scenario() -> set[str]:
        return set(await asyncio.gather(*(auth.token() for _ in range(100))))

    assert run(scenario()) == {"token-1"}
    assert len(credential.scopes) == 1


def test_entras_refusal_becomes_a_credential_error_on_one_line() -> None:
    _, credential, auth = setup()
    credential.error = ClientAuthenticationError(
        "ClientSecretCredential.get_token failed:\n  AADSTS7000215: Invalid client secret provided.\n  Trace ID: x"
    )

    async def scenario() -> None:
        await auth.token()

    with pytest.raises(ArmCredentialError) as failed:
        run(scenario())
    assert str(failed.value) == (
        "ClientSecretCredential.get_token failed: AADSTS7000215: Invalid client secret provided. Trace ID: x"
    )
    assert failed.value.fault == TokenRefused(str(failed.value))


def requests_through(auth: BearerTokenAuth, answers: list[httpx.Response]) -> list[str]:
    """Send one GET through `auth`; return the Authorization header of each request ARM saw."""
    seen: list[str] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Authorization"])
        return answers.pop(0)

    async def scenario() -> None:
        async with httpx.AsyncClient(auth=auth, transport=httpx.MockTransport(handler)) as http:
            await http.get("https://arm.example/x")

    run(scenario())
    return seen


def test_a_401_for_an_expired_token_is_retried_once_with_a_fresh_token() -> None:
    _, _, auth = setup()
    expired = httpx.Response(
        401,
        headers={
            "WWW-Authenticate": 'Bearer error="invalid_token", error_description="The token has expired"'
        },
    )
    assert requests_through(auth, [expired, httpx.Response(200)]) == ["Bearer token-1", "Bearer token-2"]


def test_another_401_is_not_retried() -> None:
    _, _, auth = setup()
    refused = httpx.Response(401, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    assert requests_through(auth, [refused]) == ["Bearer token-1"]
