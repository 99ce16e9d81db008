"""ARM's regional token buckets, as learn.microsoft.com "Understand how Azure Resource Manager throttles
requests" describes them: subscription limits apply per subscription, per security principal and per
operation class (reads 250 at 25/s, writes and deletes 200 at 10/s), and a global subscription limit of 15
times those applies across all principals. Every request takes a token from both of its buckets; the
answer reports both in `x-ms-ratelimit-remaining-subscription-<class>` and `...-subscription-global-<class>`
(the recordings show both families, e.g. writes 199 and global-writes 2999).
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
from typing import Any, Literal

OpClass = Literal["reads", "writes", "deletes"]
OP_CLASSES: tuple[OpClass, ...] = ("reads", "writes", "deletes")
GLOBAL_FACTOR = 15


def op_class(method: str) -> OpClass:
    """ARM's bucket for a method: GET reads, DELETE deletes, anything else (PUT, PATCH, POST) writes."""
    if method == "GET":
        return "reads"
    if method == "DELETE":
        return "deletes"
    return "writes"


@dataclass
class Bucket:
    """A token bucket: `capacity` tokens, refilled at `rate` per second; one token per request."""

    capacity: float
    rate: float
    stamp: float
    """The monotonic time the tokens were last counted at."""
    tokens: float = -1.0

    def __post_init__(self) -> None:
        if self.tokens < 0:
            self.tokens = self.capacity

    def refill(self) -> None:
        """Add what the rate earned since the last look."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait(self) -> float:
        """0.0 when a token is there, else the seconds until one is."""
        if self.tokens >= 1:
            return 0.0
        return (1 - self.tokens) / self.rate if self.rate > 0 else 3600.0

    @property
    def remaining(self) -> int:
        """Whole tokens left (for the x-ms-ratelimit-remaining-* headers)."""
        return int(self.tokens)


DEFAULT_LIMITS: dict[str, dict[str, float]] = {
    "reads": {"capacity": 250, "rate": 25},
    "writes": {"capacity": 200, "rate": 10},
    "deletes": {"capacity": 200, "rate": 10},
}


def _scaled(limits: dict[str, dict[str, float]], factor: int) -> dict[str, dict[str, float]]:
    return {op: {k: v * factor for k, v in limit.items()} for op, limit in limits.items()}


@dataclass(frozen=True)
class Grant:
    """The outcome of one request's take: wait 0.0 when granted; which limit refused it otherwise."""

    wait: float = 0.0
    scope: Literal["", "principal", "global"] = ""
    remaining: int | None = None
    remaining_global: int | None = None


@dataclass
class Throttling:
    """Per-subscription-and-principal and global per-subscription buckets, sized like ARM's by default."""

    limits: dict[str, dict[str, float]] = field(default_factory=lambda: copy.deepcopy(DEFAULT_LIMITS))
    global_limits: dict[str, dict[str, float]] = field(
        default_factory=lambda: _scaled(DEFAULT_LIMITS, GLOBAL_FACTOR)
    )
    enabled: bool = True
    buckets: dict[tuple[str, ...], Bucket] = field(default_factory=dict)
    throttled: int = 0

    def configure(self, config: dict[str, Any]) -> None:
        """Replace limits (`{"reads": {"capacity", "rate"}, ..., "global": {...}}`) and/or `enabled`; buckets
        restart full."""
        for target, source in ((self.limits, config), (self.global_limits, config.get("global", {}))):
            for op in OP_CLASSES:
                if op in source:
                    target[op] = {
                        "capacity": float(source[op]["capacity"]),
                        "rate": float(source[op]["rate"]),
                    }
        if "enabled" in config:
            self.enabled = bool(config["enabled"])
        self.buckets.clear()

    def reset(self) -> None:
        """ARM's limits, enabled, full buckets."""
        fresh = Throttling()
        self.limits, self.global_limits, self.enabled, self.throttled = (
            fresh.limits,
            fresh.global_limits,
            True,
            0,
        )
        self.buckets.clear()

    def _bucket(self, key: tuple[str, ...], limit: dict[str, float]) -> Bucket:
        if key not in self.buckets:
            self.buckets[key] = Bucket(**limit, stamp=time.monotonic())
        return self.buckets[key]

    def take(self, subscription: str, principal: str, op: OpClass) -> Grant:
        """Take a token from both buckets, or from neither when either is empty (then the request counts as
        throttled and is not processed)."""
        if not self.enabled:
            return Grant()
        sub = subscription.lower()
        mine = self._bucket((sub, principal, op), self.limits[op])
        shared = self._bucket((sub, "*", op), self.global_limits[op])
        mine.refill()
        shared.refill()
        checks: tuple[tuple[Literal["principal", "global"], Bucket], ...] = (
            ("principal", mine),
            ("global", shared),
        )
        for scope, bucket in checks:
            wait = bucket.wait()
            if wait:
                self.throttled += 1
                return Grant(wait=wait, scope=scope)
        mine.tokens -= 1
        shared.tokens -= 1
        return Grant(remaining=mine.remaining, remaining_global=shared.remaining)


def retry_after_seconds(wait: float) -> int:
    """ARM's Retry-After: whole seconds, at least 1."""
    return max(1, math.ceil(wait))
