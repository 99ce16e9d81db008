"""The missing-Secret grace (docs/design.md §3): GitOps tools deliver a resource and its Secrets in no fixed order
(External Secrets or SOPS may write the Secret seconds or minutes later), so for `--missing-secret-grace`
seconds after a generation is first seen, a missing Secret or key is something still in progress
(Reconciling: kstatus InProgress, so `flux ... --wait` keeps waiting), not a failure; after it, Stalled.

"First seen" must survive a restart, so it is read from the cluster: `status.observedGenerationTime`, written
in the same status patch as the `observedGeneration` of the first pass that sees a new generation. A
generation observed by an operator that did not record the time was seen before the upgrade: its grace is
over. Pure: the shell hands in the status fields and the time.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

from wsconn.api.status import Status
from wsconn.core import reasons
from wsconn.core.conditions import Outcome

# The grace timer looks at a waiting resource this often (a cheap test of the status; no I/O), so the
# resource turns Stalled at most this late: a tenth of the grace, between 1 and 10 seconds.
MIN_TICK: Final = 1.0
MAX_TICK: Final = 10.0

# Only an absent Secret or key can be "not delivered yet"; an empty or non-UTF-8 value is a wrong one.
WAITED_FOR: Final = frozenset({reasons.SECRET_NOT_FOUND, reasons.SECRET_KEY_NOT_FOUND})


def first_seen(
    *, observed_generation: int | None, recorded: dt.datetime | None, generation: int, now: dt.datetime
) -> dt.datetime | None:
    """When `generation` was first seen: `now` for a generation not observed before, else the recorded time
    (None: observed without a recorded time, so before the time was kept; its grace is over)."""
    if observed_generation != generation:
        return now
    return recorded


def grace_ends(*, seen: dt.datetime | None, grace: float) -> dt.datetime | None:
    """When the grace for a generation first seen at `seen` ends (None: there is none)."""
    if seen is None or grace <= 0:
        return None
    # Status times are whole seconds: the generation was first seen somewhere within the second `seen` names,
    # so the grace counts from that second's end and the truncation never cuts it short (found by the e2e:
    # a 3 s grace stalled after 2.2 s).
    return seen.replace(microsecond=0) + dt.timedelta(seconds=grace + 1)


def missing_secret(
    reason: reasons.Reason, message: str, *, ends: dt.datetime | None, now: dt.datetime
) -> Outcome:
    """The outcome of a pass that found a referenced Secret or key missing: progressing while the grace
    lasts (the message says until when), stalled after it, and stalled at once for what the grace does not
    cover."""
    if reason in WAITED_FOR and ends is not None and now < ends:
        until = ends.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return Outcome(
            "progressing",
            reason,
            f"{message}; waiting for it until {until} (--missing-secret-grace), then Stalled",
        )
    return Outcome("stalled", reason, message)


def grace_over(*, ends: dt.datetime | None, now: dt.datetime) -> bool:
    """Whether a resource waiting for a Secret has reached the end of its grace (the timer's cheap test)."""
    return ends is None or now >= ends


def waiting(status: Status) -> bool:
    """Whether a stored status says the resource is waiting for a Secret within its grace (the filter of the
    grace timer)."""
    names = {reason.name for reason in WAITED_FOR}
    return any(
        c.type == "Reconciling" and c.status == "True" and c.reason in names for c in status.conditions
    )


def tick(grace: float) -> float | None:
    """How often the grace timer looks (None: no grace, no timer)."""
    if grace <= 0:
        return None
    return max(MIN_TICK, min(MAX_TICK, grace / 10))
