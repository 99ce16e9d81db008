"""indexgate.py: Kopf's toggle sets answer as Kopf's own do, but wake their waiters only when they flip.

The reference is Kopf's own `ToggleSet`, run through the same operations, so a Kopf upgrade that changes what a
set means fails here (kopf is pinned in pyproject.toml)."""

from __future__ import annotations

import asyncio
import inspect
import random
from collections.abc import Callable, Iterable

import pytest
from kopf._cogs.aiokits import aiotoggles
from kopf._core.reactor import orchestration, running

from tests.unit.virtual import run
from wsconn import indexgate
from wsconn.indexgate import CountedToggleSet

KopfToggleSet = indexgate._KOPF_TOGGLE_SET


@pytest.mark.parametrize("fn", [all, any])
def test_a_counted_set_is_on_exactly_when_kopfs_set_is(fn: Callable[[Iterable[bool]], bool]) -> None:
    async def scenario() -> None:
        rng = random.Random(16)
        ours, theirs = CountedToggleSet(fn), KopfToggleSet(fn)
        pairs: list[tuple[aiotoggles.Toggle, aiotoggles.Toggle]] = []
        dropped: list[tuple[aiotoggles.Toggle, aiotoggles.Toggle]] = []
        for _ in range(3000):
            op = rng.choice(["make", "make", "drop", "turn", "turn", "turn_dropped", "drop_many"])
            if op == "make":
                state = rng.random() < 0.5
                pairs.append((await ours.make_toggle(state), await theirs.make_toggle(state)))
            elif op == "drop" and pairs:
                pair = pairs.pop(rng.randrange(len(pairs)))
                await ours.drop_toggle(pair[0])
                await theirs.drop_toggle(pair[1])
                await ours.drop_toggle(pair[0])  # dropped twice: no change
                dropped.append(pair)
            elif op == "drop_many" and pairs:
                chosen = rng.sample(pairs, min(len(pairs), rng.randint(1, 4)))
                await ours.drop_toggles([p[0] for p in chosen])
                await theirs.drop_toggles([p[1] for p in chosen])
                pairs = [p for p in pairs if p not in chosen]
                dropped.extend(chosen)
            elif op == "turn" and pairs:
                state = rng.random() < 0.5
                pair = rng.choice(pairs)
                await pair[0].turn_to(state)
                await pair[1].turn_to(state)
            elif op == "turn_dropped" and dropped:
                state = rng.random() < 0.5
                pair = rng.choice(dropped)
                await pair[0].turn_to(state)
                await pair[1].turn_to(state)
            assert ours.is_on() == theirs.is_on(), op
            assert ours.is_off() == theirs.is_off()
            assert len(ours) == len(theirs) == len(pairs)

    run(scenario())


def test_an_index_gate_of_many_objects_wakes_its_waiters_only_when_it_opens() -> None:
    async def scenario() -> None:
        gate = CountedToggleSet(all)
        blocker = await gate.make_toggle(name="orchestration blocker")
        toggles = [await gate.make_toggle(name=f"object {i}") for i in range(2000)]
        notified = 0
        original = gate._condition.notify_all

        def counting_notify_all() -> None:
            nonlocal notified
            notified += 1
            original()

        gate._condition.notify_all = counting_notify_all  # type: ignore[method-assign]
        waiters = [asyncio.create_task(gate.wait_for(True)) for _ in range(500)]
        await gate.drop_toggle(blocker)
        for toggle in toggles[:-1]:
            await gate.drop_toggle(toggle)
        await asyncio.sleep(0)
        assert not any(w.done() for w in waiters)
        assert notified == 0
        await gate.drop_toggle(toggles[-1])
        await asyncio.wait_for(asyncio.gather(*waiters), timeout=1)
        assert notified == 1
        assert gate.is_on()

    run(scenario())


def test_turning_a_toggle_wakes_the_tasks_waiting_for_it_and_for_its_set() -> None:
    async def scenario() -> None:
        paused = CountedToggleSet(any)
        conflict = await paused.make_toggle(False, name="peering conflict")
        for_set = asyncio.create_task(paused.wait_for(True))
        for_toggle = asyncio.create_task(conflict.wait_for(True))
        await asyncio.sleep(0)
        assert not for_set.done()
        assert not for_toggle.done()
        await conflict.turn_to(True)
        await asyncio.wait_for(asyncio.gather(for_set, for_toggle), timeout=1)
        assert paused.is_on()

    run(scenario())


def test_only_all_and_any_are_counted() -> None:
    with pytest.raises(ValueError, match="`all` or `any`"):
        CountedToggleSet(lambda states: sum(states) > 1)


def test_kopf_builds_its_sets_through_the_module_attribute_that_install_replaces() -> None:
    # A Kopf that imported the class by name, or built its sets elsewhere, would keep its own gate unseen.
    assert "aiotoggles.ToggleSet(all)" in inspect.getsource(orchestration)
    assert "aiotoggles.ToggleSet(any)" in inspect.getsource(running)
    for method in ("is_on", "make_toggle", "drop_toggle", "drop_toggles", "wait_for"):
        assert method in vars(KopfToggleSet)
    assert set(inspect.signature(KopfToggleSet.__init__).parameters) == {"self", "fn"}
    indexgate.install()
    indexgate.install()
    assert aiotoggles.ToggleSet is CountedToggleSet
    assert isinstance(aiotoggles.ToggleSet(all), KopfToggleSet)
