"""The reconciler's own concurrency bound (it replaces Kopf's worker limit, see handlers.configure).

The ARM client and the Secret reader are stand-ins that only count; nothing else is faked: the passes are
the Reconciler's real deletion passes, run on a real event loop."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, cast

from wsconn.arm.client import ArmClient
from wsconn.kube.secrets import SecretReader
from wsconn.reconciler import ObjectView, ReconcileConfig, Reconciler

LOG = logging.getLogger("test")


class CountingArm:
    """Answers DELETE 200 once released, and records how many calls were open at once."""

    def __init__(self) -> None:
        self.open = 0
        self.most_open = 0
        self.release = asyncio.Event()

    async def delete(self, resource_id: str, api_version: str, *, correlation_id: str) -> int:
        self.open += 1
        self.most_open = max(self.most_open, self.open)
        await self.release.wait()
        self.open -= 1
        return 200


def _obj(i: int) -> ObjectView:
    rid = f"/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/w/connections/c{i}"
    return ObjectView("ns", f"c{i}", f"uid-{i}", 1, {}, {"id": rid, "azureApiVersion": "2025-06-01"})


def _reconciler(arm: CountingArm, workers: int) -> Reconciler:
    return Reconciler(
        arm=cast(ArmClient, arm),
        secrets=cast(SecretReader, object()),
        config=ReconcileConfig(default_api_version="2025-06-01", drift_interval=600),
        workers=workers,
    )


def test_at_most_workers_passes_run_at_once_and_queued_ones_do_not_count_as_wedged() -> None:
    async def scenario() -> tuple[int, int, float, list[Any]]:
        arm = CountingArm()
        reconciler = _reconciler(arm, workers=3)
        tasks = [asyncio.create_task(reconciler.delete(_obj(i), log=LOG)) for i in range(10)]
        await asyncio.sleep(0.05)
        running = arm.open
        in_flight = len(reconciler._in_flight)  # the liveness bookkeeping is what is under test
        arm.release.set()
        results = await asyncio.gather(*tasks)
        return running, in_flight, reconciler.oldest_pass_seconds(), [r.done for r in results]

    running, in_flight, oldest_after, done = asyncio.run(scenario())
    assert running == 3
    assert in_flight == 3
    assert oldest_after == 0.0
    assert done == [True] * 10


def test_one_worker_still_serves_every_object() -> None:
    async def scenario() -> tuple[int, list[bool]]:
        arm = CountingArm()
        arm.release.set()
        reconciler = _reconciler(arm, workers=1)
        results = await asyncio.gather(*(reconciler.delete(_obj(i), log=LOG) for i in range(5)))
        return arm.most_open, [r.done for r in results]

    most_open, done = asyncio.run(scenario())
    assert most_open == 1
    assert done == [True] * 5
