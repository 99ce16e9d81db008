"""The CRD deleted and re-created under the operator (docs/design.md §3 "Lifecycle"): while it runs, it stays up,
finishes the deletions the CRD's removal asks for, and serves the CRD again when it comes back; started
while the CRD is terminating, it releases the finalizers as each resource's deletionPolicy says.

Deleting the CRD deletes every WorkspaceConnection in the cluster, so these tests run against a control
plane of their own (not the session's, where other tests' namespaces still hold resources), and not at all
against an existing cluster."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from kubernetes import client

from tests.e2e.amlconn import Workspace, all_ready, items, load_examples, retarget
from tests.e2e.conftest import repo_root
from tests.e2e.kube import Kubectl, find_kubectl, kubeconfig_client, wait_for
from tests.e2e.operator_process import OperatorProcess
from wsconn_testbed.controlplane import (
    Cluster,
    ControlPlaneError,
    LocalControlPlane,
    crd_established,
    find_binaries,
)
from wsconn_testbed.emulator.client import EmulatorClient

CRD = "workspaceconnections.azureml.dev"


class Plane:
    """A control plane of the module's own, with kubectl, a client and the namespace of the running test."""

    def __init__(self, cluster: Cluster, cache: Path) -> None:
        self.cluster = cluster
        self.kubectl = Kubectl(find_kubectl(), cluster.kubeconfig, cache)
        self.kube = kubeconfig_client(cluster.kubeconfig)
        self.namespace = ""

    def new_namespace(self) -> None:
        self.namespace = f"crd-{uuid.uuid4().hex[:6]}"
        client.CoreV1Api(self.kube).create_namespace(
            client.V1Namespace(metadata=client.V1ObjectMeta(name=self.namespace))
        )

    def clean_up(self) -> None:
        """Delete the test's resources, through the operator if it runs, else by dropping the finalizers: a
        resource left behind would hold the next test's CRD deletion."""
        if self.crd_gone():
            return
        self.kubectl.run("delete", "workspaceconnections", "--all", "-n", self.namespace, "--wait=false")
        if wait_for_quietly(lambda: not items(self.kube, self.namespace), timeout=30):
            return
        for item in items(self.kube, self.namespace):
            self.kubectl.run(
                "patch",
                "workspaceconnection",
                item["metadata"]["name"],
                "-n",
                self.namespace,
                "--type=merge",
                "-p",
                '{"metadata":{"finalizers":null}}',
                check=False,
            )

    def apply_crd(self) -> None:
        self.kubectl.run("apply", "--server-side", "-f", str(repo_root() / "crds"))
        wait_for(
            lambda: crd_established(self.kubectl.get_json("crd", CRD)), timeout=60, what="CRD Established"
        )

    def delete_crd(self) -> None:
        self.kubectl.run("delete", "crd", CRD, "--wait=false")

    def crd_gone(self) -> bool:
        return self.kubectl.run("get", "crd", CRD, check=False).returncode != 0

    def terminating(self) -> bool:
        crd = self.kubectl.get_json("crd", CRD)
        return any(c["type"] == "Terminating" and c["status"] == "True" for c in crd["status"]["conditions"])


@pytest.fixture(scope="module")
def plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Plane]:
    if os.environ.get("USE_EXISTING_CLUSTER", "").lower() == "true":
        pytest.skip("deleting the CRD would delete every WorkspaceConnection of the existing cluster")
    try:
        local = LocalControlPlane(
            find_binaries(), tmp_path_factory.mktemp("crd-plane"), controller_manager=False
        )
        cluster = local.start()
    except ControlPlaneError as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"control plane did not start: {exc}", pytrace=False)
        pytest.skip(f"control plane unavailable: {exc}")
    try:
        yield Plane(cluster, tmp_path_factory.mktemp("crd-kubectl-cache"))
    finally:
        local.stop()


@pytest.fixture
def operators(
    plane: Plane, emulator: EmulatorClient, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[[], OperatorProcess]]:
    """Start operators against the module's control plane, watching a namespace of the test's own; each must
    exit 0 on SIGTERM."""
    plane.new_namespace()
    started: list[OperatorProcess] = []
    env = {
        **emulator.operator_env(),
        "KUBECONFIG": str(plane.cluster.kubeconfig),
        "WSCONN_NAMESPACES": plane.namespace,
        "WSCONN_LOG_LEVEL": "debug",
    }

    def start() -> OperatorProcess:
        process = OperatorProcess(env=env, log_path=tmp_path / f"operator-{len(started)}.log").start()
        started.append(process)
        return process

    yield start
    plane.clean_up()
    codes = [p.stop() for p in started]
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        for p in started:
            print(f"--- {p.log_path.name} (last 20000 chars) ---\n{p.logs()[-20000:]}")
    assert all(c == 0 for c in codes), f"operator exit codes on SIGTERM: {codes}"


@pytest.fixture
def workspace(emulator: EmulatorClient) -> Workspace:
    """A workspace of its own in a subscription of its own."""
    ws = Workspace(str(uuid.uuid4()), "rg-e2e", f"ws-{uuid.uuid4().hex[:8]}")
    emulator.add_workspace(ws.subscription, ws.resource_group, ws.name)
    return ws


def wait_for_quietly(predicate: Callable[[], Any], timeout: float) -> bool:
    """Whether `predicate` came true within `timeout` (no failure when it did not)."""
    try:
        wait_for(predicate, timeout=timeout, interval=0.5)
    except AssertionError:
        return False
    return True


def _connections(plane: Plane, workspace: Workspace, names: list[str], **spec: Any) -> list[dict[str, Any]]:
    example = next(e for e in load_examples() if e.auth_type == "None")
    objects = [o for name in names for o in retarget(example, workspace, name=name, api_version=None)]
    for obj in objects:
        obj["metadata"]["namespace"] = plane.namespace
        obj["spec"].update(spec)
    return objects


def _alive(operator: OperatorProcess) -> bool:
    assert operator.popen is not None
    if operator.popen.poll() is not None:
        return False
    return httpx.get(f"http://127.0.0.1:{operator.health_port}/healthz", timeout=5).status_code == 200


def _in_azure(emulator: EmulatorClient, workspace: Workspace) -> set[str]:
    return {c["name"] for c in emulator.connections(prefix=workspace.id)}


def test_the_crd_deleted_and_recreated_under_a_running_operator(
    plane: Plane, operators: Callable[[], OperatorProcess], workspace: Workspace, emulator: EmulatorClient
) -> None:
    plane.apply_crd()
    operator = operators()
    plane.kubectl.apply(_connections(plane, workspace, ["first-a", "first-b"]))
    wait_for(lambda: all_ready(plane.kube, plane.namespace, 2), timeout=60, what="both Ready")

    plane.delete_crd()
    wait_for(plane.crd_gone, timeout=60, interval=0.5, what="the CRD gone")
    assert _in_azure(emulator, workspace) == set(), "the deletions the CRD's removal asked for were done"
    assert _alive(operator)

    plane.apply_crd()
    plane.kubectl.apply(_connections(plane, workspace, ["second"]))
    wait_for(lambda: all_ready(plane.kube, plane.namespace, 1), timeout=60, what="Ready after re-creation")

    # Without a resource holding a finalizer, the CRD vanishes at once.
    plane.kubectl.run("delete", "workspaceconnection", "second", "-n", plane.namespace)
    plane.delete_crd()
    wait_for(plane.crd_gone, timeout=30, interval=0.5, what="the empty CRD gone")
    assert _alive(operator)
    plane.apply_crd()
    plane.kubectl.apply(_connections(plane, workspace, ["third"]))
    wait_for(lambda: all_ready(plane.kube, plane.namespace, 1), timeout=60, what="Ready after re-creation")
    assert _alive(operator)
    assert "Traceback" not in operator.logs()


def test_started_while_the_crd_terminates_the_operator_releases_the_finalizers(
    plane: Plane, operators: Callable[[], OperatorProcess], workspace: Workspace, emulator: EmulatorClient
) -> None:
    plane.apply_crd()
    first = operators()
    plane.kubectl.apply(
        _connections(plane, workspace, ["gone-a", "gone-b"])
        + _connections(plane, workspace, ["kept"], deletionPolicy="Orphan")
    )
    wait_for(lambda: all_ready(plane.kube, plane.namespace, 3), timeout=60, what="all Ready")
    assert first.stop() == 0

    plane.delete_crd()
    wait_for(plane.terminating, timeout=30, what="the CRD Terminating")
    second = operators()
    wait_for(plane.crd_gone, timeout=60, interval=0.5, what="the CRD gone")
    assert _in_azure(emulator, workspace) == {"kept"}, "Delete deleted, Orphan left alone"
    assert _alive(second)

    plane.apply_crd()
    plane.kubectl.apply(_connections(plane, workspace, ["after"]))
    wait_for(lambda: all_ready(plane.kube, plane.namespace, 1), timeout=60, what="Ready after re-creation")
    assert "Traceback" not in second.logs()
