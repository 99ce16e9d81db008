"""handlers.py: the Kopf wiring, called as Kopf calls it (the registered functions, Kopf's Body and Patch, its
event queue), with the real Reconciler over in-memory ports (tests/unit/fakes.py). What Kopf itself does
with a handler's outcome (patching, retrying, timers) is Kopf's, and covered by the e2e tests."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Coroutine
from dataclasses import replace
from typing import Any

import kopf
import pytest
from aiohttp import web
from kopf._core.engines import posting

from tests.unit.fakes import NOW, Shell, apikey_spec, secret, view
from tests.unit.virtual import run
from wsconn import handlers
from wsconn.api.references import ObjectRef, SecretRef
from wsconn.arm.errors import ArmError
from wsconn.core.ownership import Claimant
from wsconn.handlers import StatusDiffBase
from wsconn.metrics import ReadyTracker
from wsconn.reconciler import ObjectView
from wsconn.settings import Settings
from wsconn.watchindex import TRIGGER_ANNOTATION, SecretUser, WatchIndex

LOG = logging.getLogger("test")
KEY = "00000000-0000-0000-0000-000000000001/rg/ws-main/conn"  # the connection apikey_spec() names


class FakeSeen:
    """Records the Secret events handed to SeenSecrets."""

    def __init__(self) -> None:
        self.changes: list[tuple[SecretRef, str | None]] = []

    def changed(self, ref: SecretRef, *, version: str | None) -> None:
        self.changes.append((ref, version))


class FakeEvents:
    """Records the Events a timed pass posts."""

    def __init__(self) -> None:
        self.posted: list[tuple[ObjectRef, str, str]] = []

    async def post(self, ref: ObjectRef, uid: str, *, type: str, reason: str, message: str) -> None:
        self.posted.append((ref, type, reason))


class Wiring:
    """The registered handlers, a memo holding a Reconciler over fakes, and Kopf's event queue."""

    def __init__(self, shell: Shell | None = None, **settings: Any) -> None:
        self.shell = shell or Shell()
        self.registry = kopf.OperatorRegistry()
        self.built: list[kopf.Memo] = []
        self.triggered: list[tuple[ObjectRef, str]] = []
        self.shut_down = False

        async def build(_: kopf.OperatorSettings, memo: kopf.Memo) -> None:
            memo.reconciler = self.shell.reconciler
            memo.trigger = self.trigger
            memo.status_writer = self.shell.writer
            memo.seen_secrets = self.seen
            memo.events = self.event_poster

            async def shutdown() -> None:
                self.shut_down = True

            memo.shutdown = shutdown
            self.built.append(memo)

        self.event_poster = FakeEvents()
        self.seen = FakeSeen()
        self.settings = Settings(**settings)
        # The index the handlers read, fed here directly (tests/unit/test_watchindex.py feeds it events).
        self.index = WatchIndex()
        self.serving = handlers.register(self.registry, self.settings, build, self.index)
        self.memo = kopf.Memo(
            reconciler=self.shell.reconciler,
            trigger=self.trigger,
            status_writer=self.shell.writer,
            events=self.event_poster,
            seen_secrets=self.seen,
        )
        self.memo.timers = self.timers = handlers.timed_passes(
            self.settings, self.memo, ReadyTracker(), self.index
        )
        self.events: asyncio.Queue[Any] | None = None
        self.claimed: list[Claimant] = []

    async def trigger(self, ref: ObjectRef, marker: str) -> None:
        self.triggered.append((ref, marker))

    def handler(self, handler_id: str, kind: str = "changing") -> Callable[..., Any]:
        registry: Any = {
            "changing": self.registry._changing,
            "spawning": self.registry._spawning,
            "watching": self.registry._watching,
            "indexing": self.registry._indexing,
            "activities": self.registry._activities,
        }[kind]
        found: Callable[..., Any] = next(
            h.fn for h in registry.get_all_handlers() if str(h.id).startswith(handler_id)
        )
        return found

    async def call(self, handler_id: str, kind: str = "changing", **kwargs: Any) -> Any:
        self.events = asyncio.Queue()
        posting.settings_var.set(kopf.OperatorSettings())
        posting.event_queue_var.set(self.events)
        posting.event_queue_loop_var.set(asyncio.get_running_loop())
        result = self.handler(handler_id, kind)(memo=self.memo, logger=LOG, **kwargs)
        return await result if asyncio.iscoroutine(result) else result

    def claim(self, *claimants: Claimant) -> None:
        """The claimants of KEY in the index, instead of those before."""
        for uid in [f"{c.namespace}/{c.name}" for c in self.claimed]:
            self.index.claims.drop(uid, [KEY])
        self.claimed = list(claimants)
        for c in claimants:
            self.index.claims.put(f"{c.namespace}/{c.name}", {KEY: c})

    def users(self, secret: SecretRef, users: list[SecretUser]) -> None:
        """The users of `secret` in the index."""
        for user in users:
            self.index.secret_users.put(user[0], {secret: user})

    def posted(self) -> list[tuple[str, str]]:
        assert self.events is not None
        out = []
        while not self.events.empty():
            event = self.events.get_nowait()
            out.append((event.type, event.reason))
        return out


def body(obj: ObjectView, **meta: Any) -> kopf.Body:
    raw: Any = {
        "apiVersion": "azureml.dev/v1alpha1",
        "kind": "WorkspaceConnection",
        "metadata": {
            "namespace": obj.namespace,
            "name": obj.name,
            "uid": obj.uid,
            "generation": obj.generation,
            **meta,
        },
        "spec": dict(obj.spec),
        "status": dict(obj.status),
    }
    return kopf.Body(raw)


def in_loop(scenario: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    return run(scenario())


# ---- reconcile ------------------------------------------------------------------------------------------------


def test_reconcile_patches_status_and_posts_events_for_news_only() -> None:
    wiring = Wiring()
    patch, again = kopf.Patch(), kopf.Patch()

    async def create() -> list[tuple[str, str]]:
        await wiring.call("reconcile", body=body(view()), patch=patch, retry=0)
        return wiring.posted()

    assert in_loop(create) == [], "a first write that is Ready says so in status: no Event"
    assert patch["status"]["appliedFingerprint"].startswith("sha256:")
    wiring.shell.secrets.put("ns", secret("openai", {"api-key": b"sk-rotated-value"}, version="2"))
    written = view(status=dict(patch["status"]))

    async def rotate() -> list[tuple[str, str]]:
        await wiring.call("reconcile", body=body(written), patch=again, retry=0)
        return wiring.posted()

    assert in_loop(rotate) == [("Normal", "Applied")]
    assert wiring.shell.arm.methods() == ["GET", "PUT", "PUT"]


def test_reconcile_hands_a_transient_failure_to_kopfs_retry() -> None:
    wiring = Wiring()
    wiring.shell.arm.failures["PUT"] = [ArmError(503, "ServiceUnavailable", "busy", "rid", 12.0)]
    patch = kopf.Patch()

    async def scenario() -> None:
        await wiring.call("reconcile", body=body(view()), patch=patch, retry=0)

    with pytest.raises(kopf.TemporaryError) as retry:
        in_loop(scenario)
    assert retry.value.delay == 12.0
    ready = next(c for c in patch["status"]["conditions"] if c["type"] == "Ready")
    assert ready["reason"] == "AzureUnavailable"


def test_reconcile_after_shutdown_does_nothing() -> None:
    wiring = Wiring()
    patch = kopf.Patch()

    async def scenario() -> None:
        await wiring.shell.reconciler.close(grace=0)
        await wiring.call("reconcile", body=body(view()), patch=patch, retry=0)

    in_loop(scenario)
    assert patch == {}
    assert wiring.shell.arm.calls == []


# ---- timed passes: drift checks ----------------------------------------------------------------------------------


def applied_body(wiring: Wiring) -> tuple[ObjectView, kopf.Body]:
    first = run(wiring.shell.reconciler.reconcile(view(), log=LOG))
    obj = view(status=first.status.to_raw())
    return obj, body(obj)


def drift_check(wiring: Wiring, obj: ObjectView) -> None:
    """What a drift sweep does with what it finds due: run the timed pass of each."""

    async def scenario() -> None:
        for due in wiring.timers.due_drift():
            assert due.uid == obj.uid
            await wiring.timers._drift[2](due)

    in_loop(scenario)


def test_a_timed_drift_check_runs_only_when_due() -> None:
    wiring = Wiring()
    obj, current = applied_body(wiring)
    wiring.timers.seen(current)
    assert wiring.timers.due_drift() == [], "not due yet"
    wiring.shell.now = NOW.replace(hour=12)
    drift_check(wiring, obj)
    assert wiring.shell.arm.methods() == ["GET", "PUT", "GET"]
    [(ref, patch)] = wiring.shell.writer.patches
    assert ref == obj.ref
    assert set(patch) == {"lastCheckedTime"}, "the hourly lastCheckedTime, written by the timed pass itself"
    assert wiring.event_poster.posted == []


def test_a_timed_drift_correction_writes_its_status_and_posts_its_event() -> None:
    wiring = Wiring()
    obj, current = applied_body(wiring)
    wiring.timers.seen(current)
    wiring.shell.now = NOW.replace(hour=12)
    wiring.shell.arm.connections.clear()  # deleted in Azure behind the operator's back
    drift_check(wiring, obj)
    assert wiring.shell.arm.methods()[-2:] == ["GET", "PUT"]
    assert [(ref, reason) for ref, _, reason in wiring.event_poster.posted] == [
        (obj.ref, "DriftCorrected"),
        (obj.ref, "Applied"),
    ]
    assert "lastAppliedTime" in wiring.shell.writer.patches[-1][1]


def test_a_failed_check_is_handed_to_the_change_handler() -> None:
    wiring = Wiring()
    obj, current = applied_body(wiring)
    wiring.timers.seen(current)
    wiring.shell.now = NOW.replace(hour=12)
    wiring.shell.arm.failures["GET"] = [ArmError(503, "ServiceUnavailable", "busy", "rid")]
    drift_check(wiring, obj)
    [(ref, marker)] = wiring.triggered
    assert ref == obj.ref
    assert marker.startswith("drift-retry@")


def test_the_sweep_runs_due_checks_each_tick_and_stop_cuts_a_check_short() -> None:
    wiring = Wiring()
    _, current = applied_body(wiring)
    wiring.timers.seen(current)
    wiring.shell.now = NOW.replace(hour=12)
    wiring.shell.arm.latency["GET"] = 60.0

    async def scenario() -> float:
        loop = asyncio.get_running_loop()
        wiring.timers.start()
        tick = wiring.timers._drift[0]
        assert tick == 60.0, "a quarter of the drift interval, at most a minute"
        await asyncio.sleep(tick + 1)  # one tick: the check is in flight
        assert wiring.shell.arm.methods() == ["GET", "PUT", "GET"], "the check's GET, not answered yet"
        assert wiring.timers.due_drift() == [], "a resource in a timed pass is not handed on twice"
        started = loop.time()
        await wiring.timers.stop()
        return loop.time() - started

    assert in_loop(scenario) < 0.1
    assert wiring.shell.writer.patches == [], "a check cut short writes nothing"


def test_only_ready_resources_not_being_deleted_get_drift_checks() -> None:
    wiring = Wiring()
    obj, _ = applied_body(wiring)
    wiring.shell.now = NOW.replace(hour=12)
    wiring.timers.seen(body(obj, generation=2))
    assert wiring.timers.due_drift() == [], "not Ready for its generation"
    wiring.timers.seen(body(obj, generation=1))
    assert [v.uid for v in wiring.timers.due_drift()] == [obj.uid]
    checked = wiring.timers.due_drift()[0]
    assert "kopf" not in checked.status, "Kopf's records are not kept"
    full = ObjectView.from_body(body(obj, generation=1))
    assert checked == replace(full, status={k: v for k, v in full.status.items() if k != "kopf"})
    wiring.timers.seen(body(obj, deletionTimestamp="2026-01-01T00:00:00Z"))
    assert wiring.timers.due_drift() == [], "being deleted"
    assert len(wiring.timers) == 0


def test_the_watch_keeps_the_latest_view_and_forgets_the_deleted() -> None:
    wiring = Wiring()
    _, current = applied_body(wiring)

    async def event(kind: str) -> None:
        await wiring.call("watched", "watching", type=kind, body=current)

    in_loop(lambda: event("ADDED"))
    assert len(wiring.timers) == 1
    in_loop(lambda: event("DELETED"))
    assert len(wiring.timers) == 0


# ---- timed passes: the missing-Secret grace -------------------------------------------------------------------


def waiting_body(wiring: Wiring) -> tuple[ObjectView, kopf.Body]:
    first = run(wiring.shell.reconciler.reconcile(view(spec=apikey_spec(secret="absent")), log=LOG))
    obj = view(spec=apikey_spec(secret="absent"), status=first.status.to_raw())
    return obj, body(obj)


def test_the_grace_timer_hands_the_resource_over_only_when_the_grace_ends() -> None:
    wiring = Wiring()
    obj, current = waiting_body(wiring)
    read_by_the_pass = list(wiring.shell.secrets.reads)
    wiring.timers.seen(current)

    async def sweep() -> None:
        for due in wiring.timers.due_grace():
            await wiring.timers._grace[2](due)

    wiring.shell.now = NOW + dt.timedelta(seconds=300)  # the stored second's end + 300 s is 301 s
    in_loop(sweep)
    assert wiring.triggered == [], "nothing while the grace lasts"
    wiring.shell.now = NOW + dt.timedelta(seconds=301)
    in_loop(sweep)
    [(ref, marker)] = wiring.triggered
    assert ref == obj.ref
    assert marker.startswith("grace-ended@")
    assert SecretRef("ns", "absent") in read_by_the_pass
    assert wiring.shell.secrets.reads == read_by_the_pass, "the timer itself reads nothing"


def test_the_grace_sweep_looks_only_at_waiting_resources_and_ticks_by_the_grace() -> None:
    wiring = Wiring(missing_secret_grace=30)
    waiting, _ = waiting_body(wiring)
    ready, _ = applied_body(wiring)
    wiring.shell.now = NOW + dt.timedelta(days=1)
    wiring.timers.seen(body(waiting))
    assert [v.uid for v in wiring.timers.due_grace()] == [waiting.uid]
    wiring.timers.seen(body(ready))
    assert wiring.timers.due_grace() == []
    assert wiring.timers._grace[0] == 3.0
    assert Wiring(missing_secret_grace=0).timers._grace[0] is None, "no grace, no sweep"
    assert Wiring(drift_interval=0).timers._drift[0] is None, "no drift interval, no sweep"


# ---- one owner per connection ---------------------------------------------------------------------------------


def test_a_resource_whose_connection_another_owns_is_stalled_by_the_handler() -> None:
    wiring = Wiring()
    wiring.claim(
        Claimant("team-a", "conn", "2026-01-01T00:00:00Z", applied=True),
        Claimant("ns", "conn", "2026-02-01T00:00:00Z", applied=False),
    )
    patch = kopf.Patch()

    async def scenario() -> None:
        await wiring.call("reconcile", body=body(view()), patch=patch, retry=0)

    in_loop(scenario)
    assert wiring.shell.arm.calls == []
    assert [c["reason"] for c in patch["status"]["conditions"]] == ["ConnectionConflict"] * 3

    async def deletion() -> None:
        await wiring.call("delete", body=body(view()), patch=kopf.Patch(), retry=0)

    in_loop(deletion)
    assert wiring.shell.arm.calls == [], "its deletion deletes nothing"


def test_when_a_resource_is_gone_the_next_in_line_is_triggered() -> None:
    wiring = Wiring()
    gone = body(view())
    wiring.claim(
        Claimant("team-c", "conn", "2026-03-01T00:00:00Z", applied=False),
        Claimant("team-b", "conn", "2026-02-01T00:00:00Z", applied=False),
    )

    async def event(kind: str) -> None:
        await wiring.call("watched", "watching", type=kind, body=gone)

    in_loop(lambda: event("MODIFIED"))
    assert wiring.triggered == []
    in_loop(lambda: event("DELETED"))
    [(ref, marker)] = wiring.triggered
    assert ref == ObjectRef("team-b", "conn")
    assert marker.startswith("owner-gone@")
    wiring.claim()
    in_loop(lambda: event("DELETED"))
    assert len(wiring.triggered) == 1, "nobody left: nothing to trigger"


# ---- delete ---------------------------------------------------------------------------------------------------


def test_delete_lets_the_finalizer_go_when_done() -> None:
    wiring = Wiring()
    _obj, current = applied_body(wiring)

    async def scenario() -> None:
        await wiring.call("delete", body=current, patch=kopf.Patch(), retry=0)

    in_loop(scenario)
    assert wiring.shell.arm.methods() == ["GET", "PUT", "DELETE"]


def test_a_failed_delete_keeps_the_finalizer_warns_and_retries() -> None:
    wiring = Wiring()
    _, current = applied_body(wiring)
    wiring.shell.arm.failures["DELETE"] = [ArmError(403, "AuthorizationFailed", "no", "rid")]
    patch = kopf.Patch()

    async def scenario() -> list[tuple[str, str]]:
        with pytest.raises(kopf.TemporaryError) as retry:
            await wiring.call("delete", body=current, patch=patch, retry=0)
        assert retry.value.delay == 300.0
        return wiring.posted()

    assert in_loop(scenario) == [("Warning", "DeleteFailed")]
    assert next(c for c in patch["status"]["conditions"] if c["type"] == "Stalled")["status"] == "True"


# ---- Secrets ----------------------------------------------------------------------------------------------------


def test_every_secret_event_reaches_the_list_of_secrets_that_exist_with_its_version() -> None:
    wiring = Wiring()

    async def events() -> None:
        for version, kind in enumerate((None, "ADDED", "MODIFIED", "DELETED")):
            await wiring.call(
                "secret_event",
                "watching",
                type=kind,
                name="openai",
                namespace="team-a",
                meta={"resourceVersion": str(version)},
            )

    in_loop(events)
    ref = SecretRef("team-a", "openai")
    assert wiring.seen.changes == [(ref, "0"), (ref, "1"), (ref, "2"), (ref, None)]


@pytest.mark.parametrize(
    ("version", "users", "triggered"),
    [
        ("8", [("a", "7", None)], [("a", "openai@8")]),
        ("7", [("a", "7", None)], []),
        ("8", [("a", "7", "openai@8")], []),
        (
            "deleted",
            [("a", "7", None), ("b", None, None)],
            [("a", "openai@deleted"), ("b", "openai@deleted")],
        ),
    ],
    ids=["changed", "already-applied", "already-triggered", "deleted"],
)
def test_a_secret_change_triggers_the_resources_that_have_not_seen_it(
    version: str, users: list[SecretUser], triggered: list[tuple[str, str]]
) -> None:
    wiring = Wiring()
    secret = SecretRef("ns", "openai")
    wiring.users(secret, users)

    async def scenario() -> None:
        await wiring.call(
            "secret_event",
            "watching",
            type="DELETED" if version == "deleted" else "MODIFIED",
            name="openai",
            namespace="ns",
            meta={"resourceVersion": version},
        )

    in_loop(scenario)
    assert wiring.triggered == [(ObjectRef("ns", name), marker) for name, marker in triggered]


def test_a_listed_secret_triggers_only_the_resources_that_applied_another_version() -> None:
    users = [("new", None, None), ("old", "6", None), ("current", "7", None)]
    assert handlers.secret_markers(users, SecretRef("ns", "openai"), "7", listing=True) == [
        ("old", "openai@7")
    ]
    assert [name for name, _ in handlers.secret_markers(users, SecretRef("ns", "openai"), "7")] == [
        "new",
        "old",
    ], "a change (not a listing) triggers a resource that applied nothing yet, e.g. one waiting for it"


# ---- lifecycle ----------------------------------------------------------------------------------------------------


def test_startup_configures_kopf_builds_and_cleanup_shuts_down() -> None:
    wiring = Wiring(workers=7, shutdown_timeout=9.0)
    settings = kopf.OperatorSettings()

    async def scenario() -> None:
        memo = kopf.Memo()
        await wiring.handler("startup", "activities")(settings=settings, memo=memo, logger=LOG)
        assert wiring.built == [memo]
        assert not memo.observer.done()
        assert memo.timers._sweeps
        assert not any(t.done() for t in memo.timers._sweeps)
        await wiring.handler("cleanup", "activities")(memo=memo, logger=LOG)
        assert memo.observer.cancelled()
        assert memo.timers._sweeps == []

    in_loop(scenario)
    assert wiring.shut_down
    assert settings.persistence.finalizer == handlers.FINALIZER
    assert settings.queueing.exit_timeout == 9.0
    assert settings.watching.chunk_size == handlers.LIST_CHUNK
    assert not list(wiring.registry._spawning.get_all_handlers()), "no Kopf timers: timers.py runs them"
    assert settings.scanning.disabled is True


def test_the_secret_selector_filters_the_secret_watch_on_the_server() -> None:
    unfiltered = kopf.OperatorSettings()
    handlers.configure(unfiltered, Settings())
    assert dict(unfiltered.watching.label_selectors) == {}
    filtered = kopf.OperatorSettings()
    handlers.configure(filtered, Settings(secret_selector="wsconn.azureml.dev/usable=true"))
    secrets = kopf.Resource("", "v1", "secrets", kind="Secret", namespaced=True)
    connections = kopf.Resource(*handlers.RESOURCE, kind="WorkspaceConnection", namespaced=True)
    assert filtered.watching.label_selectors.collect(secrets) == ["wsconn.azureml.dev/usable=true"]
    assert filtered.watching.label_selectors.collect(connections) == []


def test_liveness_reports_the_oldest_pass_and_fails_past_the_limit() -> None:
    wiring = Wiring()
    probe = wiring.handler("reconciles", "activities")

    class Stuck:
        def oldest_pass_seconds(self) -> float:
            return handlers.STUCK_AFTER_SECONDS + 1

    assert run(probe(memo=wiring.memo)) == {"oldest_pass_seconds": 0.0}
    with pytest.raises(kopf.PermanentError):
        run(probe(memo=kopf.Memo(reconciler=Stuck())))

    async def during_a_pass() -> dict[str, float]:
        wiring.shell.arm.latency["PUT"] = 100.0
        running = asyncio.create_task(wiring.shell.reconciler.reconcile(view(), log=LOG))
        await asyncio.sleep(42)
        reported: dict[str, float] = await probe(memo=wiring.memo)
        await running
        return reported

    assert run(during_a_pass()) == {"oldest_pass_seconds": 42.0}


# ---- Kopf's records in status.kopf ----------------------------------------------------------------------------


def test_kopfs_last_handled_spec_moves_from_the_old_annotations_to_status_once() -> None:
    storage = StatusDiffBase()
    old = '{"spec":{"authType":"ApiKey"}}\n'
    upgraded = body(
        view(),
        annotations={
            "wsconn.azureml.dev/kopf-managed": "yes",
            "wsconn.azureml.dev/last-handled-configuration": old,
            TRIGGER_ANNOTATION: "s@1",
        },
    )
    assert storage.fetch(body=upgraded) == {"spec": {"authType": "ApiKey"}}, "read from where it was"
    essence = storage.build(body=upgraded)
    assert essence["metadata"]["annotations"] == {TRIGGER_ANNOTATION: "s@1"}, "the old records are no spec"
    patch = kopf.Patch()
    storage.store(body=upgraded, patch=patch, essence=essence)
    assert dict(patch["metadata"]["annotations"]) == {
        "wsconn.azureml.dev/kopf-managed": None,
        "wsconn.azureml.dev/last-handled-configuration": None,
    }
    stored = patch["status"]["kopf"]["last-handled-configuration"]
    moved = body(view(status={"kopf": {"last-handled-configuration": stored}}))
    assert storage.fetch(body=moved) == essence
    again = kopf.Patch()
    storage.store(body=moved, patch=again, essence=essence)
    assert set(again) == {"status"}, "once moved, Kopf's records cost no patch of the resource itself"


def test_kopfs_session_to_the_api_server_has_a_bounded_number_of_connections() -> None:
    assert handlers.api_connections(Settings()) == 10, "cluster-wide: two watch streams, 8 for the rest"
    assert handlers.api_connections(Settings(namespaces=("a", "b", "c"))) == 14
    info = kopf.ConnectionInfo(server="https://api.test", token="t0ken", default_namespace="ns")

    async def scenario() -> None:
        context = handlers.bounded_session(info, 66)
        try:
            assert (context.server, context.default_namespace) == ("https://api.test", "ns")
            assert context.aiohttp_session.connector is not None
            assert context.aiohttp_session.connector.limit == 66
            assert context.aiohttp_session.headers["Authorization"] == "Bearer t0ken"
        finally:
            await context.aiohttp_session.close()

    in_loop(scenario)


def test_kopfs_list_and_watch_of_secrets_ask_for_metadata_only() -> None:
    seen: dict[str, str] = {}
    items: dict[str, Any] = {}

    async def record(request: web.Request) -> web.Response:
        seen[request.path_qs] = request.headers.get("Accept", "")
        if "as=PartialObjectMetadataList" in seen[request.path_qs]:
            # What kube-apiserver answers for an empty namespace.
            return web.json_response({"kind": "PartialObjectMetadataList", "items": None})
        return web.json_response({"kind": "WhateverList", "items": None})

    async def scenario() -> None:
        app = web.Application()
        app.router.add_get("/{tail:.*}", record)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        info = kopf.ConnectionInfo(server=f"http://127.0.0.1:{port}/proxy", token="t0ken")
        context = handlers.bounded_session(info, 4)
        try:
            for path in [
                "/api/v1/secrets?watch=true",
                "/api/v1/namespaces/team-a/secrets?watch=true&resourceVersion=7",
                "/api/v1/namespaces/team-a/secrets?limit=500",
                "/api/v1/namespaces/team-a/secrets/app-creds",
                "/apis/azureml.dev/v1alpha1/namespaces/team-a/workspaceconnections?watch=true",
            ]:
                async with context.aiohttp_session.get(f"{info.server}{path}") as response:
                    items[path] = (await response.json())["items"]
        finally:
            await context.aiohttp_session.close()
            await runner.cleanup()

    asyncio.run(scenario())
    one = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json"
    many = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
    assert seen == {
        "/proxy/api/v1/secrets?watch=true": one,
        "/proxy/api/v1/namespaces/team-a/secrets?watch=true&resourceVersion=7": one,
        "/proxy/api/v1/namespaces/team-a/secrets?limit=500": many,
        "/proxy/api/v1/namespaces/team-a/secrets/app-creds": "*/*",
        "/proxy/apis/azureml.dev/v1alpha1/namespaces/team-a/workspaceconnections?watch=true": "*/*",
    }
    assert items["/api/v1/namespaces/team-a/secrets?limit=500"] == [], "Kopf's listing iterates the items"
    assert items["/api/v1/namespaces/team-a/secrets/app-creds"] is None, "other answers are as they come"
