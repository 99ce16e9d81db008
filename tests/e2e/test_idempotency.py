"""Zero needless ARM writes: 50 unchanged resources cost no PUT after the operator restarts (Kopf's resume
path included), and status is left as it was.

The restarted operator runs with fewer workers than the namespace holds resources: with Kopf's own worker
limit that combination deadlocked the initial indexing (nolar/kopf#1243) and no resource was resumed."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from kubernetes import client

from tests.e2e.amlconn import Workspace, all_ready, condition, load_examples, retarget
from tests.e2e.kube import Kubectl, wait_for
from tests.e2e.operator_process import OperatorProcess
from wsconn_testbed.emulator.client import EmulatorClient

COUNT = 50
RESTART_WORKERS = 8


def _reconciles(metrics: str) -> float:
    """Sum of wsconn_reconciles_total over every label set."""
    return sum(float(m) for m in re.findall(r"^wsconn_reconciles_total\{[^}]*\} (\S+)$", metrics, re.M))


def test_restart_with_fifty_unchanged_resources_issues_no_put(
    operator: OperatorProcess,
    operator_env: dict[str, str],
    kubectl: Kubectl,
    kube: client.ApiClient,
    namespace: str,
    workspace: Workspace,
    emulator: EmulatorClient,
    tmp_path: Path,
) -> None:
    examples = load_examples()
    objects = []
    for i in range(COUNT):
        example = examples[i % len(examples)]
        for obj in retarget(example, workspace, name=f"idem-{i:02d}", api_version=None):
            obj["metadata"]["namespace"] = namespace
            objects.append(obj)
    since = emulator.last_seq()
    kubectl.apply(objects)
    before = wait_for(lambda: all_ready(kube, namespace, COUNT), timeout=120, interval=0.5, what="50 Ready")
    puts = [
        e for e in emulator.requests(since) if e["method"] == "PUT" and e["path"].startswith(workspace.id)
    ]
    assert len(puts) == COUNT

    assert operator.stop() == 0
    restart_seq = emulator.last_seq()
    second = OperatorProcess(
        env={**operator_env, "WSCONN_WORKERS": str(RESTART_WORKERS)},
        log_path=tmp_path / "operator-restarted.log",
    ).start()
    try:
        wait_for(
            lambda: _reconciles(second.metrics()) >= COUNT, timeout=60, interval=0.3, what="resume of all 50"
        )
        after = wait_for(lambda: all_ready(kube, namespace, COUNT), timeout=30, what="still Ready")
        calls = [e for e in emulator.requests(restart_seq) if e["path"].startswith(workspace.id)]
        assert [e for e in calls if e["method"] in {"PUT", "PATCH", "DELETE"}] == []
    finally:
        assert second.stop() == 0

    def ready_conditions(items: list[dict[str, Any]]) -> dict[str, str]:
        return {i["metadata"]["name"]: str(condition(i, "Ready") or {}) for i in items}

    assert ready_conditions(after) == ready_conditions(before)
