"""arm/slots.py: the global bound, the per-subscription and per-workspace caps, freed slots handed out in turn,
and cancellation, on virtual time."""

from __future__ import annotations

import asyncio

import pytest

from tests.unit.virtual import run
from wsconn.arm.slots import FairSlots

A1, A2, B1 = ("a", "a/1"), ("a", "a/2"), ("b", "b/1")


@pytest.mark.parametrize(
    ("total", "caps"), [(1, (1, 1)), (2, (2, 1)), (4, (3, 2)), (16, (12, 8)), (50, (38, 25))]
)
def test_caps_leave_a_quarter_to_other_subscriptions_and_half_to_other_workspaces(
    total: int, caps: tuple[int, int]
) -> None:
    assert FairSlots(total).caps == caps


def test_a_workspace_and_a_subscription_are_held_to_their_caps() -> None:
    async def scenario() -> tuple[int, int, int]:
        slots = FairSlots(16)
        waiters = [asyncio.create_task(slots.acquire(key)) for key in (A1, A2, B1) for _ in range(10)]
        await asyncio.sleep(1)
        for waiter in waiters:
            waiter.cancel()
        return slots.held_by(A1), slots.held_by(("a",)), slots.held

    a1, a, held = run(scenario())
    assert a1 == 8
    assert a == 12
    assert held == 16, "the other subscription takes what is left"


def test_a_freed_slot_goes_to_the_next_key_in_turn() -> None:
    order: list[str] = []

    async def scenario() -> None:
        slots = FairSlots(1)
        await slots.acquire(A1)

        async def wait(key: tuple[str, str], label: str) -> None:
            await slots.acquire(key)
            order.append(label)
            await asyncio.sleep(1)
            slots.release(key)

        tasks = [asyncio.create_task(wait(A1, f"a1-{i}")) for i in range(3)]
        tasks.append(asyncio.create_task(wait(B1, "b1")))
        await asyncio.sleep(0)
        slots.release(A1)
        await asyncio.gather(*tasks)

    run(scenario())
    assert order == ["a1-0", "b1", "a1-1", "a1-2"], "b1 did not wait behind every queued a1"


def test_a_cancelled_waiter_gives_up_its_place() -> None:
    async def scenario() -> tuple[int, int]:
        slots = FairSlots(1)
        await slots.acquire(A1)
        waiter = asyncio.create_task(slots.acquire(B1))
        await asyncio.sleep(0)
        waiter.cancel()
        await asyncio.gather(waiter, return_exceptions=True)
        slots.release(A1)
        later = asyncio.create_task(slots.acquire(A2))
        await later
        return slots.held, slots.held_by(("b",))

    assert run(scenario()) == (1, 0)


def test_a_waiter_cancelled_right_after_its_grant_hands_the_slot_on() -> None:
    async def scenario() -> tuple[int, int]:
        slots = FairSlots(1)
        await slots.acquire(A1)
        granted = asyncio.create_task(slots.acquire(B1))
        behind = asyncio.create_task(slots.acquire(A2))
        await asyncio.sleep(0)
        slots.release(A1)  # grants B1's waiter, which has not run yet
        granted.cancel()
        await asyncio.gather(granted, return_exceptions=True)
        await behind
        return slots.held_by(("b",)), slots.held_by(("a",))

    assert run(scenario()) == (0, 1)


def test_the_slot_context_releases_on_error() -> None:
    async def scenario() -> int:
        slots = FairSlots(2)
        with pytest.raises(RuntimeError):
            async with slots.slot(A1):
                raise RuntimeError
        return slots.held

    assert run(scenario()) == 0


def test_a_total_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        FairSlots(0)
