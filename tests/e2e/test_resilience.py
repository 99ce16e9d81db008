"""Throttling, retries, graceful shutdown and deletion races against the emulator's ARM."""

from __future__ import annotations

import datetime as dt
import re
import signal
import time
from collections.abc import Callable
from typing import Any

from kubernetes import client
from kubernetes.client import ApiException

from tests.e2e.amlconn import Workspace, all_ready, get, load_examples, retarget
from tests.e2e.kube import Kubectl, wait_for
from tests.e2e.operator_process import OperatorProcess
from wsconn_testbed.emulator.client import EmulatorClient


def _objects(
    workspace: Workspace, namespace: str, names: list[str], auth_type: str = "ApiKey"
) -> list[dict[str, Any]]:
    example = next(e for e in load_examples() if e.auth_type == auth_type)
    objects = [o for name in names for o in retarget(example, workspace, name=name, api_version=None)]
    for obj in objects:
        obj["metadata"]["namespace"] = namespace
    return objects


def _arm_calls(emulator: EmulatorClient, workspace: Workspace, since: int) -> list[dict[str, Any]]:
    return [e for e in emulator.requests(since) if e["path"].startswith(workspace.id)]


def test_three_hundred_creations_at_arm_bucket_sizes_draw_no_429(
    operator: OperatorProcess,
    kubectl: Kubectl,
    kube: client.ApiClient,
    namespace: str,
    workspace: Workspace,
    emulator: EmulatorClient,
) -> None:
    count = 300
    since = emulator.last_seq()
    kubectl.apply(_objects(workspace, namespace, [f"bulk-{i:03d}" for i in range(count)], auth_type="None"))
    wait_for(lambda: all_ready(kube, namespace, count), timeout=180, interval=1, what="300 Ready")
    calls = _arm_calls(emulator, workspace, since)
    statuses = [e["status"] for e in calls]
    puts = [e for e in calls if e["method"] == "PUT"]
    print(
        f"300 creations: {len(puts)} PUTs, {len(calls) - len(puts)} other calls, {statuses.count(429)} x 429"
    )
    assert statuses.count(429) == 0
    assert len(puts) == count


def test_429_is_honoured_with_retry_after(
    start_operator: Callable[..., OperatorProcess],
    kubectl: Kubectl,
    kube: client.ApiClient,
    namespace: str,
    workspace: Workspace,
    emulator: EmulatorClient,
) -> None:
    emulator.admin("PUT", "throttle", {"writes": {"capacity": 4, "rate": 2}})
    # PUTs answered after a second, so that a first wave is in flight before any answer: the client follows
    # ARM's remaining-writes headers once it has one, so only writes sent before it could know can meet a 429.
    emulator.faults([{"methods": ["PUT"], "path_contains": workspace.id, "latency": 1.0}])
    try:
        operator = start_operator()
        names = [f"throttled-{i}" for i in range(16)]
        since = emulator.last_seq()
        kubectl.apply(_objects(workspace, namespace, names))
        wait_for(lambda: all_ready(kube, namespace, len(names)), timeout=90, interval=0.5, what="all Ready")
    finally:
        emulator.admin("PUT", "throttle", {"writes": {"capacity": 200, "rate": 10}})
        emulator.faults([])
    writes = [e for e in _arm_calls(emulator, workspace, since) if e["method"] == "PUT"]
    assert len([e for e in writes if e["status"] == 200]) == len(names)
    throttled = [e for e in writes if e["status"] == 429]
    assert throttled, "the small bucket did throttle"
    # Honouring Retry-After, judged in the operator's own order of events (its debug log), so that neither
    # side's scheduling delays on a loaded machine can blur it: once the operator has read a 429, no write
    # starts until Retry-After has passed, from any worker. The trace is checked against the emulator's
    # log to be complete.
    sends, backoffs = _write_trace(operator.logs(), workspace)
    assert len(sends) == len(writes)
    assert sorted(wait for _, wait in backoffs) == sorted(float(e["retry_after"]) for e in throttled)
    for read_at, wait in backoffs:
        early = [s for s in sends if read_at < s < read_at + wait]
        assert early == [], f"{len(early)} writes started inside the {wait:g}s Retry-After of a 429"
    print(f"{len(throttled)} x 429 for {len(names)} writes at a 4-token bucket refilled at 2/s")
    metrics = _metrics(operator.metrics())
    assert metrics[("wsconn_arm_throttled_total", (("method", "PUT"),))] == len(throttled)
    assert metrics[("wsconn_arm_requests_total", (("method", "PUT"), ("status", "429")))] == len(throttled)
    assert metrics[("wsconn_arm_requests_total", (("method", "PUT"), ("status", "200")))] == len(names)
    assert metrics[("wsconn_arm_request_duration_seconds_count", (("method", "PUT"),))] == len(writes)
    assert metrics[("wsconn_resources", (("ready", "True"),))] == len(names)
    assert sum(v for (name, labels), v in metrics.items() if name == "wsconn_reconciles_total") >= len(names)


def _metrics(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Prometheus exposition text as {(name, sorted labels): value}."""
    out = {}
    for line in text.splitlines():
        match = re.match(r"^(\w+)(?:\{(.*)\})? (\S+)$", line)
        if match:
            labels = tuple(sorted(re.findall(r'(\w+)="([^"]*)"', match[2] or "")))
            out[(match[1], labels)] = float(match[3])
    return out


_ARM_LOG = re.compile(
    r"^\[(?P<time>[\d-]+ [\d:]+,\d{3})\] wsconn\.arm +\[\w+ *\] (?:\[[^\]]+\] )?ARM PUT (?P<path>\S+) "
    r"(?:(?P<send>sending)|answered 429: write requests wait (?P<wait>[\d.]+)s)",
    re.M,
)


def _write_trace(logs: str, workspace: Workspace) -> tuple[list[float], list[tuple[float, float]]]:
    """From the operator's log: when each PUT to the workspace started, and when each 429 was read with
    the wait it imposed."""
    sends, backoffs = [], []
    for match in _ARM_LOG.finditer(logs):
        if not match["path"].startswith(workspace.id):
            continue
        at = dt.datetime.strptime(match["time"], "%Y-%m-%d %H:%M:%S,%f").timestamp()
        if match["send"]:
            sends.append(at)
        else:
            backoffs.append((at, float(match["wait"])))
    return sends, backoffs


def test_transient_failures_are_retried_until_ready(
    operator: OperatorProcess,
    kubectl: Kubectl,
    kube: client.ApiClient,
    namespace: str,
    workspace: Workspace,
    emulator: EmulatorClient,
) -> None:
    emulator.faults(
        [
            {"path_contains": workspace.id, "error_rate": 0.5, "statuses": [500, 503, 408], "duration": 6},
            {"path_contains": workspace.id, "drop_rate": 0.2, "duration": 6},
        ],
        seed=7,
    )
    names = [f"flaky-{i}" for i in range(10)]
    since = emulator.last_seq()
    try:
        kubectl.apply(_objects(workspace, namespace, names))
        wait_for(lambda: all_ready(kube, namespace, len(names)), timeout=90, interval=0.5, what="all Ready")
    finally:
        emulator.admin("DELETE", "faults")
    calls = _arm_calls(emulator, workspace, since)
    failed = [e for e in calls if e["fault"]]
    assert failed, "the faults were injected"
    assert {c["name"] for c in emulator.connections(prefix=workspace.id)} == set(names)
    logs = operator.logs()
    for entry in [e for e in failed if e["fault"] != "drop"][:5]:
        assert entry["request_id"] in logs, "every retried failure is logged with ARM's request id"


def test_sigterm_with_writes_in_flight_exits_cleanly_and_loses_nothing(
    start_operator: Callable[..., OperatorProcess],
    kubectl: Kubectl,
    kube: client.ApiClient,
    namespace: str,
    workspace: Workspace,
    emulator: EmulatorClient,
) -> None:
    emulator.faults([{"methods": ["PUT"], "path_contains": workspace.id, "latency": 3.0, "count": 5}])
    first = start_operator()
    names = [f"inflight-{i}" for i in range(5)]
    kubectl.apply(_objects(workspace, namespace, names))
    wait_for(lambda: _sent(first, workspace, "PUT"), timeout=20, what="a PUT sent")
    assert [e for e in _arm_calls(emulator, workspace, 0) if e["method"] == "PUT"] == [], "still unanswered"
    started = time.monotonic()
    code = first.stop(signal.SIGTERM, timeout=25)
    took = time.monotonic() - started
    emulator.admin("DELETE", "faults")
    assert code == 0
    assert took < 25, f"shutdown took {took:.1f}s"
    assert _unclean_shutdown(first.logs()) == []

    start_operator()
    wait_for(lambda: all_ready(kube, namespace, len(names)), timeout=60, interval=0.5, what="all Ready")
    assert {c["name"] for c in emulator.connections(prefix=workspace.id)} == set(names)


def test_sigterm_stops_drift_checks_before_the_client_closes(
    start_operator: Callable[..., OperatorProcess],
    kubectl: Kubectl,
    kube: client.ApiClient,
    namespace: str,
    workspace: Workspace,
    emulator: EmulatorClient,
) -> None:
    operator = start_operator(WSCONN_DRIFT_INTERVAL="2")
    names = [f"checked-{i}" for i in range(12)]
    kubectl.apply(_objects(workspace, namespace, names, auth_type="None"))
    wait_for(lambda: all_ready(kube, namespace, len(names)), timeout=60, interval=0.5, what="all Ready")
    emulator.faults([{"methods": ["GET"], "path_contains": workspace.id, "latency": 10}])
    try:
        wait_for(
            lambda: len(_sent(operator, workspace, "GET")) >= 6, timeout=30, what="drift checks in flight"
        )
        assert operator.stop(signal.SIGTERM, timeout=25) == 0
    finally:
        emulator.admin("DELETE", "faults")
    assert _unclean_shutdown(operator.logs()) == []


def _sent(operator: OperatorProcess, workspace: Workspace, method: str) -> list[str]:
    """The requests the operator logged as sent (debug log) for the workspace."""
    return re.findall(rf"ARM {method} {re.escape(workspace.id)}\S* sending", operator.logs())


def _unclean_shutdown(logs: str) -> list[str]:
    """Log lines that an orderly shutdown must not produce: tracebacks, timers Kopf had to leave running,
    requests on a closed client."""
    marks = ("Traceback", "orphaned", "did not exit in time", "client has been closed")
    return [line for line in logs.splitlines() if any(mark in line for mark in marks)]


def test_delete_while_put_in_flight(
    operator: OperatorProcess,
    kubectl: Kubectl,
    kube: client.ApiClient,
    namespace: str,
    workspace: Workspace,
    emulator: EmulatorClient,
) -> None:
    emulator.faults([{"methods": ["PUT"], "path_contains": workspace.id, "latency": 2.0, "count": 1}])
    try:
        kubectl.apply(_objects(workspace, namespace, ["racer"]))
        # A create first GETs the connection (the adoption check), then PUTs it: with the GET answered and no
        # PUT answered yet, the PUT is in flight for 2 s. (Waiting for no request at all, as before the GET,
        # caught only the ~0.1 s between the finalizer and the GET's answer, and timed out when it missed it.)
        wait_for(
            lambda: (
                [e["method"] for e in emulator.requests(0) if e["path"].startswith(workspace.id)] == ["GET"]
                and _has_finalizer(kube, namespace, "racer")
            ),
            timeout=10,
            what="the PUT in flight",
        )
        client.CustomObjectsApi(kube).delete_namespaced_custom_object(
            "azureml.dev", "v1alpha1", namespace, "workspaceconnections", "racer"
        )
        wait_for(lambda: not _exists(kube, namespace, "racer"), timeout=30, what="racer deleted")
    finally:
        emulator.admin("DELETE", "faults")
    time.sleep(1)
    assert emulator.connections(prefix=workspace.id) == [], "the late PUT did not leave a connection behind"


def test_namespace_deletion_completes_every_finalizer(
    operator: OperatorProcess,
    kubectl: Kubectl,
    kube: client.ApiClient,
    namespace: str,
    workspace: Workspace,
    emulator: EmulatorClient,
) -> None:
    names = [f"tenant-{i}" for i in range(20)]
    kubectl.apply(_objects(workspace, namespace, names))
    wait_for(lambda: all_ready(kube, namespace, len(names)), timeout=60, interval=0.5, what="all Ready")
    since = emulator.last_seq()

    client.CoreV1Api(kube).delete_namespace(namespace)

    wait_for(lambda: not _namespace_exists(kube, namespace), timeout=90, interval=0.5, what="namespace gone")
    deletes = [e for e in _arm_calls(emulator, workspace, since) if e["method"] == "DELETE"]
    assert sorted(e["path"].rsplit("/", 1)[-1] for e in deletes if e["status"] == 200) == sorted(names)
    assert emulator.connections(prefix=workspace.id) == []


def _has_finalizer(kube: client.ApiClient, namespace: str, name: str) -> bool:
    return bool(get(kube, namespace, name)["metadata"].get("finalizers"))


def _exists(kube: client.ApiClient, namespace: str, name: str) -> bool:
    try:
        get(kube, namespace, name)
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise
    return True


def _namespace_exists(kube: client.ApiClient, namespace: str) -> bool:
    try:
        client.CoreV1Api(kube).read_namespace(namespace)
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise
    return True
