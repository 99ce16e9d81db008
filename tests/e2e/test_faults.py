"""What a hostile or slow ARM does to the operator, and what it must survive (docs/design.md §3 "Bad input", "Fairness"):
answers trickled past the deadline, answers too large to hold, 2xx answers that are not JSON or describe
another connection, a workspace so slow that it could take every ARM slot, and a write kept waiting while
status would claim Ready. The emulator injects each fault through its admin API; the operator is the
installed process; assertions read status, the emulator's request log and the operator's metrics."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from kubernetes import client

from tests.e2e.amlconn import Workspace, condition, get, load_examples, retarget, wait_condition
from tests.e2e.kube import Kubectl, wait_for
from tests.e2e.operator_process import OperatorProcess
from wsconn_testbed.emulator.client import EmulatorClient


def _objects(
    workspace: Workspace, namespace: str, name: str, auth_type: str = "ApiKey"
) -> list[dict[str, Any]]:
    example = next(e for e in load_examples() if e.auth_type == auth_type)
    objects = retarget(example, workspace, name=name, api_version=None)
    for obj in objects:
        obj["metadata"]["namespace"] = namespace
    return objects


def _reported(
    kube: client.ApiClient, namespace: str, name: str, reason: str, text: str
) -> dict[str, Any] | None:
    """The Ready condition once it says `reason` with `text` in its message."""
    ready = condition(get(kube, namespace, name), "Ready")
    if ready and ready.get("reason") == reason and text in ready.get("message", ""):
        return ready
    return None


def _says(kube: client.ApiClient, namespace: str, name: str, reason: str, text: str) -> dict[str, Any]:
    """Wait until the Ready condition says `reason` with `text`; returns it."""
    found: dict[str, Any] = wait_for(
        lambda: _reported(kube, namespace, name, reason, text),
        timeout=60,
        interval=0.5,
        what=f"{name}: {reason} saying {text!r}",
    )
    return found


@contextmanager
def _injected(emulator: EmulatorClient, *rules: dict[str, Any]) -> Iterator[None]:
    """The emulator misbehaves as `rules` say within the block."""
    emulator.faults(list(rules))
    try:
        yield
    finally:
        emulator.admin("DELETE", "faults")


def _on(workspace: Workspace, *methods: str, **effect: Any) -> dict[str, Any]:
    """A fault rule for the workspace's requests with these methods (all when none)."""
    return {"methods": list(methods), "path_contains": workspace.id, **effect}


def _answered(
    emulator: EmulatorClient, prefix: str, method: str = "PUT", since: int = 0
) -> list[dict[str, Any]]:
    return [e for e in emulator.requests(since) if e["method"] == method and e["path"].startswith(prefix)]


def test_an_answer_trickled_past_the_deadline_ends_in_a_clear_status(
    start_operator: Callable[..., OperatorProcess],
    kubectl: Kubectl,
    kube: client.ApiClient,
    namespace: str,
    workspace: Workspace,
    emulator: EmulatorClient,
) -> None:
    with _injected(emulator, _on(workspace, "PUT", trickle={"bytes": 1, "every": 2})):
        start_operator(WSCONN_ARM_TIMEOUT="4")
        kubectl.apply(_objects(workspace, namespace, "trickled"))
        ready = _says(kube, namespace, "trickled", "AzureUnavailable", "4s deadline per request")
        reconciling = condition(get(kube, namespace, "trickled"), "Reconciling")
        assert reconciling is not None
        assert (ready["status"], reconciling["status"]) == ("False", "True")
    wait_condition(kube, namespace, "trickled", timeout=60)


def test_an_answer_too_large_to_hold_is_dropped_unread(
    start_operator: Callable[..., OperatorProcess],
    kubectl: Kubectl,
    kube: client.ApiClient,
    namespace: str,
    workspace: Workspace,
    emulator: EmulatorClient,
) -> None:
    with _injected(emulator, _on(workspace, "PUT", oversize_mib=64)):
        start_operator()
        kubectl.apply(_objects(workspace, namespace, "huge"))
        _says(kube, namespace, "huge", "AzureUnavailable", "larger than the 4 MiB cap")
    wait_condition(kube, namespace, "huge", timeout=60)


def test_a_2xx_that_is_not_json_is_transient_and_says_what_came_back(
    start_operator: Callable[..., OperatorProcess],
    kubectl: Kubectl,
    kube: client.ApiClient,
    namespace: str,
    workspace: Workspace,
    emulator: EmulatorClient,
) -> None:
    operator = start_operator(WSCONN_DRIFT_INTERVAL="2")
    kubectl.apply(_objects(workspace, namespace, "proxied"))
    wait_condition(kube, namespace, "proxied")
    # A proxy starts answering the drift checks' GETs with its own HTML page, then the PUTs with broken JSON.
    with _injected(emulator, _on(workspace, "GET", malformed="html")):
        ready = _says(kube, namespace, "proxied", "AzureUnavailable", "not JSON")
        assert "200 to GET (text/html" in ready["message"]
        assert "<html" not in ready["message"].lower()
    with _injected(emulator, _on(workspace, malformed="not-json")):
        kubectl.apply(_objects(workspace, namespace, "broken"))
        ready = _says(kube, namespace, "broken", "AzureUnavailable", "not JSON")
        assert "200 to PUT (application/json" in ready["message"]
    wait_condition(kube, namespace, "proxied", timeout=60)
    wait_condition(kube, namespace, "broken", timeout=60)
    assert "Traceback" not in operator.logs()
    assert "JSONDecodeError" not in operator.logs()


def test_a_put_answer_describing_another_connection_is_not_taken_as_ready(
    start_operator: Callable[..., OperatorProcess],
    kubectl: Kubectl,
    kube: client.ApiClient,
    namespace: str,
    workspace: Workspace,
    emulator: EmulatorClient,
) -> None:
    with _injected(emulator, _on(workspace, "PUT", contradict=True)):
        start_operator()
        kubectl.apply(_objects(workspace, namespace, "contradicted"))
        ready = _says(kube, namespace, "contradicted", "AzureUnavailable", "differs from the one written")
        assert "authType, target" in ready["message"]
        assert get(kube, namespace, "contradicted")["status"].get("appliedFingerprint") is None
    wait_condition(kube, namespace, "contradicted", timeout=60)


def test_a_slow_workspace_does_not_starve_a_healthy_subscription(
    start_operator: Callable[..., OperatorProcess],
    kubectl: Kubectl,
    kube: client.ApiClient,
    namespace: str,
    workspace: Workspace,
    emulator: EmulatorClient,
) -> None:
    healthy = Workspace(str(uuid.uuid4()), "rg-e2e", f"ws-{uuid.uuid4().hex[:8]}")
    emulator.add_workspace(healthy.subscription, healthy.resource_group, healthy.name)
    with _injected(emulator, _on(workspace, "PUT", latency=40)):
        operator = start_operator(WSCONN_ARM_CONCURRENCY="4")
        kubectl.apply([o for i in range(8) for o in _objects(workspace, namespace, f"slow-{i}")])
        wait_for(
            lambda: len(re.findall(rf"ARM PUT {re.escape(workspace.id)}\S* sending", operator.logs())) >= 2,
            timeout=30,
            what="the slow workspace's PUTs in flight",
        )
        kubectl.apply(_objects(healthy, namespace, "healthy"))
        wait_condition(kube, namespace, "healthy", timeout=20)
        assert _answered(emulator, workspace.id) == [], (
            "the healthy one was served while the slow ones waited"
        )


def test_status_does_not_claim_ready_while_a_rotation_waits_for_arm(
    operator: OperatorProcess,
    kubectl: Kubectl,
    kube: client.ApiClient,
    namespace: str,
    workspace: Workspace,
    emulator: EmulatorClient,
) -> None:
    objects = _objects(workspace, namespace, "rotating")
    kubectl.apply(objects)
    wait_condition(kube, namespace, "rotating")
    secret = next(o for o in objects if o["kind"] == "Secret")
    since = emulator.last_seq()
    # Under --arm-timeout (30 s), so that the one PUT is answered and taken.
    with _injected(emulator, _on(workspace, "PUT", latency=20)):
        client.CoreV1Api(kube).patch_namespaced_secret(
            secret["metadata"]["name"], namespace, {"stringData": {"api-key": f"rotated-{uuid.uuid4().hex}"}}
        )
        ready = wait_for(
            lambda: _reported(kube, namespace, "rotating", "Applying", "waiting for ARM"),
            timeout=15,
            interval=0.2,
            what="Ready=False while the new version waits",
        )
        assert ready["status"] == "False"
        assert _answered(emulator, workspace.id, since=since) == [], (
            "reported while the PUT was still pending"
        )
    wait_condition(kube, namespace, "rotating", timeout=60)
    assert [e["status"] for e in _answered(emulator, workspace.id, since=since)] == [200]


def test_the_arm_writes_metric_counts_the_puts_azure_took(
    operator: OperatorProcess,
    kubectl: Kubectl,
    kube: client.ApiClient,
    namespace: str,
    workspace: Workspace,
    emulator: EmulatorClient,
) -> None:
    objects = [o for i in range(4) for o in _objects(workspace, namespace, f"counted-{i}")]
    since = emulator.last_seq()
    kubectl.apply(objects)
    for i in range(4):
        wait_condition(kube, namespace, f"counted-{i}")
    secret = next(o for o in objects if o["kind"] == "Secret")
    client.CoreV1Api(kube).patch_namespaced_secret(
        secret["metadata"]["name"], namespace, {"stringData": {"api-key": f"rotated-{uuid.uuid4().hex}"}}
    )
    wait_for(
        lambda: len(_answered(emulator, workspace.id, since=since)) >= 5,
        timeout=30,
        what="the rotation's PUT",
    )
    puts = [e for e in _answered(emulator, workspace.id, since=since) if e["status"] == 200]
    match = re.search(r"^wsconn_arm_writes_total (\S+)$", operator.metrics(), re.M)
    assert match is not None
    assert float(match[1]) == len(puts) == 5
