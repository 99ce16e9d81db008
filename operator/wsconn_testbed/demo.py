"""The quickstart: a local control plane, the Azure emulator and the operator, with every example applied.

`wsconn-testbed demo` starts etcd + kube-apiserver + kube-controller-manager on loopback, the HTTPS Azure
emulator, and `wsconn run` configured like a real deployment (ARM endpoint, Entra authority, client
credentials, CA bundle: nothing emulator-specific). It applies the CRD and `examples/`, waits until every
WorkspaceConnection is Ready, prints `kubectl get amlconn`, and keeps running for you to experiment (the
kubeconfig path is printed) until Ctrl-C, or exits at once with `--once`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from wsconn_testbed.controlplane import (
    Cluster,
    LocalControlPlane,
    crd_established,
    find_binaries,
    free_port,
)
from wsconn_testbed.emulator.client import running_emulator, venv_bin

NAMESPACE = "demo"


def kubectl(cluster: Cluster, cache: Path, *args: str, stdin: str | None = None) -> str:
    """Run kubectl (the one built with the control plane) and return its stdout."""
    binary = find_binaries() / "kubectl"
    argv = [
        str(binary if binary.exists() else "kubectl"),
        f"--kubeconfig={cluster.kubeconfig}",
        f"--cache-dir={cache}",
        *args,
    ]
    return subprocess.run(argv, input=stdin, capture_output=True, text=True, check=True).stdout


def run_demo(repo: Path, work_dir: Path, *, once: bool) -> int:
    """Bring everything up, apply the examples, wait for Ready; return the exit code."""
    plane = LocalControlPlane(find_binaries(), work_dir / "controlplane")
    print(f"starting kube-apiserver, etcd and kube-controller-manager in {work_dir} ...", flush=True)
    cluster = plane.start()
    print(f"control plane {plane.version} ready in {plane.startup_seconds:.1f}s", flush=True)
    cache = work_dir / "kubectl-cache"
    operator: subprocess.Popen[bytes] | None = None
    try:
        with running_emulator(work_dir) as (_, emu):
            print(f"Azure emulator at {emu.info['arm_endpoint']}", flush=True)
            kubectl(cluster, cache, "apply", "--server-side", "-f", str(repo / "crds"))
            _wait_established(cluster, cache, "workspaceconnections.azureml.dev", timeout=60)
            kubectl(cluster, cache, "create", "namespace", NAMESPACE)
            env = {
                **os.environ,
                **emu.operator_env(),
                "KUBECONFIG": str(cluster.kubeconfig),
                "WSCONN_BIND_ADDRESS": "127.0.0.1",
                "WSCONN_HEALTH_PORT": str(free_port()),
                "WSCONN_METRICS_PORT": str(free_port()),
            }
            log = (work_dir / "operator.log").open("ab")
            operator = subprocess.Popen(
                [venv_bin("wsconn"), "run"], env=env, stdout=log, stderr=subprocess.STDOUT
            )
            kubectl(cluster, cache, "apply", "-n", NAMESPACE, "-f", str(repo / "examples"))
            names = _wait_ready(cluster, cache, timeout=120)
            print(kubectl(cluster, cache, "get", "amlconn", "-n", NAMESPACE), flush=True)
            if names is None:
                print(f"not every connection became Ready; see {work_dir / 'operator.log'}", flush=True)
                return 1
            print(f"{len(names)} connections Ready against the emulator.", flush=True)
            if once:
                return 0
            print(
                f"\nStill running. Try:\n  export KUBECONFIG={cluster.kubeconfig}\n"
                f"  kubectl get amlconn -n {NAMESPACE} -w\nOperator log: {work_dir / 'operator.log'}\n"
                f"For `wsconn-testbed app` (app registrations, docs/configuration.md):\n"
                f"  export WSCONN_EMULATOR={work_dir / 'emulator' / 'ready.json'}\n"
                "Ctrl-C stops everything.",
                flush=True,
            )
            signal.signal(signal.SIGTERM, signal.default_int_handler)
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                return 0
    finally:
        if operator is not None:
            operator.terminate()
            operator.wait(30)
        plane.stop()


def _wait_established(cluster: Cluster, cache: Path, name: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not crd_established(json.loads(kubectl(cluster, cache, "get", "crd", name, "-o", "json"))):
        if time.monotonic() > deadline:
            raise RuntimeError(f"CRD {name} not Established after {timeout:g}s")
        time.sleep(0.2)


def _wait_ready(cluster: Cluster, cache: Path, timeout: float) -> list[str] | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        items = json.loads(kubectl(cluster, cache, "get", "amlconn", "-n", NAMESPACE, "-o", "json"))["items"]
        ready = [
            i["metadata"]["name"]
            for i in items
            if any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in i.get("status", {}).get("conditions", [])
            )
        ]
        if items and len(ready) == len(items):
            return ready
        time.sleep(1)
    return None


def main(*, once: bool, keep: bool) -> int:
    """Entry point for `wsconn-testbed demo [--once] [--keep]` (options parsed in cli.py)."""
    repo = Path.cwd()
    if not (repo / "examples").is_dir() or not (repo / "crds").is_dir():
        print("run from the repository root (it needs crds/ and examples/)", file=sys.stderr)
        return 2
    work_dir = Path(tempfile.mkdtemp(prefix="wsconn-demo-"))
    try:
        return run_demo(repo, work_dir, once=once)
    finally:
        if keep:
            print(f"work directory kept: {work_dir}", flush=True)
        else:
            shutil.rmtree(work_dir, ignore_errors=True)
