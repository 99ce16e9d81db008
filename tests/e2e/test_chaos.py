"""Chaos, repeatable: a fixed seed and a bounded schedule of faults over many resources. The operator is
SIGKILLed mid-reconcile three times, the API server restarts (every watch drops), and ARM fails a share of
calls (500/503, dropped connections, responses lost after the write took effect), throttles in bursts and
answers slowly, while resources are created, changed and deleted. Afterwards everything has converged:
every resource Ready, Azure equal to the desired state, no update lost, nothing deleted twice or brought
back, and the operator alive and healthy."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from kubernetes import client

from tests.e2e.amlconn import GROUP, PLURAL, VERSION, Workspace, custom, items, load_examples, retarget
from tests.e2e.kube import Kubectl, wait_for
from tests.e2e.operator_process import OperatorProcess
from wsconn_testbed.controlplane import LocalControlPlane
from wsconn_testbed.emulator.client import EmulatorClient

SEED = 20261122
RESOURCES = 40
CHANGED = range(0, 10)
DELETED = range(30, 35)
FAULT_SECONDS = 25.0


def _faults(workspace: Workspace) -> list[dict[str, Any]]:
    scope = {"path_contains": workspace.id, "duration": FAULT_SECONDS}
    return [
        {**scope, "latency": [0.02, 0.3]},
        {**scope, "burst_429": 15, "retry_after": 2, "methods": ["PUT"]},
        {**scope, "error_rate": 0.15, "statuses": [500, 503]},
        {**scope, "drop_rate": 0.05},
        {**scope, "drop_rate": 0.05, "phase": "after", "methods": ["PUT", "DELETE"]},
    ]


def test_converges_after_kills_apiserver_restart_and_arm_faults(
    start_operator: Callable[..., OperatorProcess],
    local_plane: LocalControlPlane | None,
    kubectl: Kubectl,
    kube: client.ApiClient,
    namespace: str,
    workspace: Workspace,
    emulator: EmulatorClient,
) -> None:
    if local_plane is None:
        pytest.skip("restarting the API server needs the local control plane")
    examples = [e for e in load_examples() if e.auth_type in {"ApiKey", "PAT", "ServicePrincipal", "None"}]
    names = [f"chaos-{i:02d}" for i in range(RESOURCES)]
    objects = []
    for i, name in enumerate(names):
        for obj in retarget(examples[i % len(examples)], workspace, name=name, api_version=None):
            obj["metadata"]["namespace"] = namespace
            objects.append(obj)
    conns = {o["metadata"]["name"]: o for o in objects if o["kind"] == "WorkspaceConnection"}
    since = emulator.last_seq()
    faults_began = time.monotonic()
    emulator.faults(_faults(workspace), seed=SEED)
    try:
        operator = start_operator()
        kubectl.apply(objects)
        time.sleep(1.5)
        operator.kill()
        operator = start_operator()
        for i in CHANGED:
            conns[names[i]]["spec"]["target"] = f"https://changed-{i}.example.com"
        kubectl.apply([conns[names[i]] for i in CHANGED])
        time.sleep(1.0)
        operator.kill()
        operator = start_operator()
        # What is deleted next must have been written first, or its deletion has nothing to delete in Azure:
        # a workspace's passes are admitted a bounded number at a time, in order, through ARM's 429 bursts.
        doomed = {names[i] for i in DELETED}
        wait_for(
            lambda: doomed <= {c["name"] for c in emulator.connections(prefix=workspace.id)},
            timeout=60,
            interval=0.2,
            what="the resources to delete written to Azure",
        )
        api = custom(kube)
        for i in DELETED:
            api.delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, names[i])
        time.sleep(0.5)
        operator.kill()
        operator = start_operator()
        local_plane.restart_apiserver()
        for i in CHANGED:
            conns[names[i]]["spec"]["target"] = f"https://changed-again-{i}.example.com"
        kubectl.apply([conns[names[i]] for i in CHANGED])
    finally:
        # Let the fault window run its course, so every run sees the whole schedule.
        time.sleep(max(0.0, FAULT_SECONDS - (time.monotonic() - faults_began)))
        emulator.admin("DELETE", "faults")

    kept = [n for i, n in enumerate(names) if i not in DELETED]
    wait_for(lambda: _converged(kube, namespace, kept), timeout=120, interval=1, what="every resource Ready")

    stored = {c["name"]: c for c in emulator.connections(prefix=workspace.id)}
    assert set(stored) == set(kept), "Azure holds exactly the resources that exist"
    for name in kept:
        assert stored[name]["properties"]["target"] == conns[name]["spec"]["target"], f"{name}: update lost"
    calls = [e for e in emulator.requests(since) if e["path"].startswith(workspace.id)]
    deletes = [e for e in calls if e["method"] == "DELETE"]
    assert {e["path"].rsplit("/", 1)[-1] for e in deletes} == {names[i] for i in DELETED}
    for i in DELETED:
        done = [
            e for e in deletes if e["path"].endswith(f"/{names[i]}") and e["status"] == 200 and not e["fault"]
        ]
        late_puts = [
            e
            for e in calls
            if e["method"] == "PUT"
            and e["path"].endswith(f"/{names[i]}")
            and done
            and e["seq"] > done[0]["seq"]
        ]
        assert len(done) <= 1
        assert late_puts == [], f"{names[i]} was written after its delete"
    assert operator.popen is not None
    assert operator.popen.poll() is None, "the last operator is still running (no crash loop)"
    assert httpx.get(f"http://127.0.0.1:{operator.health_port}/healthz", timeout=5).status_code == 200
    injected = emulator.admin("GET", "counters")["injected"]
    print(
        f"chaos: {RESOURCES} resources, seed {SEED}, 3 SIGKILLs, 1 API server restart, injected {injected}, "
        f"{len(calls)} ARM calls"
    )


def _converged(kube: client.ApiClient, namespace: str, kept: list[str]) -> bool:
    found = items(kube, namespace)
    if sorted(i["metadata"]["name"] for i in found) != sorted(kept):
        return False
    for item in found:
        status = item.get("status") or {}
        ready = [c for c in status.get("conditions", []) if c["type"] == "Ready"]
        if status.get("observedGeneration") != item["metadata"]["generation"] or not ready:
            return False
        if ready[0]["status"] != "True":
            return False
    return True
