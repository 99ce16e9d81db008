"""Errors from talking to ARM, each carrying the plain `Fault` that core/classify.py judges.

    ArmFailure               no usable answer from ARM
      ArmError               ARM answered with an error status (code, message and ARM's request id parsed)
      ArmTransportError      no answer: connection refused or dropped, TLS failure, a transport timeout
      ArmDeadlineError       the request ran past --arm-timeout, connect to last byte
      ArmMalformedError      a 2xx answer that cannot be used: not JSON, over the size cap, another connection
      ArmCredentialError     azure-identity could not get a token

Messages are cut to a bounded length; ARM's message is kept as ARM wrote it, and the reconciler scrubs the
values it sent from it before anyone sees it (an RP may echo a request body). A malformed answer is described
(status, content type, size), never quoted: a body may hold a credential.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from wsconn.core import classify

MAX_MESSAGE = 600


class ArmFailure(Exception):
    """Base of every failure to get a usable answer from ARM."""

    @property
    def fault(self) -> classify.Fault:
        """What happened, for the classifier."""
        raise NotImplementedError

    def describe(self) -> str:
        """What happened, for a condition message."""
        return str(self)


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

    @property
    def fault(self) -> classify.Fault:
        """What happened, for the classifier."""
        return classify.ArmAnswered(self.status, self.code, self.retry_after)

    def describe(self) -> str:
        """ARM's answer for a condition message."""
        return (
            f"Azure answered {self.status} {self.code}: {self.message} "
            f"(x-ms-request-id {self.request_id or '-'})"
        )


class ArmTransportError(ArmFailure):
    """The request got no answer."""

    @property
    def fault(self) -> classify.Fault:
        """What happened, for the classifier."""
        return classify.ArmUnanswered()


class ArmDeadlineError(ArmFailure):
    """The answer was not complete within the deadline."""

    @property
    def fault(self) -> classify.Fault:
        """What happened, for the classifier."""
        return classify.ArmDeadline()


class ArmMalformedError(ArmFailure):
    """A 2xx answer that cannot be used."""

    @property
    def fault(self) -> classify.Fault:
        """What happened, for the classifier."""
        return classify.ArmMalformed()


class ArmCredentialError(ArmFailure):
    """No token could be obtained; the message is azure-identity's (AADSTS code included, no secrets)."""

    @property
    def fault(self) -> classify.Fault:
        """What happened, for the classifier."""
        return classify.TokenRefused(str(self))

    def describe(self) -> str:
        """What happened, for a condition message."""
        return f"no Azure token: {self}"


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
