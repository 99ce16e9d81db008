"""Secret rotation: a changed Secret reaches Azure without user action, for every resource that uses it; a
deleted Secret stalls the resource without touching Azure; a late Secret is picked up (within the
missing-Secret grace, while the resource waits for it); and the operator never
writes a Secret."""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

from kubernetes import client

from tests.e2e.amlconn import Workspace, condition, get, load_examples, retarget, wait_condition
from tests.e2e.kube import Kubectl, wait_for
from tests.e2e.operator_process import OperatorProcess
from wsconn_testbed.emulator.client import EmulatorClient

ROTATIONS = 20


def _pat_objects(workspace: Workspace, namespace: str, name: str, secret: str) -> list[dict[str, Any]]:
    example = next(e for e in load_examples() if e.auth_type == "PAT")
    secret_obj, conn = retarget(example, workspace, name=name, api_version=None)
    secret_obj["metadata"]["name"] = secret
    conn["spec"]["credentials"]["pat"]["secretKeyRef"]["name"] = secret
    for obj in (secret_obj, conn):
        obj["metadata"]["namespace"] = namespace
    return [secret_obj, conn]


def _listed_pat(emulator: EmulatorClient, workspace: Workspace, name: str) -> str:
    answer = emulator.arm("POST", f"{workspace.connection_id(name)}/listsecrets")
    return str(answer.json()["properties"]["credentials"]["pat"])


def test_rotation_reaches_every_user_of_the_secret(
    operator: OperatorProcess,
    kubectl: Kubectl,
    kube: client.ApiClient,
    namespace: str,
    workspace: Workspace,
    emulator: EmulatorClient,
) -> None:
    users = ["rot-a", "rot-b", "rot-c"]
    objects = [o for name in users for o in _pat_objects(workspace, namespace, name, "shared-pat")]
    kubectl.apply(objects[:2] + [o for o in objects[2:] if o["kind"] != "Secret"])
    for name in users:
        wait_condition(kube, namespace, name)
    core = client.CoreV1Api(kube)

    latencies = []
    for _ in range(ROTATIONS):
        value = f"pat-{uuid.uuid4().hex}"
        since = emulator.last_seq()
        started = time.monotonic()
        core.patch_namespaced_secret("shared-pat", namespace, {"stringData": {"pat": value}})

        def all_put(since: int = since) -> bool:
            return len([e for e in emulator.requests(since) if e["method"] == "PUT"]) >= len(users)

        wait_for(
            all_put,
            timeout=30,
            interval=0.02,
            what="a PUT per user of the rotated Secret",
        )
        latencies.append(time.monotonic() - started)
        for name in users:
            assert _listed_pat(emulator, workspace, name) == value
    puts = [e for e in emulator.requests(0) if e["method"] == "PUT" and e["path"].startswith(workspace.id)]
    assert len(puts) == len(users) * (ROTATIONS + 1), "one PUT per user per rotation, no more"
    quantiles = statistics.quantiles(latencies, n=20)
    print(
        f"rotation latency over {ROTATIONS}: p50 {statistics.median(latencies):.3f}s p95 {quantiles[18]:.3f}s"
    )


def test_deleted_secret_stalls_without_touching_azure(
    start_operator: Callable[..., OperatorProcess],
    kubectl: Kubectl,
    kube: client.ApiClient,
    namespace: str,
    workspace: Workspace,
    emulator: EmulatorClient,
) -> None:
    start_operator(WSCONN_MISSING_SECRET_GRACE="0")  # Stalled at once: the grace has its own tests
    kubectl.apply(_pat_objects(workspace, namespace, "loses-secret", "pat-to-delete"))
    wait_condition(kube, namespace, "loses-secret")
    since = emulator.last_seq()

    client.CoreV1Api(kube).delete_namespaced_secret("pat-to-delete", namespace)

    obj = wait_condition(kube, namespace, "loses-secret", "Stalled")
    assert (condition(obj, "Stalled") or {}).get("reason") == "SecretNotFound"
    assert [e for e in emulator.requests(since) if e["method"] in {"PUT", "DELETE", "PATCH"}] == []
    assert [c["name"] for c in emulator.connections(prefix=workspace.id)] == ["loses-secret"]


def test_secret_created_after_the_resource_is_picked_up(
    operator: OperatorProcess,
    kubectl: Kubectl,
    kube: client.ApiClient,
    namespace: str,
    workspace: Workspace,
    emulator: EmulatorClient,
) -> None:
    secret, conn = _pat_objects(workspace, namespace, "early-bird", "late-secret")
    kubectl.apply(conn)
    wait_condition(kube, namespace, "early-bird", "Reconciling")  # waiting, within the missing-Secret grace

    kubectl.apply(secret)

    wait_condition(kube, namespace, "early-bird", "Ready", timeout=30)
    assert _listed_pat(emulator, workspace, "early-bird") == secret["stringData"]["pat"]


def test_operator_never_writes_secrets(
    operator: OperatorProcess,
    kubectl: Kubectl,
    kube: client.ApiClient,
    namespace: str,
    workspace: Workspace,
) -> None:
    kubectl.apply(_pat_objects(workspace, namespace, "reader", "untouched"))
    wait_condition(kube, namespace, "reader")
    core = client.CoreV1Api(kube)
    core.patch_namespaced_secret("untouched", namespace, {"stringData": {"pat": "rotated-value"}})
    wait_for(
        lambda: (get(kube, namespace, "reader").get("status") or {}).get("secretVersions"),
        what="secret versions recorded",
    )
    time.sleep(1)

    meta = core.read_namespaced_secret("untouched", namespace).metadata
    assert meta is not None
    managers = {m.manager for m in meta.managed_fields or []}
    assert managers <= {"kubectl-client-side-apply", "kubectl", "kubectl-edit", "OpenAPI-Generator"}, managers
    assert not meta.finalizers
    annotations = meta.annotations or {}
    assert not [k for k in annotations if "kopf" in k or "azureml.dev" in k], annotations
