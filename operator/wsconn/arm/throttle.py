"""Client-side token buckets, one set per subscription, so the operator stays under ARM's own limits.

ARM (2024+) gives each principal per subscription: reads 250 burst / 25 per s, writes and deletes 200 / 10
per s (CONNECTIONS.md §10.3). Our defaults keep a margin under those (other clients of the same principal
exist, e.g. the drift reads of a second replica during a rollout). A bucket hands out reservations: each
caller learns how long to wait for its token, so waiting needs no lock and order is first come, first served.
A 429 from ARM drains the bucket for Retry-After, so every worker backs off, not only the one that was told.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Literal

OpClass = Literal["read", "write", "delete"]


def loop_time() -> float:
    """The running event loop's clock (monotonic; virtual under a test's fake-time loop)."""
    return asyncio.get_running_loop().time()


@dataclass(frozen=True)
class BucketSpec:
    """Capacity and refill rate (tokens per second)."""

    capacity: float
    rate: float


@dataclass(frozen=True)
class Limits:
    """Bucket sizes per operation class."""

    read: BucketSpec = BucketSpec(225, 22.5)
    write: BucketSpec = BucketSpec(180, 9.0)
    delete: BucketSpec = BucketSpec(180, 9.0)

    def for_class(self, op: OpClass) -> BucketSpec:
        """The bucket spec of an operation class."""
        return {"read": self.read, "write": self.write, "delete": self.delete}[op]


@dataclass
class TokenBucket:
    """A token bucket that hands out reservations; tokens may go negative (the debt is the queue)."""

    spec: BucketSpec
    clock: Callable[[], float] = field(default_factory=lambda: loop_time)
    tokens: float = field(init=False)
    stamp: float = field(init=False)
    drains: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self.tokens = self.spec.capacity
        self.stamp = self.clock()

    def _refill(self) -> None:
        now = self.clock()
        self.tokens = min(self.spec.capacity, self.tokens + (now - self.stamp) * self.spec.rate)
        self.stamp = now

    def reserve(self) -> float:
        """Take a token; return how many seconds to wait before using it."""
        self._refill()
        self.tokens -= 1
        return max(0.0, -self.tokens / self.spec.rate)

    def drain(self, seconds: float) -> None:
        """ARM said wait `seconds`: make every later reservation wait at least that long."""
        self._refill()
        self.tokens = min(self.tokens, -seconds * self.spec.rate)
        self.drains += 1


@dataclass
class Throttle:
    """Buckets per (subscription, operation class), created on first use."""

    limits: Limits = field(default_factory=Limits)
    clock: Callable[[], float] = field(default_factory=lambda: loop_time)
    _buckets: dict[tuple[str, OpClass], TokenBucket] = field(default_factory=dict)

    def bucket(self, subscription: str, op: OpClass) -> TokenBucket:
        """The bucket for a subscription and operation class."""
        key = (subscription.lower(), op)
        if key not in self._buckets:
            self._buckets[key] = TokenBucket(self.limits.for_class(op), self.clock)
        return self._buckets[key]

    @contextlib.asynccontextmanager
    async def admitted(
        self,
        subscription: str,
        op: OpClass,
        slot: Callable[[], AbstractAsyncContextManager[None]] | None = None,
    ) -> AsyncIterator[float]:
        """A token, then a `slot()` when given, held for the block; yields the seconds waited for tokens.

        A reservation handed out before a 429 would fire inside ARM's Retry-After window; so a caller whose
        wait for its token or for a slot spanned a drain queues again behind it instead of sending.
        """
        bucket = self.bucket(subscription, op)
        waited = 0.0
        while True:
            drains = bucket.drains
            delay = bucket.reserve()
            if delay > 0:
                await asyncio.sleep(delay)
                waited += delay
            async with slot() if slot is not None else contextlib.nullcontext():
                if bucket.drains == drains:
                    yield waited
                    return
