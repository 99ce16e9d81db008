"""Client-side token buckets, one set per subscription, so the operator stays under ARM's own limits.

ARM (2024+) gives each principal per subscription: reads 250 burst / 25 per s, writes and deletes 200 / 10
per s (CONNECTIONS.md §10.3), and tells on every answer how many tokens are left in the bucket the request
was counted in (`x-ms-ratelimit-remaining-subscription-<reads|writes|deletes>`, and `...-global-...` for the
limit over all principals). The buckets here have ARM's sizes and follow those headers: each answer sets the
level to what ARM reports, less a small margin and less the requests this process has sent or promised that
ARM has not counted yet. So the operator runs at ARM's own rate when it is alone, and slows down by itself
when another client (a second replica, a script) spends the same principal's tokens; before issue 16 the
buckets were a fixed 90% of ARM's, which cost 10% of the rate alone and did not see other clients at all.

A bucket hands out reservations: each caller learns how long to wait for its token, so waiting needs no lock
and order is first come, first served. A 429 from ARM drains the bucket for Retry-After, so every worker
backs off, not only the one that was told; until that window ends, headers may lower the level, not raise it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Literal

OpClass = Literal["read", "write", "delete"]
# Tokens kept in hand below the level ARM reports: covers a request of another client counted between ARM's
# answer and our next request. Small against ARM's 200-250 token buckets (2.5%).
MARGIN = 5.0


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

    read: BucketSpec = BucketSpec(250, 25.0)
    write: BucketSpec = BucketSpec(200, 10.0)
    delete: BucketSpec = BucketSpec(200, 10.0)
    margin: float = MARGIN

    def for_class(self, op: OpClass) -> BucketSpec:
        """The bucket spec of an operation class."""
        return {"read": self.read, "write": self.write, "delete": self.delete}[op]


@dataclass
class TokenBucket:
    """A token bucket that hands out reservations; tokens may go negative (the debt is the queue)."""

    spec: BucketSpec
    clock: Callable[[], float] = field(default_factory=lambda: loop_time)
    margin: float = 0.0  # kept in hand from the start, as after every answer (Admission.follow)
    tokens: float = field(init=False)
    stamp: float = field(init=False)
    drains: int = field(init=False, default=0)
    drained_until: float = field(init=False, default=float("-inf"))
    queued: int = field(init=False, default=0)  # reservations taken, requests not sent yet
    sends: int = field(init=False, default=0)  # requests sent so far: the last one's ticket
    moved: float = field(init=False, default=0.0)  # net tokens ARM's answers added (+) or took away (-)
    flying: set[int] = field(init=False, default_factory=set)  # tickets of requests not answered yet

    def __post_init__(self) -> None:
        self.tokens = self.spec.capacity - self.margin
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
        self.drained_until = max(self.drained_until, self.stamp + seconds)

    def send(self) -> int:
        """A request of this bucket goes out: its ticket."""
        self.sends += 1
        self.flying.add(self.sends)
        return self.sends

    def answered(self, ticket: int) -> None:
        """The request with `ticket` is done."""
        self.flying.discard(ticket)

    def follow(self, remaining: float, margin: float, ticket: int) -> None:
        """ARM answered the request with `ticket` with `remaining` tokens left when it counted it: take ARM's
        level, less `margin` and less what ARM may not have counted then: every request sent after this one
        (answered or not: latencies differ), those sent before it that are still in flight, and the
        reservations queued. During a drain the level may only go down."""
        self._refill()
        unseen = (self.sends - ticket) + sum(1 for other in self.flying if other < ticket) + self.queued
        level = remaining - margin - unseen
        before = self.tokens
        if self.stamp < self.drained_until:
            self.tokens = min(self.tokens, level)
        else:
            self.tokens = min(self.spec.capacity, level)
        self.moved += self.tokens - before


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
            self._buckets[key] = TokenBucket(self.limits.for_class(op), self.clock, self.limits.margin)
        return self._buckets[key]

    @contextlib.asynccontextmanager
    async def admitted(
        self,
        subscription: str,
        op: OpClass,
        slot: Callable[[], AbstractAsyncContextManager[None]] | None = None,
    ) -> AsyncIterator[Admission]:
        """A token, then a `slot()` when given, held for the block; yields the Admission (the seconds waited
        for tokens, and where to report ARM's answer).

        A reservation handed out before a 429 would fire inside ARM's Retry-After window; so a caller whose
        wait for its token or for a slot spanned a drain queues again behind it instead of sending. ARM's
        answers move the level while a reservation waits (down when another client spends the principal's
        tokens); a caller whose wait saw the level go down by net d tokens waits d/rate more, as the whole queue
        behind that level moves.
        """
        bucket = self.bucket(subscription, op)
        waited = 0.0
        while True:
            drains = bucket.drains
            delay = bucket.reserve()
            seen = bucket.moved
            bucket.queued += 1
            sent = False
            try:
                while not sent:
                    if delay > 0:
                        await asyncio.sleep(delay)
                        waited += delay
                    async with slot() if slot is not None else contextlib.nullcontext():
                        if bucket.drains != drains:
                            break  # queue again behind the drain
                        lost = seen - bucket.moved
                        if lost >= 1:
                            seen, delay = bucket.moved, lost / bucket.spec.rate
                            continue  # the slot is given back while this waits
                        bucket.queued -= 1
                        sent = True
                        ticket = bucket.send()
                        try:
                            yield Admission(waited, bucket, ticket, self.limits.margin)
                        finally:
                            bucket.answered(ticket)
                if sent:
                    return
            finally:
                if not sent:
                    bucket.queued -= 1


@dataclass(frozen=True)
class Admission:
    """One admitted request: how long it waited for its token, and its place in its bucket's order."""

    waited: float
    bucket: TokenBucket
    ticket: int
    margin: float

    def follow(self, headers: Mapping[str, str], op: OpClass) -> None:
        """Set the bucket's level from ARM's answer to this request, if it says how many tokens are left."""
        remaining = remaining_tokens(headers, op)
        if remaining is not None:
            self.bucket.follow(remaining, self.margin, self.ticket)


def remaining_tokens(headers: Mapping[str, str], op: OpClass) -> float | None:
    """The fewest tokens ARM says are left for `op`, per principal or over all principals (global); None when
    the answer says neither (or nothing readable)."""
    found = []
    for scope in ("subscription", "subscription-global"):
        raw = headers.get(f"x-ms-ratelimit-remaining-{scope}-{op}s")
        try:
            value = float(raw) if raw is not None else None
        except ValueError:
            value = None
        if value is not None and value >= 0:
            found.append(value)
    return min(found) if found else None
