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
    serving.install_watch()
    serving.install_watch()  # idempotent

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


class Recorder:
    """A stream observer that records what it is told."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None, Any]] = []

    def listing(self, namespace: str | None) -> None:
        self.calls.append(("listing", namespace, None))

    def listed(self, namespace: str | None) -> None:
        self.calls.append(("listed", namespace, None))

    def observe(self, namespace: str | None, raw_event: Any) -> None:
        self.calls.append(("observe", namespace, raw_event["type"]))


class Room:
    """Room for `free` new objects; more once the test frees it."""

    def __init__(self, free: int) -> None:
        self.free = free
        self.taken: list[str] = []
        self.changed = asyncio.Event()

    def has_room(self) -> bool:
        return self.free > 0

    async def wait_room(self) -> None:
        while not self.has_room():
            self.changed.clear()
            await self.changed.wait()

    def take(self, raw_event: dict[str, Any]) -> None:
        self.free -= 1
        self.taken.append(raw_event["object"]["metadata"]["name"])

    def grow(self, more: int) -> None:
        self.free += more
        self.changed.set()


def obj(name: str, kind: str | None, **status: Any) -> dict[str, Any]:
    body = {
        "metadata": {"name": name, "uid": name, "managedFields": [{"manager": "kubectl"}]},
        "status": status,
    }
    return {"type": kind, "object": body}


def installed(room: Room) -> tuple[Recorder, list[str]]:
    observer = Recorder()
    packed: list[str] = []
    serving.install_watch(
        serving.Hooks(observer, lambda event: packed.append(event["object"]["metadata"]["name"]), room)
    )
    return observer, packed


async def feed(items: list[Any], pauses: dict[int, float]) -> AsyncIterator[Any]:
    for i, item in enumerate(items):
        await asyncio.sleep(pauses.get(i, 0))
        yield item


def names(events: list[Any]) -> list[Any]:
    return [
        e if e is watching.Bookmark.LISTED else (e["type"], e["object"]["metadata"]["name"]) for e in events
    ]


def test_the_watch_drops_managed_fields_and_tells_the_observer_of_the_resource_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    items = [obj("a", None), watching.Bookmark.LISTED, obj("a", "MODIFIED")]
    monkeypatch.setattr(watching, "continuous_watch", lambda **_: feed(items, {}))
    room = Room(10)
    observer, packed = installed(room)

    async def scenario(resource: references.Resource) -> list[Any]:
        watch: Any = watching.continuous_watch
        return [e async for e in watch(resource=resource, namespace="team-a")]

    events = run(scenario(ours(ALL_VERBS)))
    assert names(events) == [(None, "a"), watching.Bookmark.LISTED, ("MODIFIED", "a")]
    assert all("managedFields" not in e["object"]["metadata"] for e in events if isinstance(e, dict))
    assert observer.calls == [
        ("listing", "team-a", None),
        ("observe", "team-a", None),
        ("listed", "team-a", None),
        ("observe", "team-a", "MODIFIED"),
    ]
    assert packed == ["a", "a"]
    assert room.taken == ["a"], "a new object takes room; another event of it does not"

    items[:] = [obj("s", "ADDED")]
    secrets = run(scenario(references.Resource(group="", version="v1", plural="secrets")))
    assert secrets == [{"type": "ADDED", "object": {"metadata": {"name": "s", "uid": "s"}, "status": {}}}]
    assert len(observer.calls) == 4, "only WorkspaceConnections are observed"
    assert packed == ["a", "a"]
    serving.install_watch()


def test_new_objects_wait_for_room_and_the_rest_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    items = [
        obj("a", None),
        obj("b", None),
        obj("c", None),
        watching.Bookmark.LISTED,
        obj("a", "MODIFIED"),  # Kopf has a: at once
        obj("c", "MODIFIED", ready=True),  # c waits: its latest event takes its place
        obj("d", "ADDED"),
        obj("b", "DELETED"),
    ]
    room = Room(1)
    installed(room)

    async def scenario() -> list[tuple[float, Any]]:
        loop = asyncio.get_running_loop()
        stream = serving.paced(feed(items, {4: 1.0}), serving._hooks[0], "team-a")
        got = []

        async def grow() -> None:
            await asyncio.sleep(5)
            room.grow(2)
            await asyncio.sleep(5)
            room.grow(5)

        grower = asyncio.create_task(grow())
        async for event in stream:
            got.append((loop.time(), event if event is watching.Bookmark.LISTED else names([event])[0]))
        await grower
        return got

    assert run(scenario()) == [
        (0.0, (None, "a")),
        (0.0, watching.Bookmark.LISTED),
        (1.0, ("MODIFIED", "a")),
        (5.0, ("DELETED", "b")),  # b's latest event, in b's place
        (5.0, ("MODIFIED", "c")),
        (10.0, ("ADDED", "d")),
    ]
    assert room.taken == ["a", "b", "c", "d"]
    serving.install_watch()
