"""Kopf's index gate at a cost linear in the number of objects.

With a `kopf.index`, Kopf holds back every handler after a start until every listed object is indexed: its
watcher makes one toggle per listed object in one `ToggleSet(all)`, the object's worker drops it once indexed,
and each worker then waits until the set is on. Kopf's `ToggleSet` answers `is_on()` with `all()` over every
toggle, and every toggle made or dropped wakes every waiter, which asks `is_on()` again. A restart at N objects
therefore costs about N waiters x 2N wake-ups x N toggles: measured (issue 16, py-spy), a restart at N = 10,000
spent 400 s settling, ~80% of it in `Condition.notify_all`; at N = 1,000, 16.4 s (6.9 s before the indexes).

`CountedToggleSet` keeps the number of toggles that are on, so `is_on()` is O(1), and wakes the waiters only
when the set's own state flips, which is all they wait for. Kopf's two sets (`all` for indexing, `any` for
pausing) are built as `aiotoggles.ToggleSet(...)` when the operator runs, so replacing the class in that module
is enough. This and serving.py are the only modules that reach into Kopf's internals (kopf is pinned;
tests/unit/test_indexgate.py fails if the class it replaces changes).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable

from kopf._cogs.aiokits import aiotoggles

_KOPF_TOGGLE_SET = aiotoggles.ToggleSet


class CountedToggle(aiotoggles.Toggle):
    """A toggle of a `CountedToggleSet`, which keeps its set's count right when it is turned."""

    def __init__(
        self, state: bool, *, name: str | None, condition: asyncio.Condition, owner: CountedToggleSet
    ) -> None:
        super().__init__(state, name=name, condition=condition)
        self._owner = owner

    async def turn_to(self, __state: bool) -> None:
        """Turn the toggle on/off and wake the tasks waiting for it (and for its set, as Kopf's does)."""
        async with self._condition:
            self._owner._turned(self, bool(__state))
            self._state = bool(__state)
            self._condition.notify_all()


class CountedToggleSet(_KOPF_TOGGLE_SET):
    """Kopf's `ToggleSet` for `all` and `any`, with its state kept as a count of the toggles that are on."""

    def __init__(self, fn: Callable[[Iterable[bool]], bool]) -> None:
        if fn is not all and fn is not any:
            raise ValueError(f"a counted toggle set is `all` or `any`, not {fn!r}")
        super().__init__(fn)
        self._on = 0

    def is_on(self) -> bool:
        """On when every toggle is on (`all`; also when there are none), or when one is (`any`)."""
        if self._fn is all:
            return self._on == len(self._toggles)
        return self._on > 0

    async def make_toggle(self, __val: bool = False, *, name: str | None = None) -> aiotoggles.Toggle:
        """A new toggle in the set."""
        toggle = CountedToggle(bool(__val), name=name, condition=self._condition, owner=self)
        async with self._condition:
            was = self.is_on()
            self._toggles.add(toggle)
            self._on += toggle.is_on()
            self._notify_if_flipped(was)
        return toggle

    async def drop_toggle(self, toggle: aiotoggles.Toggle) -> None:
        """The toggle out of the set (none when it is not in it)."""
        await self.drop_toggles([toggle])

    async def drop_toggles(self, toggles: Iterable[aiotoggles.Toggle]) -> None:
        """The toggles out of the set (those in it)."""
        async with self._condition:
            was = self.is_on()
            for toggle in toggles:
                if toggle in self._toggles:
                    self._toggles.discard(toggle)
                    self._on -= toggle.is_on()
            self._notify_if_flipped(was)

    def _turned(self, toggle: CountedToggle, state: bool) -> None:
        if toggle in self._toggles and toggle.is_on() != state:
            self._on += 1 if state else -1

    def _notify_if_flipped(self, was: bool) -> None:
        if self.is_on() != was:
            self._condition.notify_all()


def install() -> None:
    """Make Kopf build its toggle sets as `CountedToggleSet` (idempotent)."""
    aiotoggles.ToggleSet = CountedToggleSet  # type: ignore[misc]
