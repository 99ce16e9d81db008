"""What one reconcile pass should do, decided from plain data (no I/O).

`Put` when the desired fingerprint differs from the applied one; `Check` (GET, maybe re-PUT) when the
fingerprint matches but the drift check is due; `Noop` otherwise. A fingerprint Azure already refused is
never sent again: only a change of the spec or a Secret (a new fingerprint) does that, so a rejected resource
costs no ARM writes on resync or restart.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from enum import Enum


class Action(Enum):
    """The decision."""

    PUT = "put"
    CHECK = "check"
    NOOP = "noop"
    KEEP_REJECTED = "keep-rejected"


@dataclass(frozen=True)
class Applied:
    """What the status says was done before."""

    fingerprint: str | None
    rejected_fingerprint: str | None
    last_checked: dt.datetime | None


def plan(*, desired: str, applied: Applied, drift_due: bool) -> Action:
    """Decide the action for a pass."""
    if desired == applied.rejected_fingerprint:
        return Action.KEEP_REJECTED
    if desired != applied.fingerprint:
        return Action.PUT
    return Action.CHECK if drift_due else Action.NOOP


def drift_due(
    *, last_checked: dt.datetime | None, now: dt.datetime, interval: float, jitter: float, key: str
) -> bool:
    """Whether the periodic drift check is due.

    The interval is stretched by a per-object factor in [1 - jitter, 1 + jitter] derived from `key` (the
    object's uid), so checks of resources created together spread out and stay spread after restarts.
    """
    if interval <= 0:
        return False
    if last_checked is None:
        return True
    return (now - last_checked).total_seconds() >= interval * jitter_factor(key, jitter)


def jitter_factor(key: str, jitter: float) -> float:
    """A stable factor in [1 - jitter, 1 + jitter] for `key`."""
    unit = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") / 2**64
    return 1.0 - jitter + 2.0 * jitter * unit
