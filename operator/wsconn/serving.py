"""Serving the WorkspaceConnection resource while its CRD comes and goes, with no permission on CRDs.

Kopf learns which resources exist from API discovery once, at start-up; watching CRDs for changes (its
"scanning") needs cluster-wide RBAC on CRDs, which the chart does not grant, so the operator turns it off.
Alone, Kopf then fails three ways (measured, issue 12):

- the CRD deleted while running: once the last object's finalizer is released the CRD vanishes, the watch of
  the resource answers 404, and the operator exits (Kopf notes the risk in `_update_resources`);
- started while the CRD is terminating: discovery lists the resource without the `patch` verb (the API server
  refuses only creation then; patches still work), Kopf will not serve a resource it cannot patch, and no
  finalizer is ever released: the CRD stays Terminating;
- started before the CRD exists: it never serves it.

So, and (with admission.py) this is one of the two modules that reach into Kopf's internals (kopf is pinned;
tests/unit/test_serving.py and tests/e2e/test_crd_lifecycle.py fail if they change):

1. `Serving.observe` reads the API group's discovery document every 10 s (one GET; discovery needs no RBAC) and revises
   what Kopf watches when the resource appears, vanishes or starts terminating, as Kopf's own scanning would.
   While the CRD terminates, the resource is served as patchable, so Kopf's deletion handlers run and release
   the finalizers as the deletion asks.
2. `install_watch`: a watch of the resource that answers 404 (its CRD just vanished, before the next look at
   discovery) waits and retries instead of failing the operator. The same wrapper of Kopf's watch stream
   drops every object's managedFields as it is read and hands the resource's events to the operator's
   index first (watchindex.py).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from asyncio import FIRST_COMPLETED
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol

import kopf
from kopf._cogs.clients import errors, scanning, watching
from kopf._cogs.structs import references
from kopf._core.reactor import observation

from wsconn.api.crd import GROUP, PLURAL, VERSION

log = logging.getLogger("wsconn.serving")

POLL_SECONDS: Final = 10.0


class Serving:
    """What Kopf watches (its `insights`, handed to `kopf.run`), kept in step with discovery."""

    def __init__(self, registry: kopf.OperatorRegistry, *, interval: float = POLL_SECONDS) -> None:
        self.insights = references.Insights()
        self._registry = registry
        self._interval = interval
        self.state = "unknown"

    async def observe(self, settings: kopf.OperatorSettings) -> None:
        """Forever: look at discovery, revise what is watched, sleep."""
        await self.insights.ready_resources.wait()  # Kopf's own first scan, which a revision must follow
        while True:
            try:
                await self.revise(settings)
            except (errors.APIError, OSError) as exc:  # Kopf has logged and retried; look again later
                log.debug("discovery of %s failed: %s", GROUP, exc)
            await asyncio.sleep(self._interval)

    async def revise(self, settings: kopf.OperatorSettings) -> None:
        """One look at discovery: serve the resource while it exists (patchable while terminating)."""
        # One GET of the group-version's discovery document (404: no such resource), read as Kopf reads it.
        found = await scanning._read_version(
            url=f"/apis/{GROUP}/{VERSION}",
            group=GROUP,
            version=VERSION,
            preferred=True,
            settings=settings,
            logger=log,
        )
        ours = {r for r in found if r.plural == PLURAL}
        state = resource_state(ours)
        if state == "terminating":
            # Discovery hides patch while the CRD terminates, but the API server still takes patches: the
            # finalizers are released by patches, so Kopf must not skip the resource for lack of the verb.
            ours = {dataclasses.replace(r, verbs=r.verbs | {"patch"}) for r in ours}
        served = any((r.plural, r.version) == (PLURAL, VERSION) for r in self.insights.watched_resources)
        if state != self.state:
            log.info("the %s.%s resource is %s", PLURAL, GROUP, _STATES[state])
            self.state = state
        if served == bool(ours):
            return
        async with self.insights.revised:
            observation.revise_resources(
                group=GROUP,
                insights=self.insights,
                registry=self._registry,
                resources=ours,
            )
            self.insights.revised.notify_all()


_STATES: Final = {
    "absent": "not served (no CRD): waiting for it",
    "terminating": "terminating (its CRD is being deleted): finishing the deletions",
    "served": "served",
}


def resource_state(resources: set[Any]) -> str:
    """'absent', 'terminating' (listed without `create`, as while the CRD is deleted) or 'served'."""
    if not resources:
        return "absent"
    return "served" if all("create" in r.verbs for r in resources) else "terminating"


MISSING_RETRY_SECONDS: Final = 2.0


class StreamObserver(Protocol):
    """What follows the resource's watch streams as they are read (watchindex.WatchIndex)."""

    def listing(self, namespace: str | None) -> None: ...

    def listed(self, namespace: str | None) -> None: ...

    def observe(self, namespace: str | None, raw_event: Mapping[str, Any]) -> None: ...


class Room(Protocol):
    """Whether Kopf may be handed one more new object now (admission.Admission)."""

    def has_room(self) -> bool: ...

    async def wait_room(self) -> None: ...

    def take(self, raw_event: dict[str, Any]) -> None: ...


@dataclass(frozen=True)
class Hooks:
    """What the resource's watch streams call as they are read."""

    observer: StreamObserver
    pack: Callable[[dict[str, Any]], None]  # packs an event's body until Kopf processes it (admission.pack)
    room: Room


_hooks: list[Hooks] = []  # the last installed (replaced, not stacked)


def drop_managed_fields(body: Any) -> None:
    """Drop `metadata.managedFields` from a raw object, in place: nothing here reads them."""
    meta = body.get("metadata") if isinstance(body, dict) else None
    if isinstance(meta, dict):
        meta.pop("managedFields", None)


def install_watch(hooks: Hooks | None = None) -> None:
    """Wrap Kopf's watch streams (idempotent; the last hooks given are the ones called):

    - every event's object loses `metadata.managedFields` as it is read, before Kopf queues it: nothing here
      reads them, and they were about half of a resource's body as Kopf holds it (11 KiB of Python objects per
      resource at a restart, issue 16), and more of a Secret's;
    - the resource's listings and events go to the observer first (its indexes are then complete once the
      listings are, whatever Kopf's workers are doing), and each event's body is packed until Kopf processes
      it (admission.py);
    - a new object (listed or ADDED) reaches Kopf only when there is room (`paced`);
    - a 404 on the resource's watch (its CRD just vanished, before the next look at discovery) waits and ends
      the stream instead of failing the operator; Kopf then watches again.
    """
    _hooks[:] = [hooks] if hooks is not None else []
    if getattr(watching.continuous_watch, "wsconn_wrapped", False):
        return
    original = watching.continuous_watch

    async def continuous_watch(**kwargs: Any) -> AsyncIterator[Any]:
        resource = kwargs["resource"]
        namespace = kwargs.get("namespace")
        ours = (resource.group, resource.plural) == (GROUP, PLURAL)
        hooks = _hooks[0] if ours and _hooks else None
        try:
            if hooks is None:
                async for event in original(**kwargs):
                    if isinstance(event, dict):
                        drop_managed_fields(event.get("object"))
                    yield event
            else:
                async for event in paced(original(**kwargs), hooks, namespace):
                    yield event
        except errors.APINotFoundError:
            if not ours:
                raise
            log.info("%s answered 404 (its CRD is gone); retrying in %gs", resource, MISSING_RETRY_SECONDS)
            await asyncio.sleep(MISSING_RETRY_SECONDS)

    continuous_watch.wsconn_wrapped = True  # type: ignore[attr-defined]
    watching.continuous_watch = continuous_watch


async def paced(stream: AsyncIterator[Any], hooks: Hooks, namespace: str | None) -> AsyncIterator[Any]:
    """The resource's watch stream as Kopf gets it: every event observed and packed as it is read, and a new
    object (listed, or ADDED) handed to Kopf only when there is room.

    Kopf holds about 12 KiB for each object it has been handed and not processed yet (its worker, queue and
    event): 120 MiB when 10,000 resources are created at once or listed at a restart. Held here, an object
    costs its packed event, about 3.5 KB; a later event of a held object replaces it in its place (Kopf
    processes an object's latest state), and events of the objects Kopf has pass at once, so their changes and
    deletions do not wait behind a burst of new ones. The stream is read on meanwhile.
    """
    # uid -> its latest event, oldest first. An OrderedDict: a plain dict's first key is found by skipping the
    # slots of those popped before it, which made handing on 100,000 held objects take 3.9 s (0.03 s now).
    held: OrderedDict[str, dict[str, Any]] = OrderedDict()
    # Kopf's stream is read by a task of its own, as Kopf's watcher read it: its request's timeouts belong to
    # the task that started it.
    items: asyncio.Queue[tuple[Any, BaseException | None]] = asyncio.Queue()
    reader = asyncio.create_task(_read(stream, items))
    hooks.observer.listing(namespace)
    try:
        while True:
            while held and hooks.room.has_room():
                _, event = held.popitem(last=False)
                hooks.room.take(event)
                yield event
            if items.empty() and held:
                roomy = asyncio.ensure_future(hooks.room.wait_room())
                getting = asyncio.ensure_future(items.get())
                await asyncio.wait([roomy, getting], return_when=FIRST_COMPLETED)
                roomy.cancel()
                if not getting.done():
                    getting.cancel()
                    continue
                item, error = getting.result()
            else:
                item, error = await items.get()
            if error is not None:
                raise error
            if item is _END:
                break
            seen = _observe(item, hooks, namespace)
            if seen is not None:
                uid, new = seen
                if uid in held or (new and not hooks.room.has_room()):
                    held[uid] = item
                    continue
                if new:
                    hooks.room.take(item)
            yield item
        while held:  # the stream ended (a watch that expired): what is held still goes to Kopf
            await hooks.room.wait_room()
            _, event = held.popitem(last=False)
            hooks.room.take(event)
            yield event
    finally:
        reader.cancel()


_END: Final = object()  # the end of Kopf's stream, in `paced`'s queue


async def _read(stream: AsyncIterator[Any], items: asyncio.Queue[tuple[Any, BaseException | None]]) -> None:
    """Every item of `stream` into `items`, then _END, or the exception that ended it."""
    try:
        async for item in stream:
            items.put_nowait((item, None))
    except Exception as exc:  # handed to the reader of `items`, which raises it in Kopf's watcher
        items.put_nowait((None, exc))
    else:
        items.put_nowait((_END, None))


def _observe(event: Any, hooks: Hooks, namespace: str | None) -> tuple[str, bool] | None:
    """One item of the stream observed (and an event packed): the event's object's uid and whether it is new
    (listed, or ADDED); None for a bookmark."""
    if event is watching.Bookmark.LISTED:
        hooks.observer.listed(namespace)
    if not isinstance(event, dict):
        return None
    drop_managed_fields(event.get("object"))
    hooks.observer.observe(namespace, event)
    hooks.pack(event)
    uid = str(((event.get("object") or {}).get("metadata") or {}).get("uid") or "")
    return uid, event.get("type") in (None, "ADDED")
