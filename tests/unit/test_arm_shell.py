"""Pure parts of the ARM shell: token buckets, error parsing, secret scrubbing, Secret reference discovery."""

from __future__ import annotations

import asyncio
import logging

import pytest

from tests.unit.virtual import run
from wsconn.arm.errors import parse_error, parse_retry_after
from wsconn.arm.throttle import (
    MARGIN,
    BucketSpec,
    Limits,
    OpClass,
    Throttle,
    TokenBucket,
    remaining_tokens,
)
from wsconn.logs import ContextFilter, log_context
from wsconn.reconciler import scrub
from wsconn.watchindex import referenced_secrets


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_bucket_serves_its_burst_without_waiting_then_paces_at_its_rate() -> None:
    clock = Clock()
    bucket = TokenBucket(BucketSpec(capacity=3, rate=2.0), clock)
    assert [bucket.reserve() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.reserve() == pytest.approx(0.5)
    assert bucket.reserve() == pytest.approx(1.0)


def test_bucket_refills_up_to_capacity_only() -> None:
    clock = Clock()
    bucket = TokenBucket(BucketSpec(capacity=2, rate=1.0), clock)
    bucket.reserve()
    bucket.reserve()
    clock.now = 100.0
    assert [bucket.reserve() for _ in range(3)] == [0.0, 0.0, pytest.approx(1.0)]


def test_drain_makes_every_later_reservation_wait_for_retry_after() -> None:
    clock = Clock()
    bucket = TokenBucket(BucketSpec(capacity=200, rate=10.0), clock)
    bucket.drain(6.0)
    assert bucket.reserve() == pytest.approx(6.1)
    clock.now = 6.1
    assert bucket.reserve() == pytest.approx(0.1)


def test_throttle_keeps_buckets_per_subscription_and_class() -> None:
    clock = Clock()
    throttle = Throttle(Limits(write=BucketSpec(1, 1.0), margin=0), clock)
    assert throttle.bucket("SUB", "write") is throttle.bucket("sub", "write")
    assert throttle.bucket("sub", "write") is not throttle.bucket("sub", "read")
    assert throttle.bucket("sub", "write").reserve() == 0.0
    assert throttle.bucket("other", "write").reserve() == 0.0
    assert throttle.bucket("sub", "write").reserve() == pytest.approx(1.0)


async def acquire(throttle: Throttle, subscription: str, op: OpClass) -> float:
    async with throttle.admitted(subscription, op) as admission:
        return admission.waited


def test_admission_sleeps_for_the_reserved_delay() -> None:
    throttle = Throttle(Limits(read=BucketSpec(1, 20.0), margin=0))

    async def twice() -> list[float]:
        return [await acquire(throttle, "s", "read"), await acquire(throttle, "s", "read")]

    waited = run(twice())
    assert waited[0] == 0.0
    assert waited[1] == pytest.approx(0.05)


def test_a_wait_that_spans_a_drain_queues_again_behind_it() -> None:
    throttle = Throttle(Limits(write=BucketSpec(1, 20.0), margin=0))

    async def scenario() -> float:
        throttle.bucket("s", "write").reserve()
        waiting = asyncio.create_task(acquire(throttle, "s", "write"))
        await asyncio.sleep(0.01)
        throttle.bucket("s", "write").drain(0.2)
        return await waiting

    waited = run(scenario())
    assert waited >= 0.2, "a reservation made before the 429 must not fire inside Retry-After"


# ---- following ARM's remaining-tokens headers ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "op", "remaining"),
    [
        ({"x-ms-ratelimit-remaining-subscription-writes": "199"}, "write", 199.0),
        (
            {
                "x-ms-ratelimit-remaining-subscription-reads": "240",
                "x-ms-ratelimit-remaining-subscription-global-reads": "12",
            },
            "read",
            12.0,
        ),
        ({"x-ms-ratelimit-remaining-subscription-global-deletes": "2999"}, "delete", 2999.0),
        ({"x-ms-ratelimit-remaining-subscription-reads": "240"}, "write", None),
        ({"x-ms-ratelimit-remaining-subscription-writes": "lots"}, "write", None),
        ({"x-ms-ratelimit-remaining-subscription-writes": "-3"}, "write", None),
        ({}, "read", None),
    ],
    ids=["principal", "global-lower-wins", "global-only", "other-class", "garbage", "negative", "none"],
)
def test_remaining_tokens_reads_the_binding_header(
    headers: dict[str, str], op: OpClass, remaining: float | None
) -> None:
    assert remaining_tokens(headers, op) == remaining


def test_an_answer_sets_the_level_to_arms_less_the_margin_both_ways() -> None:
    clock = Clock()
    bucket = TokenBucket(BucketSpec(capacity=200, rate=10.0), clock)
    ticket = bucket.send()
    bucket.follow(50, MARGIN, ticket)
    assert bucket.tokens == 45
    bucket.follow(120, MARGIN, ticket)
    assert bucket.tokens == 115, "raised too: ARM refilled, or the other client stopped"
    bucket.follow(1000, MARGIN, ticket)
    assert bucket.tokens == 200, "never above capacity"


def test_an_answer_counts_what_arm_has_not_seen_yet() -> None:
    clock = Clock()
    bucket = TokenBucket(BucketSpec(capacity=200, rate=10.0), clock)
    early, answered_early, ticket, later, answered_later = (bucket.send() for _ in range(5))
    bucket.answered(answered_early)  # counted before ours for sure
    bucket.answered(answered_later)  # answered already, but maybe counted after ours
    bucket.queued = 7  # reservations waiting
    bucket.follow(100, MARGIN, ticket)
    assert (early, later) == (1, 4)
    assert bucket.tokens == 100 - MARGIN - 1 - 2 - 7, "in flight before it, anything sent after it, queued"


def test_during_a_drain_an_answer_may_lower_the_level_but_not_raise_it() -> None:
    clock = Clock()
    bucket = TokenBucket(BucketSpec(capacity=200, rate=10.0), clock)
    ticket = bucket.send()
    bucket.drain(6.0)
    bucket.follow(150, MARGIN, ticket)  # a 200 answered after the 429 must not lift the Retry-After window
    assert bucket.reserve() == pytest.approx(6.1)
    clock.now = 7.0
    bucket.follow(150, MARGIN, ticket)
    assert bucket.reserve() == 0.0, "after the window, ARM's level counts again"


class ArmBucket:
    """ARM's write bucket for one principal and subscription, on the loop's clock: 200 tokens, 10 per second;
    a request finding no token is a 429."""

    def __init__(self) -> None:
        self.tokens, self.stamp, self.throttled = 200.0, asyncio.get_running_loop().time(), 0

    def take(self) -> int | None:
        now = asyncio.get_running_loop().time()
        self.tokens = min(200.0, self.tokens + (now - self.stamp) * 10.0)
        self.stamp = now
        if self.tokens < 1:
            self.throttled += 1
            return None
        self.tokens -= 1
        return int(self.tokens)


def creation_run(size: int, other_rate: float) -> tuple[float, int, int]:
    """`size` writes through the operator's throttle (ARM's sizes, 16 in flight, 100-300 ms latency, ARM
    counting a request half way), while another client of the same principal spends `other_rate` writes
    per second: (seconds until the last answer, our 429s, the other client's 429s)."""
    import random

    rng = random.Random(16)

    async def scenario() -> tuple[float, int, int]:
        arm, other = ArmBucket(), ArmBucket()
        other_throttled = 0
        throttle, slots = Throttle(), asyncio.Semaphore(16)
        ours = 0

        async def write() -> None:
            nonlocal ours
            async with throttle.admitted("s", "write", lambda: slots) as admission:
                latency = rng.uniform(0.1, 0.3)
                await asyncio.sleep(latency / 2)
                remaining = arm.take()
                await asyncio.sleep(latency / 2)
                if remaining is None:
                    ours += 1
                    throttle.bucket("s", "write").drain(1.0)
                else:
                    headers = {"x-ms-ratelimit-remaining-subscription-writes": str(remaining)}
                    admission.follow(headers, "write")

        async def spender() -> None:
            nonlocal other_throttled
            while other_rate:
                await asyncio.sleep(1 / other_rate)
                if arm.take() is None:
                    other_throttled += 1

        del other
        loop = asyncio.get_running_loop()
        start = loop.time()
        background = asyncio.create_task(spender())
        await asyncio.gather(*(write() for _ in range(size)))
        elapsed = loop.time() - start
        background.cancel()
        return elapsed, ours, other_throttled

    return run(scenario())


@pytest.mark.parametrize(
    "other_rate", [0.0, 2.0, 5.0], ids=["alone", "other-client-2-per-s", "other-5-per-s"]
)
def test_a_thousand_writes_reach_arms_floor_without_429s_also_beside_another_client(
    other_rate: float,
) -> None:
    elapsed, ours, others = creation_run(1000, other_rate)
    # ARM's floor for our writes: its 200-token burst, then what its 10/s leaves after the other client.
    floor = 0.3 + (1000 - 200) / (10.0 - other_rate)
    assert ours == 0, "no 429 for the operator"
    assert others == 0, "and the margin leaves the other client its tokens"
    assert elapsed <= 1.05 * floor, f"{elapsed:.1f}s against ARM's floor {floor:.1f}s"


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        (
            b'{"error": {"code": "ParentResourceNotFound", "message": "Parent resource ws not found."}}',
            "ParentResourceNotFound",
            "Parent resource ws not found.",
        ),
        (b'{"code": "BadRequest", "message": "top-level shape"}', "BadRequest", "top-level shape"),
        (b"<html>gateway</html>", "Http502", "<html>gateway</html>"),
        (b"", "Http502", "(no body)"),
    ],
    ids=["nested", "top-level", "not-json", "empty"],
)
def test_parse_error_reads_both_arm_shapes(body: bytes, code: str, message: str) -> None:
    error = parse_error(
        502 if code.startswith("Http") else 400, body, {"x-ms-request-id": "rid-1", "retry-after": "7"}
    )
    assert (error.code, error.message, error.request_id, error.retry_after) == (code, message, "rid-1", 7.0)


def test_parse_error_bounds_the_message() -> None:
    error = parse_error(400, b'{"error": {"code": "X", "message": "' + b"m" * 5000 + b'"}}', {})
    assert len(error.message) == 600
    assert error.message.endswith("...")


@pytest.mark.parametrize(
    ("value", "expected"), [("5", 5.0), ("0", 0.0), ("-3", 0.0), ("soon", None), (None, None)]
)
def test_retry_after_is_delta_seconds(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value) == expected


def test_scrub_removes_every_secret_value_longest_first() -> None:
    text = "bad body: {'key': 'sk-canary-123', 'other': 'sk-canary-123-long'}"
    scrubbed = scrub(text, ["sk-canary-123", "sk-canary-123-long", "ab"])
    assert "sk-canary" not in scrubbed
    assert scrubbed.count("<redacted>") == 2


def test_scrub_leaves_values_too_short_to_be_credentials() -> None:
    assert scrub("status: ok", ["ok"]) == "status: ok"


@pytest.mark.parametrize(
    ("spec", "names"),
    [
        ({"credentials": {"pat": {"secretKeyRef": {"name": "a", "key": "k"}}}}, {"a"}),
        ({"credentials": {"keys": {"secretRef": {"name": "custom"}}}}, {"custom"}),
        (
            {
                "credentials": {
                    "clientId": {"value": "x"},
                    "clientSecret": {"secretKeyRef": {"name": "b", "key": "k"}},
                }
            },
            {"b"},
        ),
        ({"credentials": "garbage"}, set()),
        ({"credentials": {"pat": {"secretKeyRef": {"name": 7}}}}, set()),
        ({}, set()),
        ({"azureCredentials": {"secretRef": {"name": "team-a-azure"}}}, {"team-a-azure"}),
        ({"azureCredentials": {"secretRef": "garbage"}}, set()),
    ],
    ids=[
        "secretKeyRef",
        "custom-keys",
        "mixed",
        "not-an-object",
        "bad-name",
        "none",
        "azure-credentials",
        "bad-azure-credentials",
    ],
)
def test_referenced_secrets_reads_any_spec_leniently(spec: dict[str, object], names: set[str]) -> None:
    """The credentials' Secrets, and the identity's: the one spec.azureCredentials names, else the
    namespace's wsconn-azure-credentials (its appearance changes the identity too)."""
    identity = names & {"team-a-azure"} or {"wsconn-azure-credentials"}
    assert referenced_secrets(spec) == (names - {"team-a-azure"}) | identity


def test_log_context_reaches_records_of_code_that_knows_no_object() -> None:
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep()
    handler.addFilter(ContextFilter())
    logger = logging.getLogger("wsconn.test.context")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        with log_context(resource="ns/conn", correlation_id="c-1"):
            logger.info("inside")
            logger.info("own id wins", extra={"correlation_id": "c-2"})
        logger.info("outside")
    finally:
        logger.removeHandler(handler)
    inside, own, outside = records
    assert (inside.resource, inside.correlation_id) == ("ns/conn", "c-1")  # type: ignore[attr-defined]
    assert own.correlation_id == "c-2"  # type: ignore[attr-defined]
    assert not hasattr(outside, "resource")
