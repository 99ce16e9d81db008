"""Admission to Kopf's processing of a WorkspaceConnection's watch event: at most `--workers` resources in it at
once, shared fairly between subscriptions and workspaces (the reconciler's slots, arm/slots.py), and none
before every watched namespace is listed (watchindex.py).

Why: Kopf spawns a worker per object and processes every queued event at once; each object in its processing
holds about 50 KiB (its body wrapped, patch, loggers, causes, the handler's invocation and ours), and until
issue 16 the reconciler's slots were taken only inside the handler, so a burst of creations or a restart had
every object in Kopf's processing together (peak RSS 544 MiB creating 10,000 resources, 744 MiB restarting
them). Admitted here, before Kopf builds anything for the event, the rest wait as a worker task and their event,
whose body the watch stream's reader packed as compact JSON (`pack`, serving.py: about 3 KB instead of 8 KiB
of dicts) and admission unpacks.

The slot a handler's pass needs is the one admission holds (handlers pass `admitted=held()`), and the handler
lets go of it as its pass ends (`release`): Kopf then patches the status and, for a retry, sleeps out the
delay within the same processing, which must not hold a slot. Kopf's own worker limit cannot do this: it
holds a worker through those sleeps and its idle time, first come first served.

With serving.py and the watch stream, the only module that reaches into Kopf's internals (its
`processing.process_resource_event`, looked up when the operator starts; kopf is pinned and
tests/unit/test_admission.py fails if it changes).
"""

from __future__ import annotations

import asyncio
import contextvars
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kopf._core.reactor import processing

from wsconn.api.crd import GROUP, PLURAL
from wsconn.arm.slots import FairSlots, Key

Scope = Callable[[Mapping[str, Any]], Key]  # a raw spec -> its key in the slots


@dataclass
class Ticket:
    """A slot held for one event's processing; given back once (by the handler or when processing ends)."""

    release_slot: Callable[[], None]
    held: bool = field(default=True)

    def release(self) -> None:
        """Give the slot back (once)."""
        if self.held:
            self.held = False
            self.release_slot()


_CURRENT: contextvars.ContextVar[Ticket | None] = contextvars.ContextVar("wsconn_admission", default=None)


def held() -> bool:
    """Whether this task's event processing holds a slot now (a handler's pass then runs in it)."""
    ticket = _CURRENT.get()
    return ticket is not None and ticket.held


def release() -> None:
    """Give back the slot this task's event processing holds, if any: its pass is over."""
    ticket = _CURRENT.get()
    if ticket is not None:
        ticket.release()


class Admission:
    """Waits for the index and a fair slot for each WorkspaceConnection event Kopf is about to process."""

    def __init__(self, ready: asyncio.Event, scope: Scope, *, room: int = 200) -> None:
        self._ready = ready
        self._scope = scope
        self._slots: FairSlots | None = None
        self._room = room
        self._changed = asyncio.Condition()
        self.handed = 0  # new objects' events handed to Kopf (`take`) and not yet admitted

    def has_room(self) -> bool:
        """Whether Kopf may be handed one more new object now: the index is ready and fewer than `room` objects
        handed to it wait for admission (serving.paced)."""
        return self._ready.is_set() and self.handed < self._room

    async def wait_room(self) -> None:
        """Return once `has_room`."""
        await self._ready.wait()
        async with self._changed:
            await self._changed.wait_for(self.has_room)

    def take(self, raw_event: dict[str, Any]) -> None:
        """Count `raw_event` as handed to Kopf until it is admitted. Kopf spawns a worker for it only after the
        stream's reader yields, so the count starts at the hand-over, not at `enter`."""
        self.handed += 1
        raw_event[HANDED] = True

    def bind(self, slots: FairSlots) -> None:
        """The slots to admit with (the reconciler's, built at start-up before Kopf watches)."""
        self._slots = slots

    async def enter(self, raw_event: dict[str, Any]) -> Ticket:
        """Wait until the event may be processed (its body stays packed meanwhile), then unpack it."""
        slots = self._slots
        if slots is None:
            raise RuntimeError("admission is not bound to the reconciler's slots")
        key = self._scope(_spec_of(raw_event))
        try:
            await self._ready.wait()
            await slots.acquire(key)
        finally:
            if raw_event.pop(HANDED, False):
                self.handed -= 1
                async with self._changed:
                    self._changed.notify_all()
        unpack(raw_event)
        return Ticket(lambda: slots.release(key))


PACKED = "wsconn_packed"  # the raw event's key for its packed body (Kopf reads only `type` and `object`)
HANDED = "wsconn_handed"  # the raw event's mark: counted in `handed` by `take`


def pack(raw_event: dict[str, Any]) -> None:
    """Replace the event's body by compact JSON and a skeleton (`_skeleton`)."""
    body = raw_event.get("object")
    if not isinstance(body, dict) or PACKED in raw_event:
        return
    raw_event[PACKED] = json.dumps(body, separators=(",", ":")).encode()
    raw_event["object"] = _skeleton(body)


def _skeleton(body: Mapping[str, Any]) -> dict[str, Any]:
    """What Kopf's queueing reads of a body outside processing (uid, resourceVersion) and the admission key."""
    meta = body.get("metadata") or {}
    spec = body.get("spec")
    workspace = spec.get("workspace") if isinstance(spec, Mapping) else None
    return {
        "metadata": {k: meta[k] for k in ("uid", "resourceVersion", "namespace", "name") if k in meta},
        "spec": {"workspace": workspace} if workspace is not None else {},
    }


def unpack(raw_event: dict[str, Any]) -> None:
    """The event's body back, if packed."""
    packed = raw_event.pop(PACKED, None)
    if packed is not None:
        raw_event["object"] = json.loads(packed)


def _spec_of(raw_event: Mapping[str, Any]) -> Mapping[str, Any]:
    body = raw_event.get("object")
    spec = body.get("spec") if isinstance(body, Mapping) else None
    return spec if isinstance(spec, Mapping) else {}


Processor = Callable[..., Awaitable[Any]]
_ORIGINAL: Processor = processing.process_resource_event
_admission: list[Admission] = []  # the one installed (replaced, not stacked, when registered again)


def install(admission: Admission) -> None:
    """Make Kopf's processing of WorkspaceConnection events wait for `admission` (the last one installed)."""
    _admission[:] = [admission]
    processing.process_resource_event = _process  # type: ignore[assignment]


async def _process(**kwargs: Any) -> Any:
    resource = kwargs["resource"]
    if (resource.group, resource.plural) != (GROUP, PLURAL):
        return await _ORIGINAL(**kwargs)
    raw_event = kwargs["raw_event"]
    try:
        ticket = await _admission[0].enter(raw_event)
        token = _CURRENT.set(ticket)
        try:
            return await _ORIGINAL(**kwargs)
        finally:
            ticket.release()
            _CURRENT.reset(token)
    finally:
        # The body is done with. Kopf's worker keeps its last event while it idles, and Kopf's Body and Patch
        # of this processing are a reference cycle around the body, which only a full garbage collection
        # frees: emptied, it costs nothing meanwhile (18 MiB of the peak restarting 2,000 resources).
        body = raw_event.get("object")
        if isinstance(body, dict):
            raw_event["object"] = _skeleton(body)
            body.clear()
