"""The ARM client against a misbehaving ARM: a real httpx.AsyncClient whose transport is a local function
playing ARM (httpx.MockTransport), real token buckets and slots, on virtual time (looptime): Retry-After,
latency and trickled bodies take virtual seconds, so nothing here waits real ones."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import httpx
import pytest

from tests.unit.virtual import run
from wsconn.arm.client import ArmClient, RetryPolicy
from wsconn.arm.errors import ArmError, ArmFailure
from wsconn.arm.throttle import Throttle

SUB_A = "00000000-0000-0000-0000-00000000000a"
SUB_B = "00000000-0000-0000-0000-00000000000b"
WORKSPACE = (
    f"/subscriptions/{SUB_A}/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws"
)
BODY = {"properties": {"authType": "None", "category": "Git", "target": "https://example.com"}}
RETRY_AFTER = 7.0
MIB = 1024 * 1024

Handler = Callable[[httpx.Request], Coroutine[None, None, httpx.Response]]


class NoAuth(httpx.Auth):
    """ARM's bearer token is not what is under test."""


def throttled() -> httpx.Response:
    error = {"error": {"code": "SubscriptionRequestsThrottled", "message": "too many writes"}}
    return httpx.Response(429, headers={"Retry-After": f"{RETRY_AFTER:g}"}, content=json.dumps(error))


def ok(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"id": request.url.path, "properties": BODY["properties"]})


def client(
    handler: Handler,
    *,
    attempts: int = 3,
    concurrency: int = 4,
    timeout: float = 10.0,
    observed: list[tuple[str, int]] | None = None,
) -> ArmClient:
    return ArmClient(
        endpoint="https://arm.example",
        auth=NoAuth(),
        throttle=Throttle(),
        concurrency=concurrency,
        timeout=timeout,
        retry=RetryPolicy(attempts=attempts),
        transport=httpx.MockTransport(handler),
        observer=(lambda method, status, _: observed.append((method, status)))
        if observed is not None
        else None,
    )


async def put(arm: ArmClient, name: str, workspace: str = WORKSPACE) -> dict[str, Any]:
    return await arm.put(f"{workspace}/connections/{name}", "2025-06-01", BODY, correlation_id="c")


def now() -> float:
    return asyncio.get_running_loop().time()


def failure_of(handler: Handler, **settings: Any) -> tuple[Exception | None, float]:
    """The ArmFailure one PUT ends in (None when it succeeds), and the virtual seconds it took."""

    async def scenario() -> tuple[Exception | None, float]:
        arm = client(handler, **settings)
        started = now()
        try:
            await put(arm, "faulty")
        except ArmFailure as exc:
            return exc, now() - started
        finally:
            await arm.aclose()
        return None, now() - started

    return run(scenario())


# ---- throttling --------------------------------------------------------------------------------------------


def test_a_429_on_the_last_attempt_still_backs_off_every_other_request() -> None:
    arrivals: dict[str, float] = {}

    async def handler(request: httpx.Request) -> httpx.Response:
        name = request.url.path.rsplit("/", 1)[-1]
        arrivals[name] = now()
        return throttled() if name == "first" else ok(request)

    async def scenario() -> float:
        arm = client(handler, attempts=1)
        try:
            with pytest.raises(ArmError) as refused:
                await put(arm, "first")
            answered = now()
            assert refused.value.status == 429
            await put(arm, "second")
        finally:
            await arm.aclose()
        return arrivals["second"] - answered

    assert run(scenario()) >= RETRY_AFTER


def test_a_request_waiting_for_a_connection_slot_during_a_429_takes_a_new_token() -> None:
    arrivals: dict[str, float] = {}
    second_queued = asyncio.Event()

    async def handler(request: httpx.Request) -> httpx.Response:
        name = request.url.path.rsplit("/", 1)[-1]
        arrivals[name] = now()
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
            answered = now()
            await second
        finally:
            await arm.aclose()
        return arrivals["second"] - answered

    assert run(scenario()) >= RETRY_AFTER


def test_a_retried_429_waits_retry_after_then_succeeds() -> None:
    arrivals: list[float] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        arrivals.append(now())
        return throttled() if len(arrivals) == 1 else ok(request)

    async def scenario() -> None:
        arm = client(handler)
        try:
            await put(arm, "only")
        finally:
            await arm.aclose()

    run(scenario())
    assert len(arrivals) == 2
    assert arrivals[1] - arrivals[0] >= RETRY_AFTER


# ---- deadlines and answers that cannot be used --------------------------------------------------------------


async def trickle(seconds: float, count: int) -> AsyncIterator[bytes]:
    yield b'{"properties": {'
    for _ in range(count):
        await asyncio.sleep(seconds)
        yield b" "
    yield b"}}"


def test_an_answer_trickled_past_the_deadline_ends_the_call_at_the_deadline() -> None:
    sent: list[float] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        sent.append(now())
        return httpx.Response(200, content=trickle(3.0, 50))  # a byte every 3 s: no idle timeout fires

    failure, took = failure_of(handler, timeout=10.0)
    assert failure is not None, f"the trickled answer was accepted after {took:g}s"
    assert "10s deadline per request (--arm-timeout)" in str(failure)
    assert took == pytest.approx(10.0, abs=0.1)
    assert len(sent) == 1, "a deadline is not retried in the call: it was spent already"


def test_an_answer_under_the_deadline_is_accepted() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=trickle(1.0, 5))

    async def scenario() -> dict[str, Any]:
        arm = client(handler, timeout=10.0)
        try:
            return await put(arm, "fine")
        finally:
            await arm.aclose()

    assert run(scenario()) == {"properties": {}}


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_a_huge_answer_is_dropped_after_the_cap_not_read_into_memory(declared: bool) -> None:
    produced = [0]

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(64):
            produced[0] += MIB
            yield b"x" * MIB

    async def handler(request: httpx.Request) -> httpx.Response:
        headers = {"Content-Length": str(64 * MIB)} if declared else {}
        return httpx.Response(200, headers=headers, content=chunks())

    failure, _ = failure_of(handler)
    assert failure is not None
    assert "larger than the 4 MiB cap" in str(failure)
    size = f"{64 * MIB} bytes declared" if declared else f"over {4 * MIB} bytes"
    assert f"(no content type, {size}, x-ms-request-id -)" in str(failure)
    assert produced[0] <= 5 * MIB


@pytest.mark.parametrize(
    ("status", "content", "content_type", "what"),
    [
        (200, b"{not json", "application/json", "not JSON"),
        (200, b"<html><body>proxy login: sk-canary-value</body></html>", "text/html", "not JSON"),
        (200, b'["a", "list"]', "application/json", "a JSON list, not an object"),
        (201, b'"text"', "application/json", "a JSON str, not an object"),
    ],
    ids=["broken-json", "proxy-page", "list", "string"],
)
def test_a_2xx_that_is_not_a_json_object_is_refused_without_quoting_it(
    status: int, content: bytes, content_type: str, what: str
) -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            status, headers={"Content-Type": content_type, "x-ms-request-id": "rid-9"}, content=content
        )

    failure, _ = failure_of(handler)
    assert failure is not None
    message = str(failure)
    assert what in message
    assert f"{status} to PUT ({content_type}, {len(content)} bytes, x-ms-request-id rid-9)" in message
    assert content.decode() not in message
    assert "sk-canary" not in message


def test_an_empty_2xx_is_an_empty_answer() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200)

    async def scenario() -> dict[str, Any]:
        arm = client(handler)
        try:
            return await put(arm, "empty")
        finally:
            await arm.aclose()

    assert run(scenario()) == {}


def test_an_error_body_is_capped_too() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, content=b"e" * (5 * MIB))

    assert "larger than the 4 MiB cap" in str(failure_of(handler)[0])


def test_every_answer_is_observed_once_with_its_status() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/slow"):
            return httpx.Response(200, content=trickle(3.0, 10))
        return ok(request)

    observed: list[tuple[str, int]] = []

    async def scenario() -> None:
        arm = client(handler, timeout=10.0, observed=observed)
        try:
            await put(arm, "fast")
            with pytest.raises(ArmFailure):
                await put(arm, "slow")
        finally:
            await arm.aclose()

    run(scenario())
    assert observed == [("PUT", 200), ("PUT", 0)], "an answer cut by the deadline is no answer"


# ---- fairness ----------------------------------------------------------------------------------------------


def test_a_slow_workspace_cannot_take_the_slots_another_subscription_needs() -> None:
    other = WORKSPACE.replace(SUB_A, SUB_B)

    async def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith(WORKSPACE):
            await asyncio.sleep(60)
        return ok(request)

    async def scenario() -> float:
        arm = client(handler, concurrency=4, timeout=120.0)
        try:
            slow = [asyncio.create_task(put(arm, f"slow-{i}")) for i in range(8)]
            await asyncio.sleep(1)
            started = now()
            await put(arm, "healthy", workspace=other)
            waited = now() - started
            await asyncio.gather(*slow)
        finally:
            await arm.aclose()
        return waited

    assert run(scenario()) < 1.0
