"""A real GitOps run: Flux's source-controller and kustomize-controller (built from Go modules by
hack/build-tools into the cache, their CRDs from the same modules) run as processes against the local
control plane, fetch a Git repository served on loopback (tests/e2e/gitserver.py), and a Flux
`Kustomization` with `wait: true` applies WorkspaceConnections and their Secrets from it while the operator
reconciles them against the Azure emulator. Flux judges health with kstatus, as it does in a cluster.

- Ready: the Kustomization is Ready only once the operator has made every connection Ready.
- A bad spec (a workspace Azure does not have): the Kustomization fails at once ("failed early due to
  stalled resources"), naming the connection; kstatus, which Flux reads health with, gives the operator's
  Stalled message for it (Flux v1.9 keeps object messages out of the Kustomization's own condition).
- The Secret delivered a moment after the connection (GitOps ordering, External Secrets, SOPS): during the
  operator's missing-Secret grace (docs/design.md §3, --missing-secret-grace) the connection is in progress, not
  failed, so Flux waits instead of failing, and is Ready once the Secret lands.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from tests.chart.test_kstatus import compute
from tests.chart.tools import built
from tests.e2e.amlconn import Workspace, get, is_current, load_examples, retarget
from tests.e2e.gitserver import GitServer
from tests.e2e.kube import Kubectl, wait_for
from tests.e2e.operator_process import OperatorProcess
from wsconn_testbed.controlplane import Cluster, free_port

pytestmark = pytest.mark.e2e

FLUX_NAMESPACE = "flux-system"


@dataclass
class Flux:
    """The two controllers as processes, logging to files."""

    processes: list[subprocess.Popen[bytes]]
    logs: list[Path]

    def stop(self) -> None:
        """SIGTERM, then wait (controller-runtime shuts down in well under a second)."""
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)

    def watch(
        self, kubectl: Kubectl, namespace: str, until: Callable[[dict[str, Any]], bool]
    ) -> list[dict[str, Any]]:
        """watch_kustomization, with both controllers' logs printed when it fails."""
        try:
            return watch_kustomization(kubectl, namespace, until)
        except AssertionError:
            print(self.tail())
            raise

    def tail(self) -> str:
        """The end of both logs (for a failure's report)."""
        return "\n".join(f"--- {log.name}\n{log.read_text(errors='replace')[-6000:]}" for log in self.logs)


@pytest.fixture(scope="module")
def flux(kubectl: Kubectl, cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flux]:
    """source-controller and kustomize-controller running, with their CRDs installed."""
    bin_dir = Path(built("build-tools", "flux", needs="Go >= 1.26.7 and the Go module proxy"))
    kubectl.run("apply", "--server-side", "-f", str(bin_dir / "crds"))
    kubectl.wait_established(
        "gitrepositories.source.toolkit.fluxcd.io", "kustomizations.kustomize.toolkit.fluxcd.io"
    )
    if kubectl.run("get", "namespace", FLUX_NAMESPACE, check=False).returncode != 0:
        kubectl.run("create", "namespace", FLUX_NAMESPACE)
    work = tmp_path_factory.mktemp("flux")
    storage = free_port()
    (work / "storage").mkdir()
    env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig), "RUNTIME_NAMESPACE": FLUX_NAMESPACE}
    common = ["--enable-leader-election=false", "--log-level=debug", "--events-addr="]
    commands = {
        "source-controller": [
            f"--storage-path={work / 'storage'}",
            f"--storage-addr=127.0.0.1:{storage}",
            f"--storage-adv-addr=127.0.0.1:{storage}",
        ],
        "kustomize-controller": ["--no-remote-bases=true"],
    }
    processes, logs = [], []
    for name, args in commands.items():
        log = work / f"{name}.log"
        probes = [f"--metrics-addr=127.0.0.1:{free_port()}", f"--health-addr=127.0.0.1:{free_port()}"]
        with log.open("ab") as out_file:
            processes.append(
                subprocess.Popen(
                    [str(bin_dir / name), *common, *probes, *args],
                    env=env,
                    stdout=out_file,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                )
            )
        logs.append(log)
    controllers = Flux(processes, logs)
    yield controllers
    controllers.stop()


@pytest.fixture
def git_server(tmp_path: Path) -> Iterator[GitServer]:
    """A Git repository served over HTTP on loopback."""
    server = GitServer(tmp_path / "git").start()
    yield server
    server.stop()


def flux_objects(namespace: str, url: str, path: str) -> list[dict[str, Any]]:
    """A GitRepository for `url` and a Kustomization of `path` into `namespace` with wait: true, polling
    every second so that the test does not wait on Flux's ordinary intervals."""
    meta = {"name": namespace, "namespace": FLUX_NAMESPACE}
    source = {
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": meta,
        "spec": {"interval": "1s", "url": url, "ref": {"branch": "main"}, "timeout": "20s"},
    }
    kustomization = {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": meta,
        "spec": {
            "interval": "2s",
            "retryInterval": "2s",
            "path": path,
            "prune": True,
            "wait": True,
            "timeout": "60s",
            "targetNamespace": namespace,
            "sourceRef": {"kind": "GitRepository", "name": namespace},
        },
    }
    return [source, kustomization]


def apply_flux(kubectl: Kubectl, namespace: str, url: str, path: str) -> None:
    """The GitRepository first, and the Kustomization once its artifact exists (else kustomize-controller
    waits 30 s before it looks again)."""
    source, kustomization = flux_objects(namespace, url, path)
    kubectl.apply(source)
    wait_for(
        lambda: (kubectl.get_json("gitrepository", namespace, "-n", FLUX_NAMESPACE).get("status") or {}).get(
            "artifact"
        ),
        timeout=60,
        what="the GitRepository's artifact",
    )
    kubectl.apply(kustomization)


def ready_condition(kubectl: Kubectl, namespace: str) -> dict[str, Any]:
    """The Kustomization's Ready condition ({} before it has one)."""
    obj = kubectl.get_json("kustomization", namespace, "-n", FLUX_NAMESPACE)
    conditions = (obj.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c["type"] == "Ready"), {})


def watch_kustomization(
    kubectl: Kubectl, namespace: str, until: Callable[[dict[str, Any]], bool], timeout: float = 120
) -> list[dict[str, Any]]:
    """Every distinct Ready condition the Kustomization shows until `until(condition)`; fails on timeout."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        condition = ready_condition(kubectl, namespace)
        key = {k: condition.get(k) for k in ("status", "reason", "message")}
        if condition and (not seen or seen[-1] != key):
            seen.append(key)
        if condition and until(condition):
            return seen
        time.sleep(0.2)
    raise AssertionError(f"Kustomization {namespace} never got there; it showed: {seen}")


def connection(workspace: Workspace, name: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The ApiKey example for `workspace` as (Secrets, WorkspaceConnection), without namespaces (Flux's
    targetNamespace places them)."""
    example = next(e for e in load_examples() if e.auth_type == "ApiKey")
    *secrets, conn = retarget(example, workspace, name=name, api_version=None)
    return secrets, conn


def test_flux_is_ready_when_the_operator_is(
    flux: Flux,
    git_server: GitServer,
    operator: OperatorProcess,
    kubectl: Kubectl,
    kube: client.ApiClient,
    namespace: str,
    workspace: Workspace,
) -> None:
    secrets, conn = connection(workspace, "from-git")
    git_server.commit({"connections/team/connection.yaml": [*secrets, conn]}, "a connection and its Secret")
    apply_flux(kubectl, namespace, git_server.url, "./connections/team")
    seen = flux.watch(kubectl, namespace, lambda c: c["status"] == "True")
    # Flux counted the connection healthy only because the operator had made it Ready.
    applied = get(kube, namespace, "from-git")
    assert is_current(applied, "Ready"), applied.get("status")
    assert not [c for c in seen if c["status"] == "False"], seen
    assert applied["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/name"] == namespace


def test_flux_reports_a_bad_spec_with_our_reason(
    flux: Flux,
    git_server: GitServer,
    operator: OperatorProcess,
    kubectl: Kubectl,
    kube: client.ApiClient,
    namespace: str,
    workspace: Workspace,
) -> None:
    missing_workspace = Workspace(workspace.subscription, workspace.resource_group, "ws-not-in-azure")
    secrets, conn = connection(missing_workspace, "no-such-workspace")
    git_server.commit({"connections/team/connection.yaml": [*secrets, conn]}, "a connection Azure refuses")
    apply_flux(kubectl, namespace, git_server.url, "./connections/team")
    flux.watch(kubectl, namespace, lambda c: c.get("reason") == "HealthCheckFailed")
    # Flux names the object and kstatus's verdict; the reason and message are the object's Stalled
    # condition, which is what kstatus (Flux's reader) reports for it: `flux events` and kstatus show it.
    message = ready_condition(kubectl, namespace)["message"]
    assert f"WorkspaceConnection/{namespace}/no-such-workspace status: 'Failed'" in message, message
    stalled = get(kube, namespace, "no-such-workspace")
    condition = is_current(stalled, "Stalled")
    assert condition is not None
    assert condition["reason"] == "WorkspaceNotFound"
    [verdict] = compute(stalled)
    assert (verdict["status"], verdict["message"]) == ("Failed", condition["message"])
    assert "ws-not-in-azure" in verdict["message"]


def test_flux_waits_through_the_missing_secret_grace(
    flux: Flux,
    git_server: GitServer,
    operator: OperatorProcess,
    kubectl: Kubectl,
    kube: client.ApiClient,
    namespace: str,
    workspace: Workspace,
) -> None:
    secrets, conn = connection(workspace, "secret-later")
    git_server.commit({"connections/team/connection.yaml": [conn]}, "the connection first")
    apply_flux(kubectl, namespace, git_server.url, "./connections/team")
    wait_for(
        lambda: ready_condition(kubectl, namespace).get("reason") not in (None, "", "DependencyNotReady"),
        timeout=60,
        what="Flux applying the first revision",
    )
    time.sleep(3)  # "a moment later": the operator has seen the connection without its Secret
    # The Secret comes from another controller (External Secrets, SOPS), as docs/design.md §3 has it, while Flux
    # waits on the connection's health: a Secret in a later commit of the same Kustomization could not land
    # before that wait ends.
    kubectl.apply([{**s, "metadata": {**s["metadata"], "namespace": namespace}} for s in secrets])
    seen = flux.watch(kubectl, namespace, lambda c: c["status"] == "True")
    assert not [c for c in seen if c["reason"] == "HealthCheckFailed"], (
        f"Flux failed during the grace: {seen}"
    )
    assert is_current(get(kube, namespace, "secret-later"), "Ready")
