"""admission.py: Kopf's processing of a WorkspaceConnection event waits for the index and for a fair slot, the
event's body packed meanwhile; the handler's pass runs in that slot and lets it go; other resources pass
straight through. Kopf's processor is replaced by a recorder here; the e2e suite runs the real one."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import pytest
from kopf._cogs.structs import references
from kopf._core.reactor import processing, running

from tests.unit.fakes import apikey_spec
from tests.unit.virtual import run
from wsconn import admission
from wsconn.api.crd import GROUP, PLURAL, VERSION
from wsconn.arm.slots import FairSlots
from wsconn.reconciler.model import scope_of

OURS = references.Resource(group=GROUP, version=VERSION, plural=PLURAL, namespaced=True)
SECRETS = references.Resource(group="", version="v1", plural="secrets", namespaced=True)


def raw(name: str, subscription: str = "sub-a") -> dict[str, Any]:
    body = {
        "metadata": {"name": name, "namespace": "ns", "uid": f"uid-{name}", "resourceVersion": "7"},
        "spec": apikey_spec(workspace={"subscriptionId": subscription, "resourceGroup": "rg", "name": "ws"}),
        "status": {"conditions": []},
    }
    event = {"type": "ADDED", "object": body}
    admission.pack(event)
    return event


class Kopf:
    """Kopf's processor as the wrapper calls it: records what it saw, runs a handler-like step."""

    def __init__(self, slots: FairSlots) -> None:
        self.slots = slots
        self.seen: dict[str, tuple[float, bool]] = {}  # name -> (admitted at, in a slot)
        self.after_handler_seconds = 0.0

    async def __call__(self, *, raw_event: dict[str, Any], resource: Any, **_: Any) -> None:
        body = raw_event["object"]
        assert "status" in body, "processed with its whole body"
        self.seen[body["metadata"].get("name")] = (asyncio.get_running_loop().time(), admission.held())
        await asyncio.sleep(1.0)  # the handler's pass
        admission.release()  # as the handler does when its pass ends
        await asyncio.sleep(self.after_handler_seconds)  # Kopf's patch, a retry's delay


@pytest.fixture
def kopf(monkeypatch: pytest.MonkeyPatch) -> Kopf:
    recorder = Kopf(FairSlots(4))
    monkeypatch.setattr(admission, "_ORIGINAL", recorder)
    monkeypatch.setattr(processing, "process_resource_event", processing.process_resource_event)
    monkeypatch.setattr(admission, "_admission", [])
    return recorder


def processor() -> Any:
    """Kopf's processor as Kopf looks it up when it starts (the wrapper, once installed)."""
    return processing.process_resource_event


def admit(kopf: Kopf, events: list[dict[str, Any]], ready_at: float) -> tuple[int, list[set[str]]]:
    """Process `events` with the index ready at `ready_at`; how many were still waiting then (not processed,
    not done) and their bodies' keys."""

    async def scenario() -> tuple[int, list[set[str]]]:
        ready = asyncio.Event()
        gate = admission.Admission(ready, scope_of)
        gate.bind(kopf.slots)
        admission.install(gate)
        tasks = [asyncio.create_task(processor()(raw_event=e, resource=OURS)) for e in events]
        await asyncio.sleep(ready_at)
        pending = sum(not t.done() for t in tasks) - len(kopf.seen)
        waiting = pending, [set(e["object"]) for e in events]
        ready.set()
        await asyncio.gather(*tasks)
        return waiting

    return run(scenario())


def test_kopf_runs_the_processor_it_finds_in_its_module_when_it_starts() -> None:
    """The wrapper sits where Kopf looks it up: if these change, admission.py must follow."""
    assert "processing.process_resource_event" in inspect.getsource(running.spawn_tasks)
    assert {"resource", "raw_event"} <= set(inspect.signature(admission._ORIGINAL).parameters)


def test_events_wait_packed_for_the_index_then_for_a_fair_slot(kopf: Kopf) -> None:
    events = [raw(f"a{i}") for i in range(6)] + [raw("b0", "sub-b")]
    assert all(admission.PACKED in e for e in events)
    waiting, bodies = admit(kopf, events, ready_at=5.0)
    assert waiting == 7, "nothing is processed before the index is ready"
    assert bodies == [{"metadata", "spec"}] * 7, "packed while waiting"
    # 4 slots; one workspace holds at most 2: a0, a1 and b0 at once, then a2 and a3, then a4 and a5.
    assert {name: at for name, (at, _) in kopf.seen.items()} == {
        "a0": 5.0,
        "a1": 5.0,
        "b0": 5.0,
        "a2": 6.0,
        "a3": 6.0,
        "a4": 7.0,
        "a5": 7.0,
    }
    assert all(in_slot for _, in_slot in kopf.seen.values()), "each handler's pass runs in its slot"
    assert all(set(e["object"]) == {"metadata", "spec"} and admission.PACKED not in e for e in events), (
        "after processing, an idle Kopf worker keeps only the skeleton"
    )
    assert kopf.slots.held == 0


def test_the_slot_goes_when_the_pass_ends_not_when_kopf_is_done(kopf: Kopf) -> None:
    kopf.after_handler_seconds = 60.0  # a retry's delay, slept within Kopf's processing
    admit(kopf, [raw(f"a{i}") for i in range(4)], ready_at=0.0)
    assert sorted(at for at, _ in kopf.seen.values()) == [0.0, 0.0, 1.0, 1.0]


def test_other_resources_pass_straight_through(kopf: Kopf) -> None:
    async def scenario() -> None:
        admission.install(admission.Admission(asyncio.Event(), scope_of))  # never ready, not bound
        body = {"metadata": {"name": "openai"}, "status": {}}
        await processor()(raw_event={"type": "ADDED", "object": body}, resource=SECRETS)

    run(scenario())
    assert kopf.seen == {"openai": (0.0, False)}


def test_new_objects_are_handed_on_only_while_there_is_room(kopf: Kopf) -> None:
    async def scenario() -> list[tuple[float, int]]:
        ready = asyncio.Event()
        gate = admission.Admission(ready, scope_of, room=2)
        gate.bind(kopf.slots)
        admission.install(gate)
        loop = asyncio.get_running_loop()
        asyncio.get_running_loop().call_later(3.0, ready.set)
        handed: list[tuple[float, int]] = []
        tasks = []
        for i in range(6):  # the stream's reader (serving.paced): room, then Kopf spawns the worker
            event = raw(f"a{i}")
            await gate.wait_room()
            gate.take(event)
            handed.append((loop.time(), gate.handed))
            tasks.append(asyncio.create_task(processor()(raw_event=event, resource=OURS)))
        await asyncio.gather(*tasks)
        assert gate.handed == 0
        return handed

    # No room before the index is ready (3 s). Room for 2; a workspace holds 2 slots, each pass 1 s: a0 and
    # a1, then a2 and a3 as a0 and a1 are admitted (at once), then a4 and a5 once a2 and a3 are (at 4).
    assert run(scenario()) == [(3.0, 1), (3.0, 2), (3.0, 1), (3.0, 2), (4.0, 1), (4.0, 2)]
