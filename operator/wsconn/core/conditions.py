"""kstatus conditions (Ready, Reconciling, Stalled) computed together from one outcome.

Flux and Argo CD read them through kstatus: Current = Ready True for the observed generation; InProgress =
Reconciling True (or an unobserved generation); Failed = Stalled True. `lastTransitionTime` changes only when
a condition's status flips, as in cluster-api's setter; Ready comes first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from wsconn.api.crd import CONDITION_TYPES

State = Literal["ready", "progressing", "stalled"]
MAX_MESSAGE = 1024


@dataclass(frozen=True)
class Outcome:
    """How a reconcile ended: the state and a stable reason (docs/reasons.md) with a message for people."""

    state: State
    reason: str
    message: str


def build_conditions(
    outcome: Outcome, *, generation: int, previous: Sequence[Mapping[str, Any]], now: str
) -> list[dict[str, Any]]:
    """The full conditions list for `outcome`, keeping transition times of unchanged statuses."""
    wanted = {
        "Ready": outcome.state == "ready",
        "Reconciling": outcome.state == "progressing",
        "Stalled": outcome.state == "stalled",
    }
    before = {c.get("type"): c for c in previous}
    message = (
        outcome.message if len(outcome.message) <= MAX_MESSAGE else outcome.message[: MAX_MESSAGE - 3] + "..."
    )
    out = []
    for ctype in CONDITION_TYPES:
        status = "True" if wanted[ctype] else "False"
        old = before.get(ctype)
        since = old.get("lastTransitionTime") if old and old.get("status") == status else None
        out.append(
            {
                "type": ctype,
                "status": status,
                "reason": outcome.reason,
                "message": message,
                "observedGeneration": generation,
                "lastTransitionTime": since or now,
            }
        )
    return out


def ready_condition(conditions: Sequence[Mapping[str, Any]] | None) -> Mapping[str, Any] | None:
    """The Ready condition, if any."""
    return next((c for c in conditions or () if c.get("type") == "Ready"), None)


def is_ready(status: Mapping[str, Any] | None, generation: int) -> bool:
    """Whether the object is Ready for its current generation."""
    ready = ready_condition((status or {}).get("conditions"))
    return bool(ready and ready.get("status") == "True" and ready.get("observedGeneration") == generation)
