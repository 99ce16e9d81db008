"""What tests steer: ARM's token buckets, injected faults, authorization denials and the request log.

Faults draw from one seeded random generator, so a run with the same seed and the same request order
injects the same faults. The request log is bounded and never holds a credential value: bodies are stored
with every credential replaced by a marker, next to the SHA-256 of the raw body.
"""

from __future__ import annotations

import copy
import hashlib
import math
import random
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any, Literal

OpClass = Literal["reads", "writes", "deletes"]
REDACTED = "<redacted>"


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
    tokens: float = -1.0
    stamp: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        if self.tokens < 0:
            self.tokens = self.capacity

    def take(self) -> float:
        """Take a token; 0.0 when granted, else the seconds until one is available."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
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


@dataclass
class Throttling:
    """Per-subscription buckets for reads, writes and deletes, sized like ARM's by default."""

    limits: dict[str, dict[str, float]] = field(default_factory=lambda: copy.deepcopy(DEFAULT_LIMITS))
    enabled: bool = True
    buckets: dict[tuple[str, str], Bucket] = field(default_factory=dict)
    throttled: int = 0

    def configure(self, config: dict[str, Any]) -> None:
        """Replace limits (`{"reads": {"capacity", "rate"}, ...}`) and/or `enabled`; buckets restart full."""
        for op in ("reads", "writes", "deletes"):
            if op in config:
                self.limits[op] = {
                    "capacity": float(config[op]["capacity"]),
                    "rate": float(config[op]["rate"]),
                }
        if "enabled" in config:
            self.enabled = bool(config["enabled"])
        self.buckets.clear()

    def bucket(self, subscription: str, op: OpClass) -> Bucket:
        """The bucket of a subscription and operation class."""
        key = (subscription.lower(), op)
        if key not in self.buckets:
            self.buckets[key] = Bucket(**self.limits[op])
        return self.buckets[key]

    def take(self, subscription: str, op: OpClass) -> float:
        """0.0 when the request may proceed, else seconds to wait (and it counts as throttled)."""
        if not self.enabled:
            return 0.0
        wait = self.bucket(subscription, op).take()
        if wait:
            self.throttled += 1
        return wait


def retry_after_seconds(wait: float) -> int:
    """ARM's Retry-After: whole seconds, at least 1."""
    return max(1, math.ceil(wait))


@dataclass
class FaultRule:
    """One injected misbehaviour for matching ARM requests.

    Matching: `methods` (empty: all), `path_contains` (case-insensitive substring, empty: all).
    Effects, in order: `latency` seconds (a number, or [min, max] uniform), then at most one of:
    a burst of `burst_429` consecutive 429s, a dropped connection with probability `drop_rate`, an error
    status from `statuses` with probability `error_rate`. `phase` "after" applies errors and drops after
    the operation took effect (the response is lost, the write is not). `remaining` limits how many
    requests the rule affects (None: unlimited); `until` is a deadline in monotonic seconds.
    """

    methods: tuple[str, ...] = ()
    path_contains: str = ""
    latency: float | tuple[float, float] = 0.0
    error_rate: float = 0.0
    statuses: tuple[int, ...] = (500,)
    drop_rate: float = 0.0
    burst_429: int = 0
    retry_after: int = 1
    phase: Literal["before", "after"] = "before"
    remaining: int | None = None
    until: float | None = None

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> FaultRule:
        """Build a rule from the admin API's JSON (`duration` seconds becomes `until`)."""
        latency = raw.get("latency", 0.0)
        duration = raw.get("duration")
        return cls(
            methods=tuple(m.upper() for m in raw.get("methods", ())),
            path_contains=str(raw.get("path_contains", "")).lower(),
            latency=tuple(latency) if isinstance(latency, list) else float(latency),
            error_rate=float(raw.get("error_rate", 0.0)),
            statuses=tuple(int(s) for s in raw.get("statuses", (500,))),
            drop_rate=float(raw.get("drop_rate", 0.0)),
            burst_429=int(raw.get("burst_429", 0)),
            retry_after=int(raw.get("retry_after", 1)),
            phase="after" if raw.get("phase") == "after" else "before",
            remaining=raw.get("count"),
            until=time.monotonic() + float(duration) if duration is not None else None,
        )

    def matches(self, method: str, path: str) -> bool:
        """Whether the rule is live and applies to this request."""
        if self.until is not None and time.monotonic() > self.until:
            return False
        if self.remaining is not None and self.remaining <= 0:
            return False
        if self.methods and method not in self.methods:
            return False
        return not self.path_contains or self.path_contains in path.lower()


@dataclass(frozen=True)
class FaultDecision:
    """What to do to one request."""

    delay: float = 0.0
    status: int = 0
    drop: bool = False
    retry_after: int = 0
    phase: str = "before"


@dataclass
class Faults:
    """The live fault rules and the seeded generator they draw from."""

    rules: list[FaultRule] = field(default_factory=list)
    rng: random.Random = field(default_factory=lambda: random.Random(0))  # noqa: S311 - reproducible faults, not crypto
    injected: Counter[str] = field(default_factory=Counter)

    def configure(self, config: dict[str, Any]) -> None:
        """Replace the rules; `seed` reseeds the generator."""
        if "seed" in config:
            self.rng = random.Random(config["seed"])  # noqa: S311 - reproducible faults
        self.rules = [FaultRule.parse(r) for r in config.get("rules", [])]

    def decide(self, method: str, path: str) -> FaultDecision:
        """Roll the dice for one request; the first matching rule that fires wins."""
        delay = 0.0
        for rule in self.rules:
            if not rule.matches(method, path):
                continue
            if isinstance(rule.latency, tuple):
                delay += self.rng.uniform(*rule.latency)
            else:
                delay += rule.latency
            fired = self._fire(rule)
            if rule.remaining is not None and (fired or rule.latency):
                rule.remaining -= 1
            if fired:
                return FaultDecision(delay=delay, phase=rule.phase, **fired)
        return FaultDecision(delay=delay)

    def _fire(self, rule: FaultRule) -> dict[str, Any] | None:
        if rule.burst_429 > 0:
            rule.burst_429 -= 1
            self.injected["429"] += 1
            return {"status": 429, "retry_after": rule.retry_after}
        if rule.drop_rate and self.rng.random() < rule.drop_rate:
            self.injected["drop"] += 1
            return {"drop": True}
        if rule.error_rate and self.rng.random() < rule.error_rate:
            status = self.rng.choice(rule.statuses)
            self.injected[str(status)] += 1
            return {"status": status, "retry_after": rule.retry_after if status in (429, 503) else 0}
        return None


@dataclass
class Authorization:
    """Deny rules: a principal (client id, or '*') may not perform an action ('read', 'write', 'delete',
    'listsecrets' or '*') under a scope prefix (case-insensitive)."""

    deny: list[dict[str, str]] = field(default_factory=list)

    def denied(self, client_id: str, action: str, scope: str) -> bool:
        """Whether a deny rule matches."""
        for rule in self.deny:
            if rule.get("client_id", "*") not in ("*", client_id):
                continue
            if rule.get("action", "*") not in ("*", action):
                continue
            if scope.lower().startswith(rule.get("scope", "").lower()):
                return True
        return False


def redact_body(body: Any) -> Any:
    """The body with every credential value replaced, for the log (never a value in clear).

    Any `credentials` member is redacted wherever it sits, not only at `properties.credentials`: a client
    that misplaces its credentials must not get them logged in clear either. Field names are kept.
    """
    if not isinstance(body, dict):
        return None
    out = _without_credentials(body)
    props = out.get("properties")
    # The legacy `value` field may hold a v1 connection's secret.
    if isinstance(props, dict) and isinstance(props.get("value"), str):
        props["value"] = REDACTED
    return out


def _without_credentials(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            k: _redact(v) if k.lower() == "credentials" else _without_credentials(v) for k, v in node.items()
        }
    if isinstance(node, list):
        return [_without_credentials(v) for v in node]
    return copy.deepcopy(node)


def _redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _redact(v) for k, v in value.items()}
    return REDACTED


def body_digest(raw: bytes) -> str:
    """SHA-256 of the raw request body ('' when empty)."""
    return hashlib.sha256(raw).hexdigest() if raw else ""


@dataclass
class RequestLog:
    """The last `limit` ARM and Entra requests, with a sequence number for incremental reads."""

    limit: int = 200_000
    entries: deque[dict[str, Any]] = field(default_factory=deque)
    seq: int = 0
    counters: Counter[str] = field(default_factory=Counter)

    def add(self, entry: dict[str, Any]) -> None:
        """Append an entry (assigning `seq`) and count it by method and status."""
        self.seq += 1
        entry["seq"] = self.seq
        self.entries.append(entry)
        while len(self.entries) > self.limit:
            self.entries.popleft()
        self.counters[f"{entry['method']} {entry['status']}"] += 1

    def since(self, seq: int) -> list[dict[str, Any]]:
        """Entries with a sequence number above `seq`."""
        return [e for e in self.entries if e["seq"] > seq]
