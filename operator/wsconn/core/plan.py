"""What a pass should do, decided from plain data (no I/O): the shell looks the decision up in a table of
action functions, as Azure Service Operator's generic reconciler does with DetermineCreateOrUpdateAction.

Apply: `CREATE` when nothing was applied yet, `UPDATE` when the desired fingerprint differs from the applied
one, `CHECK` (GET, maybe re-PUT) when it matches but the drift check is due, `NOOP` otherwise. A fingerprint
Azure refused is never sent again (`KEEP_REJECTED`): only a change of the spec or a Secret (a new fingerprint)
does that, so a rejected resource costs no ARM writes on resync or restart.

Adoption: the first pass of a new resource (nothing applied: `CREATE`) learns whether the connection exists
(one GET) and then writes it, adopts it (writes it, and says so) or, with `adoptionPolicy: Refuse`, leaves it
alone (`adoption`).

Delete: `DELETE` in Azure, `ORPHAN` (leave it, by policy) or `FORGET` (nothing was ever identified there).

Answers: what a drift check found (`after_check`), and whether a PUT's answer is the connection that was
written (`contradictions`).
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from wsconn.core.drift import credential_differences, differences

# The fields that say which connection a PUT's answer describes.
_IDENTITY = ("authType", "category", "target")


class Action(enum.Enum):
    """The decision for an apply pass."""

    CREATE = "create"
    UPDATE = "update"
    CHECK = "check"
    NOOP = "noop"
    KEEP_REJECTED = "keep-rejected"


class DeleteAction(enum.Enum):
    """The decision for a delete pass."""

    DELETE = "delete"
    ORPHAN = "orphan"
    FORGET = "forget"


class Adoption(enum.Enum):
    """What a first pass does after looking for the connection in Azure."""

    WRITE = "write"  # not there: create it
    ADOPT = "adopt"  # there, adoptionPolicy Adopt: take it over (write it, and say so)
    REFUSE = "refuse"  # there, adoptionPolicy Refuse: leave it alone


@dataclass(frozen=True)
class Applied:
    """What the status says was done before."""

    fingerprint: str | None
    rejected_fingerprint: str | None


def plan(*, desired: str, applied: Applied, drift_due: bool, requested: bool = False) -> Action:
    """Decide the action for an apply pass. `requested`: the user asked for a full pass
    (azureml.dev/reconcile-requested-at): a rejected spec is sent again and a drift check is due."""
    if requested:
        applied = Applied(applied.fingerprint, None)
        drift_due = True
    if desired == applied.rejected_fingerprint:
        return Action.KEEP_REJECTED
    if applied.fingerprint is None:
        return Action.CREATE
    if desired != applied.fingerprint:
        return Action.UPDATE
    return Action.CHECK if drift_due else Action.NOOP


def adoption(*, exists: bool, policy: str) -> Adoption:
    """Decide what a first pass does, from whether the connection exists in Azure and `adoptionPolicy`."""
    if not exists:
        return Adoption.WRITE
    return Adoption.REFUSE if policy == "Refuse" else Adoption.ADOPT


def plan_delete(*, policy: str, target: str | None, refused: bool = False) -> DeleteAction:
    """Decide the action for a delete pass (`target`: the connection's ARM ID, when one is known; `refused`:
    adoptionPolicy Refuse and nothing applied, so whatever is in Azure is not this resource's)."""
    if policy == "Orphan":
        return DeleteAction.ORPHAN
    if refused:
        return DeleteAction.FORGET
    return DeleteAction.FORGET if target is None else DeleteAction.DELETE


def after_check(
    *,
    observed: Mapping[str, Any] | None,
    desired: Mapping[str, Any],
    credentials: tuple[Mapping[str, Any], Mapping[str, Any] | None] | None = None,
) -> str | None:
    """Why a checked connection must be re-applied, or None when it matches.

    `observed` is GET's answer (None: the connection is missing); `credentials`, for the opt-in deep check, the
    credentials sent and those `listsecrets` returned. Values are compared, never returned.
    """
    if observed is None:
        return "the connection is missing in Azure"
    changed = differences(desired, observed.get("properties") or {})
    if changed:
        return f"fields changed in Azure: {', '.join(changed)}"
    if credentials is not None:
        creds = credential_differences(*credentials)
        if creds:
            return f"credentials changed in Azure: {', '.join(creds)}"
    return None


def contradictions(*, resource_id: str, desired: Mapping[str, Any], answer: Mapping[str, Any]) -> list[str]:
    """What in a PUT's 2xx answer says another connection was written: the ID or name it gives, or the
    authType, category or target it reports with another value. Fields the answer leaves out are not
    contradictions (ARM never echoes some, as the recordings show), and the other fields are drift's business
    (the service adds metadata keys, for one); names and IDs compare case-insensitively, as ARM's do."""
    found = []
    answered_id = answer.get("id")
    if isinstance(answered_id, str) and answered_id.lower() != resource_id.lower():
        found.append("id")
    answered_name = answer.get("name")
    if isinstance(answered_name, str) and answered_name.lower() != resource_id.rsplit("/", 1)[-1].lower():
        found.append("name")
    props = answer.get("properties")
    if isinstance(props, Mapping):
        found += differences({k: desired[k] for k in _IDENTITY if k in desired and k in props}, props)
    return found


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


def check_basis(
    *, persisted: dt.datetime | None, now: dt.datetime, interval: float, key: str
) -> dt.datetime | None:
    """When a resource first seen by this process counts as last checked, from `status.lastCheckedTime`.

    A recent persisted time is taken as it is. One older than the drift interval (the operator restarted, and
    the last checks lived in memory, since lastCheckedTime is written at most every checked-time interval)
    would make every resource due at the same moment: N GETs in one burst, each holding a worker while it
    waits for a read token. Instead the check is spread by `key` over the coming interval (due between 0.1 and
    0.9 of it with the default 10% jitter), as resources created together are spread by the jitter.
    """
    if persisted is None or interval <= 0:
        return persisted
    if (now - persisted).total_seconds() < interval:
        return persisted
    return now - dt.timedelta(seconds=interval * _unit(key))


def persist_check(*, persisted: dt.datetime | None, now: dt.datetime, interval: float) -> bool:
    """Whether a clean drift check at `now` is written to `status.lastCheckedTime` (else it stays in memory):
    when nothing is persisted yet or the persisted time is at least `interval` old (0: every check)."""
    return persisted is None or (now - persisted).total_seconds() >= interval


def jitter_factor(key: str, jitter: float) -> float:
    """A stable factor in [1 - jitter, 1 + jitter] for `key`."""
    return 1.0 - jitter + 2.0 * jitter * _unit(key)


def _unit(key: str) -> float:
    """A stable number in [0, 1) for `key`."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") / 2**64
