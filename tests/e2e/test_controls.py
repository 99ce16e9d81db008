"""The controls Flux and Argo CD users reach for (docs/design.md §2): `azureml.dev/reconcile-policy: skip` (no ARM
call at all until it is removed, deletion leaves Azure alone) and `azureml.dev/reconcile-requested-at` (a full
pass now, drift GET included, a rejected spec sent again; echoed in `status.lastHandledReconcileAt`)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from kubernetes import client

from tests.e2e.amlconn import Workspace, condition, get, load_examples, retarget, wait_condition
from tests.e2e.kube import Kubectl, wait_for
from tests.e2e.operator_process import OperatorProcess
from wsconn_testbed.emulator.client import EmulatorClient

SKIP = "azureml.dev/reconcile-policy"
REQUESTED = "azureml.dev/reconcile-requested-at"


def _objects(workspace: Workspace, namespace: str, name: str) -> list[dict[str, Any]]:
    example = next(e for e in load_examples() if e.auth_type == "ApiKey")
    objects = retarget(example, workspace, name=name, api_version=None)
    for obj in objects:
        obj["metadata"]["namespace"] = namespace
    return objects


def _calls(emulator: EmulatorClient, workspace: Workspace, name: str, since: int) -> list[str]:
    path = workspace.connection_id(name).lower()
    return [e["method"] for e in emulator.requests(since) if e["path"].lower() == path]


def _annotate(kubectl: Kubectl, namespace: str, name: str, key: str, value: str | None) -> None:
    kubectl.run(
        "annotate",
        "--overwrite",
        "workspaceconnection",
        name,
        "-n",
        namespace,
        f"{key}{'-' if value is None else '=' + value}",
    )


def _patch_spec(kubectl: Kubectl, namespace: str, name: str, spec: dict[str, Any]) -> None:
    patch = json.dumps({"spec": spec})
    kubectl.run("patch", "workspaceconnection", name, "-n", namespace, "--type=merge", "-p", patch)


def test_skip_makes_no_arm_call_until_removed_and_deletion_leaves_azure_alone(
    start_operator: Callable[..., OperatorProcess],
    kubectl: Kubectl,
    kube: client.ApiClient,
    namespace: str,
    workspace: Workspace,
    emulator: EmulatorClient,
) -> None:
    start_operator(WSCONN_DRIFT_INTERVAL="2")
    secret, conn = _objects(workspace, namespace, "paused")
    kubectl.apply([secret, conn])
    wait_condition(kube, namespace, "paused")

    _annotate(kubectl, namespace, "paused", SKIP, "skip")
    skipped = wait_for(
        lambda: (
            (o := get(kube, namespace, "paused"))
            and (condition(o, "Ready") or {}).get("reason") == "ReconcileSkipped"
            and o
        ),
        what="Ready Unknown, ReconcileSkipped",
    )
    assert (condition(skipped, "Ready") or {})["status"] == "Unknown"
    since = emulator.last_seq()
    _patch_spec(kubectl, namespace, "paused", {"target": "https://edited-while-paused.example/"})
    client.CoreV1Api(kube).patch_namespaced_secret(
        secret["metadata"]["name"],
        namespace,
        {"stringData": {k: "rotated-while-paused" for k in secret["stringData"]}},
    )
    time.sleep(8)  # four drift intervals, a spec edit and a rotation
    assert _calls(emulator, workspace, "paused", since) == [], "no ARM call at all while skipped"
    edited = get(kube, namespace, "paused")
    assert edited["status"]["observedGeneration"] == edited["metadata"]["generation"], "seen, not acted on"

    _annotate(kubectl, namespace, "paused", SKIP, None)
    wait_for(
        lambda: (
            (o := get(kube, namespace, "paused")) and (condition(o, "Ready") or {}).get("status") == "True"
        ),
        what="Ready again",
    )
    assert "PUT" in _calls(emulator, workspace, "paused", since), "removing skip applied the current spec"
    [stored] = emulator.connections(prefix=workspace.id)
    assert stored["properties"]["target"] == "https://edited-while-paused.example/"

    _annotate(kubectl, namespace, "paused", SKIP, "skip")
    wait_for(
        lambda: (condition(get(kube, namespace, "paused"), "Ready") or {}).get("status") == "Unknown",
        what="skipped",
    )
    since = emulator.last_seq()
    kubectl.run("delete", "workspaceconnection", "paused", "-n", namespace, "--wait=true", "--timeout=30s")
    assert _calls(emulator, workspace, "paused", since) == [], "deleted without a DELETE in Azure"
    assert len(emulator.connections(prefix=workspace.id)) == 1


def test_a_reconcile_request_runs_a_full_pass_now_and_retries_a_rejected_spec(
    operator: OperatorProcess,
    kubectl: Kubectl,
    kube: client.ApiClient,
    namespace: str,
    workspace: Workspace,
    emulator: EmulatorClient,
) -> None:
    kubectl.apply(_objects(workspace, namespace, "asked"))
    wait_condition(kube, namespace, "asked")
    since = emulator.last_seq()
    _annotate(kubectl, namespace, "asked", REQUESTED, "2026-12-02T10:00:00Z")
    wait_for(
        lambda: (
            get(kube, namespace, "asked")["status"].get("lastHandledReconcileAt") == "2026-12-02T10:00:00Z"
        ),
        what="the request echoed",
    )
    assert _calls(emulator, workspace, "asked", since) == ["GET"], "a drift check, though not due for 10 min"

    emulator.faults(
        [
            {
                "methods": ["PUT"],
                "path_contains": workspace.connection_id("refused"),
                "error_rate": 1.0,
                "statuses": [400],
            }
        ]
    )
    try:
        kubectl.apply(_objects(workspace, namespace, "refused"))
        stalled = wait_condition(kube, namespace, "refused", "Stalled")
        assert (condition(stalled, "Stalled") or {})["reason"] == "AzureRejected"
    finally:
        emulator.admin("DELETE", "faults")
    since = emulator.last_seq()
    _annotate(kubectl, namespace, "refused", REQUESTED, "try-again")
    ready = wait_condition(kube, namespace, "refused")
    assert ready["status"]["lastHandledReconcileAt"] == "try-again"
    assert _calls(emulator, workspace, "refused", since).count("PUT") == 1, (
        "the rejected spec sent again, once"
    )
