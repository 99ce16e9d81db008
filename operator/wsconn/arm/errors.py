"""Errors from talking to ARM.

    ArmError              ARM answered with an error status (code, message and ARM's request id parsed)
    ArmTransportError     no usable answer: connection refused or dropped, timeout, TLS failure
    ArmCredentialError    azure-identity could not get a token

Messages are cut to a bounded length; ARM's message is kept as ARM wrote it, and the reconciler scrubs the
values it sent from it before anyone sees it (an RP may echo a request body).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

MAX_MESSAGE = 600


class ArmFailure(Exception):
    """Base of every failure to get a usable answer from ARM."""


@dataclass
class ArmError(ArmFailure):
    """An error response."""

    status: int
    code: str
    message: str
    request_id: str
    retry_after: float | None = None

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.message}"


class ArmTransportError(ArmFailure):
    """The request got no answer."""


class ArmCredentialError(ArmFailure):
    """No token could be obtained; the message is azure-identity's (AADSTS code included, no secrets)."""


def parse_error(status: int, body: bytes, headers: Any) -> ArmError:
    """Build an ArmError from a response; accepts `{"error": {...}}` and top-level `{code, message}`."""
    code, message = "", ""
    try:
        data = json.loads(body) if body else {}
    except ValueError:
        data = {}
    if isinstance(data, dict):
        inner = data.get("error", data)
        if isinstance(inner, dict):
            code = str(inner.get("code") or "")
            message = str(inner.get("message") or "")
    if not message:
        message = body[:200].decode("utf-8", "replace") if body else "(no body)"
    if len(message) > MAX_MESSAGE:
        message = message[: MAX_MESSAGE - 3] + "..."
    return ArmError(
        status=status,
        code=code or f"Http{status}",
        message=message,
        request_id=str(headers.get("x-ms-request-id", "")),
        retry_after=parse_retry_after(headers.get("retry-after")),
    )


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After in seconds (ARM sends delta-seconds); None when absent or unparseable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
