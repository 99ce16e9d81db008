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

So, and (with indexgate.py) this is one of the two modules that reach into Kopf's internals (kopf is pinned;
tests/unit/test_serving.py and tests/e2e/test_crd_lifecycle.py fail if they change):

1. `Serving.observe` reads the API group's discovery document every 10 s (one GET; discovery needs no RBAC) and revises
   what Kopf watches when the resource appears, vanishes or starts terminating, as Kopf's own scanning would.
   While the CRD terminates, the resource is served as patchable, so Kopf's deletion handlers run and release
   the finalizers as the deletion asks.
2. `tolerate_missing_resource`: a watch of the resource that answers 404 (its CRD just vanished, before the
   next look at discovery) waits and retries instead of failing the operator.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator
from typing import Any, Final

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


def tolerate_missing_resource() -> None:
    """Make a 404 on the resource's watch a wait-and-retry instead of an operator failure (idempotent)."""
    original = watching.continuous_watch
    if getattr(original, "wsconn_tolerant", False):
        return

    async def continuous_watch(**kwargs: Any) -> AsyncIterator[Any]:
        resource = kwargs["resource"]
        try:
            async for event in original(**kwargs):
                yield event
        except errors.APINotFoundError:
            if (resource.group, resource.plural) != (GROUP, PLURAL):
                raise
            log.info("%s answered 404 (its CRD is gone); retrying in %gs", resource, MISSING_RETRY_SECONDS)
            await asyncio.sleep(MISSING_RETRY_SECONDS)

    continuous_watch.wsconn_tolerant = True  # type: ignore[attr-defined]
    watching.continuous_watch = continuous_watch
