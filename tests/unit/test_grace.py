"""The missing-Secret grace as pure decisions (core/grace.py); the shell's use of it is in test_reconciler.py,
the operator's in tests/e2e/test_grace.py."""

from __future__ import annotations

import datetime as dt

import pytest

from wsconn.api.status import Condition, Status
from wsconn.core import grace, reasons

T0 = dt.datetime(2026, 6, 1, 10, 0, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("observed", "recorded", "expected"),
    [
        (None, None, T0),  # never observed: seen now
        (1, T0 - dt.timedelta(days=1), T0),  # an older generation observed: this one is new
        (2, T0 - dt.timedelta(seconds=5), T0 - dt.timedelta(seconds=5)),  # this one: the recorded time
        (2, None, None),  # observed before the time was kept: long ago
    ],
)
def test_first_seen(observed: int | None, recorded: dt.datetime | None, expected: dt.datetime | None) -> None:
    assert grace.first_seen(observed_generation=observed, recorded=recorded, generation=2, now=T0) == expected


def test_grace_ends() -> None:
    # Stored times are whole seconds: the grace counts from the end of the second it names.
    assert grace.grace_ends(seen=T0, grace=300) == T0 + dt.timedelta(seconds=301)
    assert grace.grace_ends(seen=T0 + dt.timedelta(seconds=0.9), grace=300) == T0 + dt.timedelta(seconds=301)
    assert grace.grace_ends(seen=T0, grace=0) is None
    assert grace.grace_ends(seen=None, grace=300) is None


def test_missing_secret_within_and_after_the_grace() -> None:
    ends = T0 + dt.timedelta(seconds=3)
    within = grace.missing_secret(reasons.SECRET_NOT_FOUND, "spec.x: gone", ends=ends, now=T0)
    assert (within.state, within.reason) == ("progressing", reasons.SECRET_NOT_FOUND)
    assert within.message == (
        "spec.x: gone; waiting for it until 2026-06-01T10:00:03Z (--missing-secret-grace), then Stalled"
    )
    at_end = grace.missing_secret(reasons.SECRET_KEY_NOT_FOUND, "m", ends=ends, now=ends)
    assert (at_end.state, at_end.message) == ("stalled", "m")
    no_grace = grace.missing_secret(reasons.SECRET_NOT_FOUND, "m", ends=None, now=T0)
    assert no_grace.state == "stalled"


@pytest.mark.parametrize("reason", [reasons.SECRET_VALUE_EMPTY, reasons.SECRET_VALUE_INVALID])
def test_a_wrong_value_is_not_waited_for(reason: reasons.Reason) -> None:
    outcome = grace.missing_secret(reason, "m", ends=T0 + dt.timedelta(hours=1), now=T0)
    assert outcome.state == "stalled"


def _status(kind: str, state: str, reason: str) -> Status:
    return Status(conditions=(Condition(kind, "True" if state == "True" else "False", reason, "m"),))


def test_waiting_is_reconciling_on_a_missing_secret_or_key() -> None:
    assert grace.waiting(_status("Reconciling", "True", "SecretNotFound"))
    assert grace.waiting(_status("Reconciling", "True", "SecretKeyNotFound"))
    assert not grace.waiting(_status("Reconciling", "True", "AzureUnavailable"))
    assert not grace.waiting(_status("Reconciling", "False", "SecretNotFound"))
    assert not grace.waiting(_status("Stalled", "True", "SecretNotFound"))
    assert not grace.waiting(Status())


def test_grace_over() -> None:
    assert grace.grace_over(ends=None, now=T0)
    assert not grace.grace_over(ends=T0 + dt.timedelta(seconds=1), now=T0)
    assert grace.grace_over(ends=T0, now=T0)


@pytest.mark.parametrize(("seconds", "tick"), [(0, None), (3, 1.0), (30, 3.0), (300, 10.0), (3600, 10.0)])
def test_tick(seconds: float, tick: float | None) -> None:
    assert grace.tick(seconds) == tick
