"""A real Kubernetes control plane on loopback: etcd, kube-apiserver and kube-controller-manager.

This is our envtest: the e2e tests, the demo and the benchmarks run against the real API server (CRD
validation, CEL, RBAC, watches, TokenRequest), not a mock. The controller-manager is there so that
namespaces finish terminating, garbage collection happens and default ServiceAccounts exist, as in a
real cluster.

Everything listens on 127.0.0.1 only, speaks TLS with a CA made for the run, and authenticates with
static tokens (an admin token in `system:masters`) or ServiceAccount tokens. `stop()` ends exactly the
processes `start()` launched; each child also gets SIGKILL from the kernel if this process dies first,
so a crashed test run leaves nothing listening.
"""

from __future__ import annotations

import ctypes
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from wsconn_testbed import pki

_PR_SET_PDEATHSIG = 1
# What a cluster does that the operator's behaviour depends on: namespaces terminate, owned objects are
# collected, ServiceAccounts and their tokens exist, aggregated ClusterRoles (admin/edit/view) are filled.
_CONTROLLERS = (
    "namespace-controller",
    "garbage-collector-controller",
    "serviceaccount-controller",
    "serviceaccount-token-controller",
    "root-ca-certificate-publisher-controller",
    "clusterrole-aggregation-controller",
)
READY_TIMEOUT = 60.0


class ControlPlaneError(RuntimeError):
    """The control plane could not be started; the message holds the tail of the failing log."""


@dataclass(frozen=True)
class Cluster:
    """How to reach a cluster: what tests and the demo need, whether local or existing."""

    kubeconfig: Path
    server: str
    ca_file: Path | None = None
    admin_token: str | None = None
    local: bool = False


def find_binaries() -> Path:
    """Directory with kube-apiserver and etcd: WSCONN_CONTROLPLANE_BIN, else KUBEBUILDER_ASSETS."""
    for var in ("WSCONN_CONTROLPLANE_BIN", "KUBEBUILDER_ASSETS"):
        value = os.environ.get(var)
        if value and (Path(value) / "kube-apiserver").exists():
            return Path(value)
    raise ControlPlaneError(
        "no control-plane binaries: run hack/build-controlplane and export "
        "WSCONN_CONTROLPLANE_BIN=<the directory it prints> (or set KUBEBUILDER_ASSETS)"
    )


def existing_cluster() -> Cluster:
    """The cluster of the current kubeconfig (USE_EXISTING_CLUSTER=true): kind, k3d, AKS..."""
    path = Path(os.environ.get("KUBECONFIG", "~/.kube/config").split(os.pathsep)[0]).expanduser()
    config = yaml.safe_load(path.read_text())
    current = config.get("current-context")
    context = next(c["context"] for c in config["contexts"] if c["name"] == current)
    cluster = next(c["cluster"] for c in config["clusters"] if c["name"] == context["cluster"])
    return Cluster(kubeconfig=path, server=cluster["server"])


def crd_established(crd: Mapping[str, Any]) -> bool:
    """Whether a CustomResourceDefinition object reports Established=True.

    Poll on this after creating a CRD: `kubectl wait --for=condition=Established` fails outright while a
    brand-new CRD has no conditions yet, which made the demo and the tests flaky.
    """
    conditions = (crd.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


@dataclass
class _Proc:
    name: str
    argv: list[str]
    log: Path
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(
                self.argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=_die_with_parent,  # noqa: PLW1509 - only prctl, no locks taken
            )

    def stop(self, timeout: float = 5.0) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        self.popen.terminate()
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(timeout)

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


@dataclass
class LocalControlPlane:
    """etcd + kube-apiserver (+ kube-controller-manager) on free loopback ports, in `work_dir`."""

    bin_dir: Path
    work_dir: Path
    controller_manager: bool = True
    extra_apiserver_args: Sequence[str] = ()
    admin_token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    startup_seconds: float = 0.0
    version: str = ""
    _procs: dict[str, _Proc] = field(default_factory=dict)
    cluster: Cluster | None = None

    def start(self) -> Cluster:
        """Start everything and wait for /readyz; returns how to reach it."""
        t0 = time.monotonic()
        self.work_dir.mkdir(parents=True, exist_ok=True)
        pki_dir = self.work_dir / "pki"
        authority = pki.create_authority(pki_dir, "wsconn-controlplane-ca")
        serving = authority.issue(pki_dir, "kube-apiserver")
        etcd_server = authority.issue(pki_dir, "etcd-server", server=True, client=True)
        etcd_client = authority.issue(pki_dir, "etcd-client", server=False, client=True)
        sa_keys = pki.write_rsa_keypair(pki_dir, "service-account")
        tokens = self.work_dir / "tokens.csv"
        tokens.write_text(f'{self.admin_token},wsconn-admin,wsconn-admin,"system:masters"\n')
        tokens.chmod(0o600)

        etcd_port, etcd_peer, api_port = free_port(), free_port(), free_port()
        server = f"https://127.0.0.1:{api_port}"
        self._procs["etcd"] = _Proc(
            "etcd",
            [
                str(self.bin_dir / "etcd"),
                f"--data-dir={self.work_dir / 'etcd'}",
                f"--listen-client-urls=https://127.0.0.1:{etcd_port}",
                f"--advertise-client-urls=https://127.0.0.1:{etcd_port}",
                f"--listen-peer-urls=http://127.0.0.1:{etcd_peer}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{etcd_peer}",
                f"--initial-cluster=default=http://127.0.0.1:{etcd_peer}",
                f"--cert-file={etcd_server.cert}",
                f"--key-file={etcd_server.key}",
                f"--trusted-ca-file={authority.cert}",
                "--client-cert-auth",
                "--unsafe-no-fsync",
                "--quota-backend-bytes=4294967296",
                "--log-level=warn",
            ],
            self.work_dir / "etcd.log",
        )
        self._procs["kube-apiserver"] = _Proc(
            "kube-apiserver",
            [
                str(self.bin_dir / "kube-apiserver"),
                f"--etcd-servers=https://127.0.0.1:{etcd_port}",
                f"--etcd-cafile={authority.cert}",
                f"--etcd-certfile={etcd_client.cert}",
                f"--etcd-keyfile={etcd_client.key}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={api_port}",
                f"--cert-dir={self.work_dir / 'apiserver-certs'}",
                f"--tls-cert-file={serving.cert}",
                f"--tls-private-key-file={serving.key}",
                f"--client-ca-file={authority.cert}",
                f"--token-auth-file={tokens}",
                "--authorization-mode=RBAC",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-account-key-file={sa_keys.cert}",
                f"--service-account-signing-key-file={sa_keys.key}",
                "--service-cluster-ip-range=10.96.0.0/24",
                "--endpoint-reconciler-type=none",
                "--allow-privileged=false",
                *self.extra_apiserver_args,
            ],
            self.work_dir / "kube-apiserver.log",
        )
        kubeconfig = self.work_dir / "kubeconfig"
        write_kubeconfig(kubeconfig, server=server, ca_file=authority.cert, token=self.admin_token)
        if self.controller_manager:
            self._procs["kube-controller-manager"] = _Proc(
                "kube-controller-manager",
                [
                    str(self.bin_dir / "kube-controller-manager"),
                    f"--kubeconfig={kubeconfig}",
                    "--bind-address=127.0.0.1",
                    "--secure-port=0",
                    "--leader-elect=false",
                    f"--service-account-private-key-file={sa_keys.key}",
                    f"--root-ca-file={authority.cert}",
                    "--controllers=" + ",".join(_CONTROLLERS),
                    "--concurrent-namespace-syncs=4",
                    "--concurrent-gc-syncs=4",
                ],
                self.work_dir / "kube-controller-manager.log",
            )
        self.cluster = Cluster(
            kubeconfig=kubeconfig,
            server=server,
            ca_file=authority.cert,
            admin_token=self.admin_token,
            local=True,
        )
        try:
            self._procs["etcd"].start()
            self._procs["kube-apiserver"].start()
            self.wait_ready()
            if "kube-controller-manager" in self._procs:
                self._procs["kube-controller-manager"].start()
                self._wait_controller_manager()
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - t0
        self.version = self._server_version()
        return self.cluster

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        """Poll the API server's /readyz until it answers ok."""
        assert self.cluster is not None
        deadline = time.monotonic() + timeout
        last = ""
        with self._http() as client:
            while time.monotonic() < deadline:
                for name, proc in self._procs.items():
                    if proc.popen is not None and not proc.alive():
                        raise ControlPlaneError(f"{name} exited early:\n{proc.tail()}")
                try:
                    response = client.get("/readyz")
                    if response.status_code == 200:
                        return
                    last = response.text[-500:]
                except httpx.TransportError as exc:
                    last = repr(exc)
                time.sleep(0.2)
        raise ControlPlaneError(
            f"kube-apiserver not ready after {timeout:.0f}s ({last}):\n{self._procs['kube-apiserver'].tail()}"
        )

    def _wait_controller_manager(self, timeout: float = READY_TIMEOUT) -> None:
        """Wait until the controller-manager has made the default ServiceAccount: proof it works."""
        deadline = time.monotonic() + timeout
        proc = self._procs["kube-controller-manager"]
        with self._http() as client:
            while time.monotonic() < deadline:
                if not proc.alive():
                    raise ControlPlaneError(f"kube-controller-manager exited early:\n{proc.tail()}")
                if client.get("/api/v1/namespaces/default/serviceaccounts/default").status_code == 200:
                    return
                time.sleep(0.2)
        raise ControlPlaneError(f"kube-controller-manager made no default ServiceAccount:\n{proc.tail()}")

    def restart_apiserver(self, down_seconds: float = 0.0) -> None:
        """Stop and start kube-apiserver on the same port (watches drop); etcd keeps the data."""
        proc = self._procs["kube-apiserver"]
        proc.stop()
        time.sleep(down_seconds)
        proc.start()
        self.wait_ready()

    def stop(self) -> None:
        """Stop what start() launched, controller-manager and API server before etcd."""
        for name in ("kube-controller-manager", "kube-apiserver", "etcd"):
            if name in self._procs:
                self._procs[name].stop()

    def logs(self) -> dict[str, Path]:
        """Log file of each component."""
        return {name: proc.log for name, proc in self._procs.items()}

    def _http(self) -> httpx.Client:
        assert self.cluster is not None
        assert self.cluster.ca_file is not None
        return httpx.Client(
            base_url=self.cluster.server,
            verify=ssl.create_default_context(cafile=str(self.cluster.ca_file)),
            headers={"Authorization": f"Bearer {self.admin_token}"},
            timeout=5.0,
        )

    def _server_version(self) -> str:
        with self._http() as client:
            return str(client.get("/version").json()["gitVersion"])


def write_kubeconfig(path: Path, *, server: str, ca_file: Path, token: str, user: str = "admin") -> Path:
    """Write a kubeconfig with one cluster, one token user and one current context."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "wsconn", "cluster": {"server": server, "certificate-authority": str(ca_file)}}
        ],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": "wsconn", "context": {"cluster": "wsconn", "user": user}}],
        "current-context": "wsconn",
    }
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


@contextmanager
def running(work_dir: Path, *, controller_manager: bool = True) -> Iterator[Cluster]:
    """The cluster to use: USE_EXISTING_CLUSTER=true -> current kubeconfig, else a local control plane."""
    if os.environ.get("USE_EXISTING_CLUSTER", "").lower() == "true":
        yield existing_cluster()
        return
    plane = LocalControlPlane(find_binaries(), work_dir, controller_manager=controller_manager)
    try:
        yield plane.start()
    finally:
        plane.stop()
        shutil.rmtree(work_dir / "etcd", ignore_errors=True)
