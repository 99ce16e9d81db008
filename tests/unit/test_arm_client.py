"""The ARM client's throttling against ARM's answers: a real httpx.AsyncClient whose transport is a local
function playing ARM (httpx.MockTransport), real token buckets and real time (Retry-After of 1 s)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Coroutine

import httpx
import pytest

from wsconn.arm.client import ArmClient, RetryPolicy
from wsconn.arm.errors import ArmError
from wsconn.arm.throttle import Throttle

WORKSPACE = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws"
BODY = {"properties": {"authType": "None", "category": "Git", "target": "https://example.com"}}
RETRY_AFTER = 1.0

Handler = Callable[[httpx.Request], Coroutine[None, None, httpx.Response]]


class NoAuth(httpx.Auth):
    """ARM's bearer token is not what is under test."""


def throttled() -> httpx.Response:
    error = {"error": {"code": "SubscriptionRequestsThrottled", "message": "too many writes"}}
    return httpx.Response(429, headers={"Retry-After": f"{RETRY_AFTER:g}"}, content=json.dumps(error))


def ok(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"id": request.url.path, "properties": BODY["properties"]})


def client(handler: Handler, *, attempts: int, concurrency: int = 4) -> ArmClient:
    return ArmClient(
        endpoint="https://arm.example",
        auth=NoAuth(),
        throttle=Throttle(),
        concurrency=concurrency,
        retry=RetryPolicy(attempts=attempts),
        transport=httpx.MockTransport(handler),
    )


async def put(arm: ArmClient, name: str) -> None:
    await arm.put(f"{WORKSPACE}/connections/{name}", "2025-06-01", BODY, correlation_id="c")


def test_a_429_on_the_last_attempt_still_backs_off_every_other_request() -> None:
    arrivals: dict[str, float] = {}

    async def handler(request: httpx.Request) -> httpx.Response:
        name = request.url.path.rsplit("/", 1)[-1]
        arrivals[name] = time.monotonic()
        return throttled() if name == "first" else ok(request)

    async def scenario() -> float:
        arm = client(handler, attempts=1)
        try:
            with pytest.raises(ArmError) as refused:
                await put(arm, "first")
            answered = time.monotonic()
            assert refused.value.status == 429
            await put(arm, "second")
        finally:
            await arm.aclose()
        return arrivals["second"] - answered

    assert asyncio.run(scenario()) >= RETRY_AFTER


def test_a_request_waiting_for_a_connection_slot_during_a_429_takes_a_new_token() -> None:
    arrivals: dict[str, float] = {}
    second_queued = asyncio.Event()

    async def handler(request: httpx.Request) -> httpx.Response:
        name = request.url.path.rsplit("/", 1)[-1]
        arrivals[name] = time.monotonic()
        if name == "first":
            await second_queued.wait()
            return throttled()
        return ok(request)

    async def scenario() -> float:
        arm = client(handler, attempts=1, concurrency=1)
        try:
            first = asyncio.create_task(put(arm, "first"))
            await asyncio.sleep(0.05)
            second = asyncio.create_task(put(arm, "second"))
            await asyncio.sleep(0.05)  # "second" holds its token and waits for the only slot
            assert "second" not in arrivals
            second_queued.set()
            with pytest.raises(ArmError):
                await first
            answered = time.monotonic()
            await second
        finally:
            await arm.aclose()
        return arrivals["second"] - answered

    assert asyncio.run(scenario()) >= RETRY_AFTER


def test_a_retried_429_waits_retry_after_then_succeeds() -> None:
    arrivals: list[float] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        arrivals.append(time.monotonic())
        return throttled() if len(arrivals) == 1 else ok(request)

    async def scenario() -> None:
        arm = client(handler, attempts=3)
        try:
            await put(arm, "only")
        finally:
            await arm.aclose()

    asyncio.run(scenario())
    assert len(arrivals) == 2
    assert arrivals[1] - arrivals[0] >= RETRY_AFTER
