"""What tests steer and read besides throttling and faults: authorization deny rules and the request log.

The request log is bounded and never holds a credential value: bodies are stored with every credential
replaced by a marker, next to the SHA-256 of the raw body.
"""

from __future__ import annotations

import copy
import hashlib
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

REDACTED = "<redacted>"


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
