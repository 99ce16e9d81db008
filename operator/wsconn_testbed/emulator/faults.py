"""Injected misbehaviour of ARM, steered through the admin API: latency, error statuses, 429 bursts, dropped
connections, and answers whose body misbehaves (trickled, oversized, not JSON, contradicting the request).

Faults draw from one seeded random generator, so a run with the same seed and the same request order
injects the same faults. Body faults are pure plans here (what to send, in which chunks, how slowly); the
ARM handler streams them.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

BodyKind = Literal["trickle", "oversize", "not-json", "html", "contradict"]
CONTRADICTION = {"target": "https://contradiction.invalid/", "authType": "None"}
"""What a contradicting answer claims by default: another target, and no authentication."""
PROXY_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>Access Denied</title></head>\n<body><h1>Access Denied</h1>\n"
    b"<p>Your request was blocked by the network proxy. Contact your administrator.</p></body></html>\n"
)
_CHUNK = 64 * 1024


def compact(payload: Any) -> bytes:
    """JSON as the service writes it: no whitespace between tokens."""
    return json.dumps(payload, separators=(",", ":")).encode()


@dataclass(frozen=True)
class BodyFault:
    """How a 2xx answer's body misbehaves.

    `trickle`: the real body, `chunk` bytes every `every` seconds (an idle timeout never fires, a deadline
    does); `oversize`: the real body grown to `size` bytes by a leading padding member (valid JSON);
    `not-json`: `{not json` as application/json; `html`: a proxy's HTML page as text/html; `contradict`: the
    real body with `overrides` in its properties (by default another target and authType None).
    """

    kind: BodyKind
    chunk: int = 1
    every: float = 1.0
    size: int = 0
    overrides: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> BodyFault | None:
        """The body fault of an admin-API rule, if it has one."""
        if "trickle" in raw:
            return cls(
                "trickle", chunk=max(1, int(raw["trickle"]["bytes"])), every=float(raw["trickle"]["every"])
            )
        if "oversize_mib" in raw:
            return cls("oversize", size=int(float(raw["oversize_mib"]) * 1024 * 1024))
        if raw.get("malformed") in ("not-json", "html"):
            return cls(raw["malformed"])
        if "contradict" in raw:
            overrides = raw["contradict"] if isinstance(raw["contradict"], dict) else CONTRADICTION
            return cls("contradict", overrides=dict(overrides))
        return None


@dataclass(frozen=True)
class BodyPlan:
    """What to send instead of the real body: its type and length, the chunks, and the pause after each."""

    content_type: str
    length: int
    chunks: Iterator[bytes]
    delay: float = 0.0


def plan(fault: BodyFault, payload: Any) -> BodyPlan:
    """The body a fault sends for the real answer `payload`."""
    json_type = "application/json; charset=utf-8"
    if fault.kind == "html":
        return BodyPlan("text/html; charset=utf-8", len(PROXY_PAGE), iter([PROXY_PAGE]))
    if fault.kind == "not-json":
        return BodyPlan(json_type, len(b"{not json"), iter([b"{not json"]))
    if fault.kind == "contradict":
        data = compact(_contradicted(payload, fault.overrides))
        return BodyPlan(json_type, len(data), iter([data]))
    data = compact(payload)
    if fault.kind == "trickle":
        pieces = (data[i : i + fault.chunk] for i in range(0, len(data), fault.chunk))
        return BodyPlan(json_type, len(data), pieces, delay=fault.every)
    head = b'{"padding":"'
    tail = (b'",' + data[1:]) if data.startswith(b"{") and data != b"{}" else b'"}'
    pad = max(0, fault.size - len(head) - len(tail))
    return BodyPlan(json_type, len(head) + pad + len(tail), _padded(head, pad, tail))


def _padded(head: bytes, pad: int, tail: bytes) -> Iterator[bytes]:
    yield head
    for start in range(0, pad, _CHUNK):
        yield b"x" * min(_CHUNK, pad - start)
    yield tail


def _contradicted(payload: Any, overrides: dict[str, Any]) -> Any:
    if not isinstance(payload, dict) or not isinstance(payload.get("properties"), dict):
        return payload
    properties = {**payload["properties"], **overrides}
    if str(properties.get("authType", "")).lower() in ("none", "aad"):
        properties.pop("credentials", None)
    return {**payload, "properties": properties}


@dataclass
class FaultRule:
    """One injected misbehaviour for matching ARM requests.

    Matching: `methods` (empty: all), `path_contains` (case-insensitive substring, empty: all).
    Effects, in order: `latency` seconds (a number, or [min, max] uniform), then at most one of:
    a burst of `burst_429` consecutive 429s, a dropped connection with probability `drop_rate`, an error
    status from `statuses` with probability `error_rate`, or a body fault on every matching 2xx answer.
    `phase` "after" applies errors and drops after the operation took effect (the response is lost, the
    write is not). `remaining` limits how many requests the rule affects (None: unlimited); `until` is a
    deadline in monotonic seconds.
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
    body: BodyFault | None = None
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
            body=BodyFault.parse(raw),
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
    body: BodyFault | None = None


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
        if rule.body is not None:
            return {"body": rule.body}  # counted by the handler, which applies it only to a 2xx answer
        return None
