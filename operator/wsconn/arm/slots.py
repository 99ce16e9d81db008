"""Concurrency slots shared fairly: a global bound, a smaller bound per key at each level of a key path, and
freed slots handed to the waiting keys in turn.

A key path names where work goes, from the widest scope down: today (subscription, resource group/workspace);
the principal that signs the requests can join it in front, as ARM's own limits are per principal and
subscription. With a global bound of N, one subscription holds at most three quarters of N and one workspace
at most half (at least one each), so a subscription or workspace whose calls hang leaves at least a quarter
of the slots to the others; and a freed slot goes to the next key in turn, not to whichever key queued the
most. The price is that one busy workspace alone uses half the slots: with the defaults (16 ARM slots, 50
workers) that is 8 ARM requests in flight, about what ARM's 10 writes/s per subscription allows at
ARM's usual latency, and 25 passes.

The ARM client holds one slot per request (its connection pool has as many connections); the reconciler
holds one per pass (`--workers`).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections import Counter, deque
from collections.abc import AsyncIterator, Sequence
from typing import Final

Key = tuple[str, ...]
SHARES: Final = (0.75, 0.5)


class FairSlots:
    """At most `total` holders at once; at level i of a key, at most `total * shares[i]` (at least 1)."""

    def __init__(self, total: int, shares: Sequence[float] = SHARES) -> None:
        if total < 1:
            raise ValueError("total must be at least 1")
        self.total = total
        self.caps = tuple(max(1, math.ceil(total * share)) for share in shares)
        self._held = 0
        self._by_prefix: Counter[Key] = Counter()
        self._waiting: dict[Key, deque[asyncio.Future[None]]] = {}

    @property
    def held(self) -> int:
        """Slots held now."""
        return self._held

    def held_by(self, prefix: Key) -> int:
        """Slots held now by keys starting with `prefix`."""
        return self._by_prefix[prefix]

    @contextlib.asynccontextmanager
    async def slot(self, key: Key) -> AsyncIterator[None]:
        """Hold a slot for `key` for the block."""
        await self.acquire(key)
        try:
            yield
        finally:
            self.release(key)

    async def acquire(self, key: Key) -> None:
        """Wait for a slot for `key` (first come, first served within a key)."""
        if key not in self._waiting and self._fits(key):
            self._take(key)
            return
        granted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, deque()).append(granted)
        try:
            await granted
        except asyncio.CancelledError:
            if granted.done() and not granted.cancelled():
                self.release(key)  # granted while being cancelled: hand it on
            else:
                self._forget(key, granted)
            raise

    def release(self, key: Key) -> None:
        """Give back a slot held for `key`."""
        self._held -= 1
        for prefix in _prefixes(key):
            self._by_prefix[prefix] -= 1
            if not self._by_prefix[prefix]:
                del self._by_prefix[prefix]
        self._hand_on()

    def _fits(self, key: Key) -> bool:
        if self._held >= self.total:
            return False
        return all(self._by_prefix[p] < cap for p, cap in zip(_prefixes(key), self.caps, strict=False))

    def _take(self, key: Key) -> None:
        self._held += 1
        for prefix in _prefixes(key):
            self._by_prefix[prefix] += 1

    def _hand_on(self) -> None:
        """Grant freed slots to waiting keys in turn: one per key per round, skipping keys at their cap."""
        progress = True
        while progress and self._held < self.total:
            progress = False
            for key in list(self._waiting):
                queue = self._waiting[key]
                while queue and queue[0].cancelled():
                    queue.popleft()
                if not queue:
                    del self._waiting[key]
                    continue
                if not self._fits(key):
                    continue
                self._take(key)
                queue.popleft().set_result(None)
                # Served keys go to the back, so the next freed slot goes to another key first.
                del self._waiting[key]
                if queue:
                    self._waiting[key] = queue
                progress = True
                if self._held >= self.total:
                    return

    def _forget(self, key: Key, granted: asyncio.Future[None]) -> None:
        queue = self._waiting.get(key)
        if queue is None:
            return
        with contextlib.suppress(ValueError):
            queue.remove(granted)
        if not queue:
            del self._waiting[key]


def _prefixes(key: Key) -> list[Key]:
    return [key[: i + 1] for i in range(len(key))]
