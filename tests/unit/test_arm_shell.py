"""Pure parts of the ARM shell: token buckets, error parsing, secret scrubbing, Secret reference discovery."""

from __future__ import annotations

import asyncio
import logging

import pytest

from tests.unit.virtual import run
from wsconn.arm.errors import parse_error, parse_retry_after
from wsconn.arm.throttle import BucketSpec, Limits, OpClass, Throttle, TokenBucket
from wsconn.handlers import referenced_secrets
from wsconn.logs import ContextFilter, log_context
from wsconn.reconciler import scrub


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
    throttle = Throttle(Limits(write=BucketSpec(1, 1.0)), clock)
    assert throttle.bucket("SUB", "write") is throttle.bucket("sub", "write")
    assert throttle.bucket("sub", "write") is not throttle.bucket("sub", "read")
    assert throttle.bucket("sub", "write").reserve() == 0.0
    assert throttle.bucket("other", "write").reserve() == 0.0
    assert throttle.bucket("sub", "write").reserve() == pytest.approx(1.0)


async def acquire(throttle: Throttle, subscription: str, op: OpClass) -> float:
    async with throttle.admitted(subscription, op) as waited:
        return waited


def test_admission_sleeps_for_the_reserved_delay() -> None:
    throttle = Throttle(Limits(read=BucketSpec(1, 20.0)))

    async def twice() -> list[float]:
        return [await acquire(throttle, "s", "read"), await acquire(throttle, "s", "read")]

    waited = run(twice())
    assert waited[0] == 0.0
    assert waited[1] == pytest.approx(0.05)


def test_a_wait_that_spans_a_drain_queues_again_behind_it() -> None:
    throttle = Throttle(Limits(write=BucketSpec(1, 20.0)))

    async def scenario() -> float:
        throttle.bucket("s", "write").reserve()
        waiting = asyncio.create_task(acquire(throttle, "s", "write"))
        await asyncio.sleep(0.01)
        throttle.bucket("s", "write").drain(0.2)
        return await waiting

    waited = run(scenario())
    assert waited >= 0.2, "a reservation made before the 429 must not fire inside Retry-After"


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
