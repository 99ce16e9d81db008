"""The reconcile shell: read the spec and its Secrets, decide with the pure core, act on ARM, report.

One entry point, `Reconciler.reconcile`, serves create, update, resume, Secret changes and the drift timer;
deletion is the only other path. Passes for one object never overlap (a lock per object: Kopf runs timers
beside change handlers), and each pass starts from the freshest status this process knows, so a timer
holding an older snapshot cannot repeat a PUT that a change handler just made.

At most `workers` passes run at once (`slots`, not Kopf's worker limit: see admission.py), shared fairly
between subscriptions and workspaces (arm/slots.py), so passes that wait on one slow workspace cannot hold
every worker. A pass Kopf runs comes with its slot (`admitted`: taken before Kopf processed the event); a
timed pass takes one here. A pass has a deadline (`pass_timeout`), from the moment it runs to its result. `close` ends
what is still running before the operator's clients close.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import random
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any, Final, TypeVar

from wsconn.api.status import Status
from wsconn.arm.slots import FairSlots
from wsconn.core import classify, grace
from wsconn.core.plan import check_basis, drift_due
from wsconn.logs import Log, log_context, with_correlation
from wsconn.reconciler.apply import ApplyPass, Ports
from wsconn.reconciler.delete import DeletePass
from wsconn.reconciler.model import (
    DeleteResult,
    Event,
    ObjectView,
    Principals,
    ReconcileConfig,
    ReconcilerClosed,
    Result,
    Secrets,
    StatusWriter,
)
from wsconn.reconciler.passing import Pass, scrub

__all__ = [
    "DeleteResult",
    "Event",
    "ObjectView",
    "ReconcileConfig",
    "Reconciler",
    "ReconcilerClosed",
    "Result",
    "scrub",
    "utcnow",
]


T = TypeVar("T")
DEADLINE: Final = classify.ArmDeadline()


def utcnow() -> dt.datetime:
    """Now, in UTC, to the second (status times are RFC 3339 seconds)."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


class Reconciler:
    """Reconciles WorkspaceConnections against ARM."""

    def __init__(
        self,
        *,
        principals: Principals,
        secrets: Secrets,
        status_writer: StatusWriter,
        config: ReconcileConfig,
        workers: int,
        clock: Callable[[], dt.datetime] = utcnow,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._ports = Ports(
            principals=principals, secrets=secrets, status_writer=status_writer, config=config
        )
        self.slots = FairSlots(workers)
        self._clock = clock
        self._jitter = jitter
        self._locks: dict[str, asyncio.Lock] = {}
        self._latest: dict[str, Status] = {}
        # When Azure was last read for each object, as this process knows it: status.lastCheckedTime is
        # written only every checked_time_interval (apply.py), so this is the drift timer's basis.
        self._checked: dict[str, dt.datetime] = {}
        self._in_flight: dict[asyncio.Task[object], float] = {}
        self._closed = False

    def oldest_pass_seconds(self) -> float:
        """How long the oldest pass still running has been running (0 when none): the liveness signal."""
        if not self._in_flight:
            return 0.0
        return asyncio.get_running_loop().time() - min(self._in_flight.values())

    def forget(self, uid: str) -> None:
        """Drop what is remembered of a deleted object."""
        self._locks.pop(uid, None)
        self._latest.pop(uid, None)
        self._checked.pop(uid, None)

    def last_checked(self, obj: ObjectView) -> dt.datetime | None:
        """When Azure was last read for `obj` as this process knows it (in memory, else from its status,
        spread over one drift interval when that is old: core.plan.check_basis)."""
        known = self._checked.get(obj.uid)
        if known is not None:
            return known
        status = self._latest.get(obj.uid) or Status.from_raw(obj.status)
        basis = check_basis(
            persisted=status.last_checked_time,
            now=self._clock(),
            interval=self._ports.config.drift_interval,
            key=obj.uid,
        )
        if basis is not None:
            self._checked[obj.uid] = basis
        return basis

    def drift_check_due(self, obj: ObjectView) -> bool:
        """Whether the drift timer should run a pass now (cheap: no I/O)."""
        config = self._ports.config
        return drift_due(
            last_checked=self.last_checked(obj),
            now=self._clock(),
            interval=config.drift_interval,
            jitter=config.drift_jitter,
            key=obj.uid,
        )

    def grace_over(self, obj: ObjectView) -> bool:
        """Whether a resource waiting for a Secret has reached the end of its missing-Secret grace, so a pass
        must now say Stalled (cheap: no I/O)."""
        status = self._latest.get(obj.uid) or Status.from_raw(obj.status)
        if status.observed_generation != obj.generation:
            return False  # a new generation: the change handler's pass is under way
        ends = grace.grace_ends(
            seen=status.observed_generation_time, grace=self._ports.config.missing_secret_grace
        )
        return grace.grace_over(ends=ends, now=self._clock())

    async def reconcile(self, obj: ObjectView, *, log: Log, retry: int = 0, admitted: bool = False) -> Result:
        """One level-based pass for `obj` (`admitted`: the caller holds a slot for it)."""
        correlation_id = str(uuid.uuid4())
        async with self._running(obj, admitted):
            state = self._pass(obj, retry)
            with log_context(resource=str(obj.ref), correlation_id=correlation_id):
                apply = ApplyPass(
                    self._ports,
                    state,
                    log=with_correlation(log, correlation_id),
                    correlation_id=correlation_id,
                )
                result = await self._bounded(
                    apply.run(), lambda message: state.failed(classify.classify(DEADLINE), message)
                )
            self._latest[obj.uid] = result.status
            if state.checked is not None:
                self._checked[obj.uid] = state.checked
            return result

    async def delete(
        self, obj: ObjectView, *, log: Log, retry: int = 0, admitted: bool = False
    ) -> DeleteResult:
        """Delete the connection in Azure (policy Delete) or leave it (Orphan)."""
        correlation_id = str(uuid.uuid4())
        async with self._running(obj, admitted):
            state = self._pass(obj, retry)
            with log_context(resource=str(obj.ref), correlation_id=correlation_id):
                deletion = DeletePass(self._ports, state, log=log, correlation_id=correlation_id)
                result = await self._bounded(deletion.run(), deletion.timed_out)
        if result.done:
            self.forget(obj.uid)
        return result

    async def close(self, grace: float) -> None:
        """Refuse new passes, give those still running `grace` seconds, then cancel them: after this, no pass
        uses the ARM client or the Kubernetes client."""
        self._closed = True
        running = set(self._in_flight)
        if not running:
            return
        _, pending = await asyncio.wait(running, timeout=grace)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)

    def _pass(self, obj: ObjectView, retry: int) -> Pass:
        start = self._latest.get(obj.uid) or Status.from_raw(obj.status)
        checked = self.last_checked(obj)
        return Pass(obj, start, obj.status, self._clock(), retry, self._jitter, checked=checked)

    async def _bounded(self, run: Coroutine[Any, Any, T], timed_out: Callable[[str], T]) -> T:
        """`run` within the pass deadline; past it, `timed_out(message)` ends the pass instead."""
        seconds = self._ports.config.pass_timeout
        try:
            async with asyncio.timeout(seconds) as deadline:
                return await run
        except TimeoutError:
            if not deadline.expired():
                raise
        return timed_out(
            f"the pass did not finish within its {seconds:g}s deadline (--pass-timeout); "
            "Azure did not answer in time"
        )

    @contextlib.asynccontextmanager
    async def _running(self, obj: ObjectView, admitted: bool) -> AsyncIterator[None]:
        """A fair worker slot (unless the caller holds one), then the object's lock: always in that order, so a
        pass holding the lock never waits for a slot that passes waiting for the lock hold. The liveness clock
        starts only once the pass runs, so passes queued behind a busy operator do not look wedged."""
        if self._closed:
            raise ReconcilerClosed(str(obj.ref))
        lock = self._locks.setdefault(obj.uid, asyncio.Lock())
        slot = contextlib.nullcontext() if admitted else self.slots.slot(obj.scope)
        async with slot, lock:
            if self._closed:
                raise ReconcilerClosed(str(obj.ref))
            task = asyncio.current_task()
            assert task is not None
            self._in_flight[task] = asyncio.get_running_loop().time()
            try:
                yield
            finally:
                self._in_flight.pop(task, None)
