"""e2e fixtures: one real control plane (etcd + kube-apiserver + kube-controller-manager) per test session
(per xdist worker), and a fresh namespace per test.

Nothing here mocks Kubernetes. With USE_EXISTING_CLUSTER=true the tests use the current kubeconfig instead.
Under CI=true a control plane that cannot start fails the run; elsewhere, missing binaries skip the e2e tests
with the command that provides them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from tests.e2e.amlconn import Workspace
from tests.e2e.kube import Kubectl, api_client, find_kubectl
from tests.e2e.operator_process import OperatorProcess
from tests.runs import CONTROLPLANE_RUNS
from wsconn_testbed.controlplane import (
    Cluster,
    ControlPlaneError,
    LocalControlPlane,
    existing_cluster,
    find_binaries,
)
from wsconn_testbed.emulator.client import EmulatorClient, running_emulator


@pytest.fixture(scope="session")
def local_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalControlPlane | None]:
    """The local control plane, or None when USE_EXISTING_CLUSTER=true."""
    if os.environ.get("USE_EXISTING_CLUSTER", "").lower() == "true":
        yield None
        return
    try:
        plane = LocalControlPlane(find_binaries(), tmp_path_factory.mktemp("controlplane"))
        plane.start()
    except ControlPlaneError as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"control plane did not start: {exc}", pytrace=False)
        pytest.skip(f"control plane unavailable: {exc}")
    CONTROLPLANE_RUNS.append({"version": plane.version, "startup_seconds": round(plane.startup_seconds, 2)})
    yield plane
    plane.stop()


@pytest.fixture(scope="session")
def cluster(local_plane: LocalControlPlane | None) -> Cluster:
    """How to reach the cluster under test."""
    if local_plane is None:
        return existing_cluster()
    assert local_plane.cluster is not None
    return local_plane.cluster


@pytest.fixture(scope="session")
def kubectl(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    """kubectl against the cluster under test, with a discovery cache of this run only."""
    return Kubectl(find_kubectl(), cluster.kubeconfig, tmp_path_factory.mktemp("kubectl-cache"))


@pytest.fixture(scope="session")
def kube(cluster: Cluster) -> Iterator[client.ApiClient]:
    """A Kubernetes API client (admin)."""
    api = api_client(cluster)
    yield api
    api.close()


@pytest.fixture
def namespace(kube: client.ApiClient, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace for one test, deleted afterwards (without waiting for it to terminate)."""
    core = client.CoreV1Api(kube)
    short = request.node.name.lower().replace("_", "-").replace("[", "-").replace("]", "")
    name = f"t-{short[:40].strip('-')}-{uuid.uuid4().hex[:6]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    try:
        core.delete_namespace(name)
    except client.ApiException as exc:
        if exc.status != 404:  # a test may delete its namespace itself
            raise


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorClient]:
    """The Azure emulator (ARM + Entra ID) as a process, one per test session and worker."""
    with running_emulator(tmp_path_factory.mktemp("emulator")) as (_, client):
        yield client


@pytest.fixture(scope="session")
def crd(kubectl: Kubectl) -> None:
    """The WorkspaceConnection CRD from crds/, applied and established."""
    kubectl.run("apply", "--server-side", "-f", str(repo_root() / "crds"))
    kubectl.wait_established("workspaceconnections.azureml.dev")


@pytest.fixture
def workspace(emulator: EmulatorClient) -> Workspace:
    """A workspace of its own in a subscription of its own (own ARM buckets, own request-log prefix)."""
    ws = Workspace(str(uuid.uuid4()), "rg-e2e", f"ws-{uuid.uuid4().hex[:8]}")
    emulator.add_workspace(ws.subscription, ws.resource_group, ws.name)
    return ws


@pytest.fixture
def operator_env(emulator: EmulatorClient, cluster: Cluster, namespace: str) -> dict[str, str]:
    """The environment a deployment would give the operator: Azure settings, kubeconfig, one namespace."""
    return {
        **emulator.operator_env(),
        "KUBECONFIG": str(cluster.kubeconfig),
        "WSCONN_NAMESPACES": namespace,
        "WSCONN_LOG_LEVEL": "debug",
    }


@pytest.fixture
def operator(
    crd: None, operator_env: dict[str, str], tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[OperatorProcess]:
    """`wsconn run` watching the test's namespace; stopped with SIGTERM afterwards, which must exit 0."""
    process = OperatorProcess(env=operator_env, log_path=tmp_path / "operator.log").start()
    yield process
    code = process.stop()
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        print(f"--- operator log (last 20000 chars) ---\n{process.logs()[-20000:]}")
    assert code == 0, f"operator exited {code} on SIGTERM"


@pytest.fixture
def start_operator(
    crd: None, operator_env: dict[str, str], tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[..., OperatorProcess]]:
    """A factory for operators with extra settings (`start_operator(WSCONN_DRIFT_INTERVAL="2")`); every
    one still running at the end is stopped with SIGTERM and must exit 0."""
    started: list[OperatorProcess] = []

    def start(**env: str) -> OperatorProcess:
        log = tmp_path / f"operator-{len(started)}.log"
        process = OperatorProcess(env={**operator_env, **env}, log_path=log).start()
        started.append(process)
        return process

    yield start
    codes = [p.stop() for p in started]
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        for p in started:
            print(f"--- {p.log_path.name} (last 20000 chars) ---\n{p.logs()[-20000:]}")
    assert all(c in (0, -9) for c in codes), f"operator exit codes on SIGTERM: {codes}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def repo_root() -> Path:
    """The repository root (for examples/ and crds/)."""
    return Path(__file__).resolve().parents[2]
