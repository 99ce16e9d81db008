"""One pass's bookkeeping: the status being built, the Events to post, the secret values to scrub, and the
one way every exit turns an outcome into a Result."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from wsconn.api import status as status_model
from wsconn.api.status import Status
from wsconn.core import classify, grace
from wsconn.core.conditions import Outcome, build_conditions, ready_changed
from wsconn.reconciler.model import Event, ObjectView, Result

REDACTED = "<redacted>"
MIN_SCRUB_LENGTH = 4


def scrub(text: str, values: Iterable[str]) -> str:
    """Replace every secret value found in `text` (ARM may echo a body in an error)."""
    for value in sorted(set(values), key=len, reverse=True):
        if len(value) >= MIN_SCRUB_LENGTH and value in text:
            text = text.replace(value, REDACTED)
    return text


@dataclass
class Pass:
    """State of one pass. `start` is the status the pass began from (what this process last knew); `base` is
    what the API server holds, which the final patch is computed against; `checked` is when Azure was last
    read for drift as this process knows it (status.lastCheckedTime is written only every so often)."""

    obj: ObjectView
    start: Status
    base: Mapping[str, Any]
    now: dt.datetime
    retry: int
    jitter: Callable[[], float]
    checked: dt.datetime | None = None
    status: Status = field(init=False)
    events: list[Event] = field(default_factory=list)
    secret_values: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        # A generation seen for the first time gets its time, stored with its observedGeneration.
        seen = grace.first_seen(
            observed_generation=self.start.observed_generation,
            recorded=self.start.observed_generation_time,
            generation=self.obj.generation,
            now=self.now,
        )
        self.status = self.start.replace(observed_generation_time=seen)

    def conditions_for(self, outcome: Outcome) -> Status:
        """The status with the conditions for `outcome` (the message scrubbed of secret values)."""
        return self.status.replace(
            observed_generation=self.obj.generation,
            conditions=build_conditions(
                outcome, generation=self.obj.generation, previous=self.status.conditions, now=self.now
            ),
        )

    def wrote(self, raw: Mapping[str, Any]) -> None:
        """The API server now holds `raw` (an interim status written during the pass)."""
        self.base = raw

    def finish(self, outcome: Outcome, retry_after: float | None = None) -> Result:
        """The Result for `outcome`: conditions built once, an Event when Ready's status or reason changes."""
        outcome = Outcome(outcome.state, outcome.reason, scrub(outcome.message, self.secret_values))
        self.status = self.conditions_for(outcome)
        if ready_changed(self.start.ready, outcome):
            kind: Literal["Normal", "Warning"] = (
                "Normal" if outcome.state in ("ready", "skipped") else "Warning"
            )
            self.events.append(Event(kind, outcome.reason.name, self.status.conditions[0].message))
        return Result(
            status=self.status,
            patch=status_model.patch(self.base, self.status),
            outcome=outcome,
            retry_after=retry_after,
            events=tuple(self.events),
        )

    def failed(self, verdict: classify.Verdict, message: str) -> Result:
        """The Result for a classified fault, with its retry delay."""
        delay = classify.retry_delay(verdict, attempt=self.retry, jitter=self.jitter())
        return self.finish(Outcome(verdict.state, verdict.reason, message), delay)
