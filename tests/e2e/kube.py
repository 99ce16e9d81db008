"""Small helpers for e2e tests: kubectl as a user runs it, and a Kubernetes API client."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client, config

from wsconn_testbed.controlplane import Cluster, crd_established


@dataclass
class Kubectl:
    """kubectl bound to one cluster, with its own discovery cache (a stale cache can hide a new CRD)."""

    binary: str
    kubeconfig: Path
    cache_dir: Path

    def run(
        self, *args: str, stdin: str | None = None, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """Run kubectl; on failure with check=True, raise with its stderr."""
        argv = [self.binary, f"--kubeconfig={self.kubeconfig}", f"--cache-dir={self.cache_dir}", *args]
        proc = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=timeout, check=False)
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
        return proc

    def apply(
        self, manifest: str | dict[str, Any] | Sequence[dict[str, Any]], *, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """kubectl apply -f - with YAML text or objects."""
        if not isinstance(manifest, str):
            docs = [manifest] if isinstance(manifest, dict) else list(manifest)
            manifest = yaml.safe_dump_all(docs)
        return self.run("apply", "-f", "-", stdin=manifest, check=check)

    def get_json(self, *args: str) -> Any:
        """kubectl get ... -o json, parsed."""
        return json.loads(self.run("get", *args, "-o", "json").stdout)

    def wait_established(self, *names: str, timeout: float = 60.0) -> None:
        """Wait until each named CRD is Established (polled: see crd_established)."""
        for name in names:

            def established(name: str = name) -> bool:
                return crd_established(self.get_json("crd", name))

            wait_for(established, timeout=timeout, what=f"CRD {name} Established")


def find_kubectl() -> str:
    """The kubectl built with the control plane (same minor as the server), else the one on PATH."""
    bin_dir = os.environ.get("WSCONN_CONTROLPLANE_BIN")
    if bin_dir and (Path(bin_dir) / "kubectl").exists():
        return str(Path(bin_dir) / "kubectl")
    found = shutil.which("kubectl")
    if not found:
        raise RuntimeError("no kubectl: run hack/build-controlplane")
    return found


def api_client(cluster: Cluster) -> client.ApiClient:
    """A Kubernetes API client for the cluster's kubeconfig."""
    return kubeconfig_client(cluster.kubeconfig)


def kubeconfig_client(kubeconfig: Path) -> client.ApiClient:
    """A Kubernetes API client for a kubeconfig file (the cluster's, or one holding another identity)."""
    configuration = client.Configuration()
    config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
    return client.ApiClient(configuration)


def wait_for(
    predicate: Callable[[], Any],
    *,
    timeout: float = 30.0,
    interval: float = 0.1,
    what: str = "condition",
    describe: Callable[[], str] | None = None,
) -> Any:
    """Poll until `predicate()` returns something truthy, and return it; fail with `what` (and what
    `describe()` says about the state) on timeout."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    detail = describe() if describe is not None else repr(last)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {detail})")
