"""serving.py: what Kopf watches follows discovery, and a vanished resource's watch waits instead of failing.

Kopf's reading of a discovery document is replaced by a list of resources per test; Kopf's own insights and revision code are
the real ones, so a Kopf upgrade that changes them fails here (kopf is pinned in pyproject.toml)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import kopf
import pytest
from kopf._cogs.clients import errors, scanning, watching
from kopf._cogs.structs import references

from tests.unit.virtual import run
from wsconn import handlers, serving
from wsconn.settings import Settings

ALL_VERBS = frozenset({"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"})
TERMINATING_VERBS = frozenset({"delete", "deletecollection", "get", "list", "watch"})


def ours(verbs: frozenset[str]) -> references.Resource:
    return references.Resource(
        group="azureml.dev",
        version="v1alpha1",
        plural="workspaceconnections",
        kind="WorkspaceConnection",
        singular="workspaceconnection",
        namespaced=True,
        preferred=True,
        verbs=verbs,
    )


@pytest.mark.parametrize(
    ("found", "state"),
    [(set(), "absent"), ({ours(ALL_VERBS)}, "served"), ({ours(TERMINATING_VERBS)}, "terminating")],
)
def test_resource_state(found: set[Any], state: str) -> None:
    assert serving.resource_state(found) == state


def watched(registry_serving: serving.Serving) -> dict[str, frozenset[str]]:
    return {r.plural: r.verbs for r in registry_serving.insights.watched_resources}


def test_the_resource_is_served_as_discovery_says_and_patchable_while_terminating(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    registry = kopf.OperatorRegistry()
    live = handlers.register(registry, Settings(), build=None)
    answers: list[set[references.Resource]] = [
        {ours(TERMINATING_VERBS)},
        {ours(TERMINATING_VERBS)},
        set(),
        {ours(ALL_VERBS)},
    ]

    async def read(*, url: str, **_: Any) -> set[references.Resource]:
        assert url == "/apis/azureml.dev/v1alpha1"
        return answers.pop(0)

    monkeypatch.setattr(scanning, "_read_version", read)

    async def scenario() -> list[tuple[str, dict[str, frozenset[str]]]]:
        seen = []
        for _ in range(4):
            await live.revise(kopf.OperatorSettings())
            seen.append((live.state, watched(live)))
        return seen

    assert run(scenario()) == [
        ("terminating", {"workspaceconnections": TERMINATING_VERBS | {"patch"}}),
        ("terminating", {"workspaceconnections": TERMINATING_VERBS | {"patch"}}),
        ("absent", {}),
        ("served", {"workspaceconnections": ALL_VERBS}),
    ]


def test_the_observer_starts_after_kopfs_own_first_scan_and_keeps_looking(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    live = serving.Serving(kopf.OperatorRegistry(), interval=5.0)
    looks: list[float] = []

    async def revise(_: Any) -> None:
        looks.append(asyncio.get_running_loop().time())
        if len(looks) == 2:
            raise errors.APIServerError("etcd is down", status=503, headers={})

    monkeypatch.setattr(live, "revise", revise)

    async def scenario() -> None:
        observer = asyncio.create_task(live.observe(kopf.OperatorSettings()))
        await asyncio.sleep(3)
        assert looks == [], "nothing before Kopf's first scan"
        live.insights.ready_resources.set()
        await asyncio.sleep(12)
        observer.cancel()
        await asyncio.gather(observer, return_exceptions=True)

    run(scenario())
    assert looks == [3.0, 8.0, 13.0], "a failed look is retried at the next interval"


async def failing_watch(**_: Any) -> AsyncIterator[Any]:
    yield {"type": "ADDED", "object": {}}
    raise errors.APINotFoundError("404 page not found", status=404, headers={})


def test_a_404_on_the_resources_watch_waits_and_ends_the_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(watching, "continuous_watch", failing_watch)
    serving.tolerate_missing_resource()
    serving.tolerate_missing_resource()  # idempotent

    async def scenario(resource: references.Resource) -> tuple[list[Any], float]:
        loop = asyncio.get_running_loop()
        started = loop.time()
        watch: Any = watching.continuous_watch
        events = [e async for e in watch(resource=resource)]
        return events, loop.time() - started

    events, took = run(scenario(ours(ALL_VERBS)))
    assert events == [{"type": "ADDED", "object": {}}]
    assert took == serving.MISSING_RETRY_SECONDS

    other = references.Resource(group="", version="v1", plural="secrets")
    with pytest.raises(errors.APINotFoundError):
        run(scenario(other))
