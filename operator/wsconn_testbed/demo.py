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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wsconn_testbed.controlplane import Cluster, LocalControlPlane, find_binaries, free_port

NAMESPACE = "demo"


@dataclass(frozen=True)
class Emulator:
    """A running emulator process and what it announced in its ready file."""

    process: subprocess.Popen[bytes]
    info: dict[str, Any]

    def operator_env(self) -> dict[str, str]:
        """The ordinary Azure settings that point an operator at this emulator."""
        client_id, client_secret = next(iter(self.info["clients"].items()))
        return {
            "AZURE_RESOURCE_MANAGER_ENDPOINT": self.info["arm_endpoint"],
            "AZURE_RESOURCE_MANAGER_AUDIENCE": self.info["audience"],
            "AZURE_AUTHORITY_HOST": self.info["authority_host"],
            "AZURE_TENANT_ID": self.info["tenant_id"],
            "AZURE_CLIENT_ID": client_id,
            "AZURE_CLIENT_SECRET": client_secret,
            "SSL_CERT_FILE": self.info["trust_bundle"],
        }


def _bin(name: str) -> str:
    found = Path(sys.executable).with_name(name)
    return str(found) if found.exists() else name


@contextmanager
def emulator(work_dir: Path, *extra_args: str, timeout: float = 30.0) -> Iterator[Emulator]:
    """Start `wsconn-emulator` and wait for its ready file."""
    state = work_dir / "emulator"
    state.mkdir(parents=True, exist_ok=True)
    ready = state / "ready.json"
    ready.unlink(missing_ok=True)
    log = (work_dir / "emulator.log").open("ab")
    process = subprocess.Popen(
        [
            _bin("wsconn-emulator"),
            "--port",
            "0",
            "--state-dir",
            str(state),
            "--ready-file",
            str(ready),
            *extra_args,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + timeout
        while not ready.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"emulator did not start; see {work_dir / 'emulator.log'}")
            time.sleep(0.05)
        yield Emulator(process, json.loads(ready.read_text()))
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


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
        with emulator(work_dir) as emu:
            print(f"Azure emulator at {emu.info['arm_endpoint']}", flush=True)
            kubectl(cluster, cache, "apply", "--server-side", "-f", str(repo / "crds"))
            kubectl(
                cluster, cache, "wait", "--for=condition=Established", "crd/workspaceconnections.azureml.dev"
            )
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
                [_bin("wsconn"), "run"], env=env, stdout=log, stderr=subprocess.STDOUT
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


def main(argv: list[str]) -> int:
    """Entry point for `wsconn-testbed demo [--once] [--keep]`."""
    once = "--once" in argv
    keep = "--keep" in argv
    repo = Path.cwd()
    if not (repo / "examples").is_dir() or not (repo / "crds").is_dir():
        print("run from the repository root (it needs crds/ and examples/)", file=sys.stderr)
        return 2
    work_dir = Path(tempfile.mkdtemp(prefix="wsconn-demo-"))
    try:
        return run_demo(repo, work_dir, once=once)
    finally:
        if not keep:
            shutil.rmtree(work_dir, ignore_errors=True)
