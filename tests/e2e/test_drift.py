"""Drift: a jittered periodic GET per Ready resource puts back what was changed or deleted out of band,
tolerates what other tools or newer api-versions add, and in steady state costs reads only."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from kubernetes import client

from tests.e2e.amlconn import Workspace, load_examples, retarget, wait_condition
from tests.e2e.kube import Kubectl, wait_for
from tests.e2e.operator_process import OperatorProcess
from wsconn_testbed.emulator.client import EmulatorClient

INTERVAL = 2.0


def _apply(kubectl: Kubectl, namespace: str, workspace: Workspace, names: list[str]) -> None:
    example = next(e for e in load_examples() if e.auth_type == "ApiKey")
    objects = [o for name in names for o in retarget(example, workspace, name=name, api_version=None)]
    for obj in objects:
        obj["metadata"]["namespace"] = namespace
    kubectl.apply(objects)


def _stored(emulator: EmulatorClient, workspace: Workspace) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in emulator.connections(prefix=workspace.id)}


def test_out_of_band_changes_are_put_back_and_extras_tolerated(
    start_operator: Callable[..., OperatorProcess],
    kubectl: Kubectl,
    kube: client.ApiClient,
    namespace: str,
    workspace: Workspace,
    emulator: EmulatorClient,
) -> None:
    start_operator(WSCONN_DRIFT_INTERVAL=str(INTERVAL))
    names = ["edited", "deleted", "extended"]
    _apply(kubectl, namespace, workspace, names)
    for name in names:
        wait_condition(kube, namespace, name)
    want_target = _stored(emulator, workspace)["edited"]["properties"]["target"]
    since = emulator.last_seq()

    emulator.admin(
        "PATCH",
        "connections",
        {"id": workspace.connection_id("edited"), "properties": {"target": "https://evil"}},
    )
    emulator.admin("DELETE", "connections", {"id": workspace.connection_id("deleted")})
    emulator.admin(
        "PATCH",
        "connections",
        {
            "id": workspace.connection_id("extended"),
            "properties": {"peRequirement": "NotRequired", "useWorkspaceManagedIdentity": False},
        },
    )

    wait_for(
        lambda: (
            _stored(emulator, workspace).get("edited", {}).get("properties", {}).get("target") == want_target
        ),
        timeout=INTERVAL * 4,
        what="edited target put back",
    )
    wait_for(
        lambda: "deleted" in _stored(emulator, workspace), timeout=INTERVAL * 4, what="deleted re-created"
    )
    time.sleep(INTERVAL * 2)
    puts = [e["path"].rsplit("/", 1)[-1] for e in emulator.requests(since) if e["method"] == "PUT"]
    assert sorted(puts) == ["deleted", "edited"], "one PUT each for the real drift, none for tolerated extras"


def test_steady_state_costs_reads_only(
    start_operator: Callable[..., OperatorProcess],
    kubectl: Kubectl,
    kube: client.ApiClient,
    namespace: str,
    workspace: Workspace,
    emulator: EmulatorClient,
) -> None:
    start_operator(WSCONN_DRIFT_INTERVAL=str(INTERVAL))
    names = [f"steady-{i}" for i in range(5)]
    _apply(kubectl, namespace, workspace, names)
    for name in names:
        wait_condition(kube, namespace, name)
    since = emulator.last_seq()
    window = INTERVAL * 6

    time.sleep(window)

    calls = [e for e in emulator.requests(since) if e["path"].startswith(workspace.id)]
    methods = {e["method"] for e in calls}
    assert methods <= {"GET"}, methods
    per_resource = len(calls) / len(names)
    # Each resource is checked once per jittered interval (+-10%), noticed on the next timer tick (the
    # operator ticks every max(1 s, INTERVAL/4)), so a period lies between 0.9 INTERVAL and 1.1 INTERVAL + 1 s.
    tick = max(1.0, INTERVAL / 4)
    assert window / (INTERVAL * 1.1 + tick) - 1 <= per_resource <= window / (INTERVAL * 0.9) + 1, per_resource
    print(
        f"steady state: {per_resource:.1f} GETs per resource in {window:.0f}s at interval {INTERVAL}s, 0 writes"
    )


def test_deep_check_restores_credentials_changed_out_of_band(
    start_operator: Callable[..., OperatorProcess],
    kubectl: Kubectl,
    kube: client.ApiClient,
    namespace: str,
    workspace: Workspace,
    emulator: EmulatorClient,
) -> None:
    start_operator(WSCONN_DRIFT_INTERVAL=str(INTERVAL), WSCONN_DEEP_DRIFT_CHECK="true")
    _apply(kubectl, namespace, workspace, ["deep"])
    wait_condition(kube, namespace, "deep")
    digest = _stored(emulator, workspace)["deep"]["credentialDigest"]

    emulator.admin(
        "PATCH", "connections", {"id": workspace.connection_id("deep"), "credentials": {"key": "forged"}}
    )

    wait_for(
        lambda: _stored(emulator, workspace)["deep"]["credentialDigest"] == digest,
        timeout=INTERVAL * 4,
        what="credentials put back",
    )


def test_a_drift_check_that_fails_transiently_is_retried_until_ready(
    start_operator: Callable[..., OperatorProcess],
    kubectl: Kubectl,
    kube: client.ApiClient,
    namespace: str,
    workspace: Workspace,
    emulator: EmulatorClient,
) -> None:
    # The drift timer runs only for Ready resources; a check that ends in Reconciling must still be retried
    # (by the change handler, with Kopf's backoff) instead of leaving the resource Reconciling for good.
    start_operator(WSCONN_DRIFT_INTERVAL=str(INTERVAL))
    _apply(kubectl, namespace, workspace, ["unlucky"])
    wait_condition(kube, namespace, "unlucky")
    # Three answers are all the in-call retries of one pass: the check itself fails.
    emulator.faults(
        [{"methods": ["GET"], "path_contains": "/unlucky", "error_rate": 1.0, "statuses": [503], "count": 3}]
    )
    since = emulator.last_seq()

    def unlucky_gets() -> list[int]:
        return [
            e["status"]
            for e in emulator.requests(since)
            if e["method"] == "GET" and e["path"].endswith("/unlucky")
        ]

    wait_for(lambda: 200 in unlucky_gets(), timeout=INTERVAL * 4 + 30, what="a GET after the failed check")
    assert unlucky_gets()[:4] == [503, 503, 503, 200]
    wait_condition(kube, namespace, "unlucky")
    events = client.CoreV1Api(kube).list_namespaced_event(
        namespace, field_selector="involvedObject.name=unlucky"
    )
    assert "AzureUnavailable" in {e.reason for e in events.items}, "the failed check was reported"
