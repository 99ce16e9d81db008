"""The timed passes of every watched WorkspaceConnection, run by one task: the drift check of Ready resources and
the end of the missing-Secret grace of resources waiting for a Secret.

Why not Kopf's timers: a Kopf timer is a task per object, and Kopf then keeps the whole last-seen body of
every object (managedFields included) for it, whether the timer's filter matches or not. Measured at
N = 1,000 (issue 16), that was the largest part of the operator's memory per resource. Here, each object costs
one small record (`Watched`: the view a pass needs, without metadata), updated from the watch events the
operator sees anyway, and one sweep over them per tick decides what is due; what is due runs as a pass of
its own, bounded by the reconciler's worker slots like every other pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from wsconn.api.status import FRAMEWORK_FIELD, Status, raw_fields
from wsconn.core import grace
from wsconn.reconciler import ObjectView

log = logging.getLogger("wsconn.timers")

Check = Callable[[ObjectView], Awaitable[None]]
Due = Callable[[ObjectView], bool]


# The status fields the due tests read (Reconciler.drift_check_due and grace_over, when the reconciler has no
# status of its own for the resource yet): all the sweeps look at for a resource not yet due.
DUE_FIELDS = raw_fields("observed_generation", "observed_generation_time", "last_checked_time")


@dataclass(frozen=True)
class Watched:
    """What the timers keep of one watched resource: a skeleton view for the due tests (identity, generation and
    DUE_FIELDS; no spec), the whole view packed as compact JSON (unpacked only for a timed pass), and the two
    filters computed once per event. Packed, the operator's records of a resource (this, the reconciler's last
    status and lock) take 5.6 KiB instead of 8.6 (tracemalloc, on a 3.4 KB resource; issue 16)."""

    basis: ObjectView
    packed: bytes
    ready: bool  # Ready for its current generation: the drift check's filter
    waiting: bool  # waiting for a Secret within its grace: the grace timer's filter

    def view(self) -> ObjectView:
        """The view a timed pass needs."""
        spec, status, annotations = json.loads(self.packed)
        return replace(self.basis, spec=spec, status=status, annotations=annotations)


def watched(body: Mapping[str, Any]) -> Watched | None:
    """The record of a resource from its body; None when it is being deleted (no timed pass then)."""
    meta = body.get("metadata") or {}
    if meta.get("deletionTimestamp"):
        return None
    view = ObjectView.from_body(body)
    # Kopf's own records (status.kopf) are Kopf's business, not a pass's: not kept.
    kept = {k: v for k, v in view.status.items() if k != FRAMEWORK_FIELD}
    status = Status.from_raw(kept)
    basis = replace(view, spec={}, status={k: kept[k] for k in DUE_FIELDS if k in kept}, annotations={})
    packed = json.dumps([view.spec, kept, view.annotations], separators=(",", ":")).encode()
    return Watched(basis, packed, status.is_ready(view.generation), grace.waiting(status))


class Timers:
    """The watched resources and the two sweeps over them.

    Every `drift_tick` seconds, `drift` runs for each Ready resource whose check `drift_due` says is due; every
    `grace_tick` seconds, `grace_ended` for each resource waiting for a Secret whose grace `grace_over` says
    has ended (both tests are cheap: no I/O). A resource has at most one timed pass in flight; a tick that
    finds it still running skips it. A tick of None turns that sweep off.
    """

    def __init__(
        self,
        *,
        drift_tick: float | None,
        drift_due: Due,
        drift: Check,
        grace_tick: float | None,
        grace_over: Due,
        grace_ended: Check,
    ) -> None:
        self._drift = (drift_tick, drift_due, drift)
        self._grace = (grace_tick, grace_over, grace_ended)
        self._items: dict[str, Watched] = {}
        self._running: dict[str, asyncio.Task[None]] = {}
        self._sweeps: list[asyncio.Task[None]] = []

    def __len__(self) -> int:
        return len(self._items)

    def seen(self, body: Mapping[str, Any]) -> None:
        """Record the latest body of a resource (called for every watch event of it)."""
        uid = str((body.get("metadata") or {}).get("uid", ""))
        item = watched(body)
        if item is None:
            self.forget(uid)
        else:
            self._items[uid] = item

    def forget(self, uid: str) -> None:
        """A resource is gone or going: no more timed passes for it (one in flight finishes)."""
        self._items.pop(uid, None)

    def due_drift(self) -> list[ObjectView]:
        """The views whose drift check is due now: Ready, due, and not already in a timed pass."""
        _, due, _ = self._drift
        return [
            w.view()
            for uid, w in self._items.items()
            if w.ready and uid not in self._running and due(w.basis)
        ]

    def due_grace(self) -> list[ObjectView]:
        """The views whose grace has ended now: waiting for a Secret, over, and not already in a timed pass."""
        _, over, _ = self._grace
        return [
            w.view()
            for uid, w in self._items.items()
            if w.waiting and uid not in self._running and over(w.basis)
        ]

    def start(self) -> None:
        """Start the sweeps (in the running loop)."""
        for (tick, _, run), due in ((self._drift, self.due_drift), (self._grace, self.due_grace)):
            if tick is not None:
                self._sweeps.append(asyncio.create_task(self._sweep(tick, due, run)))

    async def stop(self) -> None:
        """Stop the sweeps and cancel the timed passes in flight (a drift check cut short is repeated after a
        restart; it has written nothing)."""
        tasks = [*self._sweeps, *self._running.values()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._sweeps.clear()
        self._running.clear()

    async def _sweep(self, tick: float, due: Callable[[], list[ObjectView]], run: Check) -> None:
        while True:
            await asyncio.sleep(tick)
            for view in due():
                task = asyncio.create_task(self._guarded(run, view))
                self._running[view.uid] = task

    async def _guarded(self, run: Check, view: ObjectView) -> None:
        try:
            await run(view)
        except asyncio.CancelledError:
            raise
        except Exception:  # one resource's failure must not end the sweeps
            log.exception("timed pass of %s/%s failed", view.namespace, view.name)
        finally:
            self._running.pop(view.uid, None)
