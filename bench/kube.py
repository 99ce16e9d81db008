"""The Kubernetes side of the benchmark: a local control plane with an audit log, the operator's own
ServiceAccount with the product's RBAC, a small admin HTTP client, the audit-log counter and a watch that
timestamps when each WorkspaceConnection becomes Ready.

The operator runs as the ServiceAccount `wsconn-system/wsconn-operator` bound to the ClusterRole from
deploy/install.yaml (what `kubectl apply -f deploy/install.yaml` grants it), not as the admin: the API server's
audit policy then records exactly that user's requests, so "Kubernetes API requests per resource" counts the
operator and nothing else (not the benchmark's own calls, not the controller-manager).
"""

from __future__ import annotations

import json
import ssl
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from wsconn_testbed.controlplane import (
    Cluster,
    LocalControlPlane,
    crd_established,
    find_binaries,
    write_kubeconfig,
)

GROUP, VERSION, PLURAL = "azureml.dev", "v1alpha1", "workspaceconnections"
OPERATOR_NAMESPACE = "wsconn-system"
OPERATOR_SA = "wsconn-operator"
OPERATOR_USER = f"system:serviceaccount:{OPERATOR_NAMESPACE}:{OPERATOR_SA}"
# Azure Service Operator's own ServiceAccount (`bench/run --with-aso`): its requests are recorded too and told
# apart by user.
ASO_NAMESPACE = "aso-system"
ASO_SA = "azureserviceoperator-default"
ASO_USER = f"system:serviceaccount:{ASO_NAMESPACE}:{ASO_SA}"
# Only the operators' requests are recorded, at Metadata level (no bodies: Secrets stay out of the log).
# RequestReceived is omitted so a request appears once (a watch appears at ResponseStarted; its end is
# deduplicated by auditID).
AUDIT_POLICY = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    "omitStages": ["RequestReceived"],
    "rules": [{"level": "Metadata", "users": [OPERATOR_USER, ASO_USER]}, {"level": "None"}],
}
# Kinds taken from the install manifest: its RBAC and the namespace, not the Deployment or Service (the
# operator runs as a local process).
_INSTALL_KINDS = ("Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding")


class Kube:
    """Admin access to the API server over HTTPS with the cluster's CA (the benchmark's own client)."""

    def __init__(self, cluster: Cluster, *, timeout: float = 30.0) -> None:
        assert cluster.ca_file is not None
        assert cluster.admin_token is not None
        self.cluster = cluster
        self._ssl = ssl.create_default_context(cafile=str(cluster.ca_file))
        self._headers = {"Authorization": f"Bearer {cluster.admin_token}", "User-Agent": "wsconn-bench"}
        self.http = self.client(timeout)

    def client(self, timeout: float = 30.0) -> httpx.Client:
        """A new connection pool to the API server (one per thread that creates objects)."""
        return httpx.Client(
            base_url=self.cluster.server, verify=self._ssl, headers=self._headers, timeout=timeout
        )

    def close(self) -> None:
        """Close the main connection pool."""
        self.http.close()

    def request(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        """A JSON request; raises with the API server's message on an error status."""
        headers = dict(kwargs.pop("headers", {}))
        content = None
        if body is not None:
            content = json.dumps(body)
            headers.setdefault("Content-Type", "application/json")
        response = self.http.request(method, path, content=content, headers=headers, **kwargs)
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:500]}")
        return response.json()

    def merge_patch(self, path: str, body: Mapping[str, Any]) -> Any:
        """A JSON merge patch (RFC 7386)."""
        return self.request(
            "PATCH", path, dict(body), headers={"Content-Type": "application/merge-patch+json"}
        )

    def wait_crd_established(self, name: str, timeout: float = 60.0) -> None:
        """Poll until the CRD reports Established (see crd_established)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            crd = self.request("GET", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}")
            if crd_established(crd):
                return
            time.sleep(0.2)
        raise RuntimeError(f"CRD {name} not Established after {timeout}s")


def connection_path(namespace: str, name: str = "") -> str:
    """The REST path of WorkspaceConnections in a namespace (or of one of them)."""
    base = f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{PLURAL}"
    return f"{base}/{name}" if name else base


def secret_path(namespace: str, name: str = "") -> str:
    """The REST path of Secrets in a namespace (or of one of them)."""
    base = f"/api/v1/namespaces/{namespace}/secrets"
    return f"{base}/{name}" if name else base


@dataclass
class BenchCluster:
    """A started control plane, set up for the operator: CRD, RBAC, namespaces, the operator's kubeconfig."""

    plane: LocalControlPlane
    cluster: Cluster
    kube: Kube
    audit: AuditLog
    operator_kubeconfig: Path

    def stop(self) -> None:
        """Stop the control plane (the operator must be stopped first)."""
        self.kube.close()
        self.plane.stop()


def start_cluster(work_dir: Path, repo: Path, namespaces: list[str]) -> BenchCluster:
    """Start etcd + kube-apiserver (with the audit log) + controller-manager and prepare them."""
    work_dir.mkdir(parents=True, exist_ok=True)
    policy = work_dir / "audit-policy.yaml"
    policy.write_text(yaml.safe_dump(AUDIT_POLICY))
    audit_path = work_dir / "audit.log"
    # extra_apiserver_args is LocalControlPlane's existing hook: nothing in the testbed changes for this.
    plane = LocalControlPlane(
        find_binaries(),
        work_dir / "controlplane",
        extra_apiserver_args=(
            f"--audit-policy-file={policy}",
            f"--audit-log-path={audit_path}",
            "--audit-log-format=json",
            "--audit-log-mode=blocking",
            "--audit-log-maxsize=0",
        ),
    )
    cluster = plane.start()
    try:
        kube = Kube(cluster)
        kubectl(cluster, work_dir, "apply", "--server-side", "-f", str(repo / "crds"))
        kube.wait_crd_established(f"{PLURAL}.{GROUP}")
        installed = [
            doc
            for doc in yaml.safe_load_all((repo / "deploy" / "install.yaml").read_text())
            if doc and doc.get("kind") in _INSTALL_KINDS
        ]
        kubectl(cluster, work_dir, "apply", "--server-side", "-f", "-", stdin=yaml.safe_dump_all(installed))
        for namespace in namespaces:
            kube.request("POST", "/api/v1/namespaces", {"metadata": {"name": namespace}})
        token = service_account_token(kube, OPERATOR_NAMESPACE, OPERATOR_SA)
        kubeconfig = write_kubeconfig(
            work_dir / "operator.kubeconfig",
            server=cluster.server,
            ca_file=cluster.ca_file or Path(),
            token=token,
            user=OPERATOR_SA,
        )
    except BaseException:
        plane.stop()
        raise
    return BenchCluster(plane, cluster, kube, AuditLog(audit_path), kubeconfig)


def service_account_token(kube: Kube, namespace: str, name: str) -> str:
    """A bound token for a ServiceAccount (TokenRequest), valid longer than any run."""
    path = f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}"
    deadline = time.monotonic() + 30
    while True:  # the ServiceAccount was just applied; the token subresource needs it to exist
        try:
            answer = kube.request("POST", f"{path}/token", {"spec": {"expirationSeconds": 6 * 3600}})
            return str(answer["status"]["token"])
        except RuntimeError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def kubectl(cluster: Cluster, work_dir: Path, *args: str, stdin: str | None = None) -> str:
    """kubectl built with the control plane, for setup only (server-side apply of manifests)."""
    binary = find_binaries() / "kubectl"
    argv = [
        str(binary if binary.exists() else "kubectl"),
        f"--kubeconfig={cluster.kubeconfig}",
        f"--cache-dir={work_dir / 'kubectl-cache'}",
        *args,
    ]
    done = subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"kubectl {' '.join(args)}: {done.stderr}")
    return done.stdout


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One request of the operator, from its first audit event."""

    offset: int
    verb: str
    resource: str
    code: int
    user: str = OPERATOR_USER


# The stages after which an audit event is a request's last (RequestReceived is omitted by the policy).
_FINAL_STAGES = ("ResponseComplete", "Panic")


@dataclass
class AuditLog:
    """Incremental reader of the API server's audit log: each request counted once, by auditID.

    Read line by line, keeping only what is counted: at N = 10,000 a phase appends over 100,000 events (about
    1.5 KB each) between two marks. A request has one event, at its final stage, unless it streams (a watch:
    ResponseStarted first), so only the ids of streams still open are remembered.
    """

    path: Path
    records: list[AuditRecord] = field(default_factory=list)
    _open: set[str] = field(default_factory=set)
    _offset: int = 0

    def mark(self) -> int:
        """Read what was appended and return the position of the end: a phase boundary."""
        self._read()
        return self._offset

    def between(self, start: int, end: int, user: str = OPERATOR_USER) -> list[AuditRecord]:
        """The requests of `user` first seen between two marks."""
        return [r for r in self.records if start <= r.offset < end and r.user == user]

    def summary(self, start: int, end: int, user: str = OPERATOR_USER) -> dict[str, Any]:
        """Totals of `user`'s requests between two marks: all requests, writes (create/update/patch/delete)
        and by verb+resource."""
        found = self.between(start, end, user)
        by_kind = Counter(f"{r.verb} {r.resource}" for r in found)
        writes = sum(
            1 for r in found if r.verb in ("create", "update", "patch", "delete", "deletecollection")
        )
        return {
            "requests": len(found),
            "writes": writes,
            "by_verb_resource": dict(by_kind.most_common()),
        }

    def _read(self) -> None:
        if not self.path.exists():
            return
        with self.path.open("rb") as f:
            f.seek(self._offset)
            for raw in f:
                if not raw.endswith(b"\n"):
                    break  # a line still being written is read next time
                position = self._offset
                self._offset += len(raw)
                self._add(position, json.loads(raw))

    def _add(self, position: int, event: Mapping[str, Any]) -> None:
        audit_id = str(event.get("auditID", ""))
        if audit_id in self._open:
            if event.get("stage") in _FINAL_STAGES:  # the end of a stream, counted when it started
                self._open.discard(audit_id)
            return
        if event.get("stage") not in _FINAL_STAGES:
            self._open.add(audit_id)
        ref = event.get("objectRef") or {}
        resource = ref.get("resource") or str(event.get("requestURI", "?")).split("?")[0]
        if ref.get("subresource"):
            resource = f"{resource}/{ref['subresource']}"
        code = int((event.get("responseStatus") or {}).get("code") or 0)
        user = str((event.get("user") or {}).get("username", ""))
        self.records.append(AuditRecord(position, str(event.get("verb")), resource, code, user))


def is_ready(obj: Mapping[str, Any]) -> bool:
    """Ready=True for the object's current generation (what `kubectl wait --for=condition=Ready` means,
    plus observedGeneration, as kstatus reads it)."""
    status = obj.get("status") or {}
    generation = (obj.get("metadata") or {}).get("generation")
    if status.get("observedGeneration") != generation:
        return False
    for cond in status.get("conditions") or []:
        if cond.get("type") == "Ready":
            return bool(
                cond.get("status") == "True" and cond.get("observedGeneration", generation) == generation
            )
    return False


class ReadyWatcher:
    """Watches WorkspaceConnections with a label and records the wall-clock time each became Ready.

    A watch, not polling: listing 1,000 objects several times a second would load the API server on the
    same two cores the operator runs on, and a poll's period would blur a few-second measurement.
    """

    def __init__(
        self,
        kube: Kube,
        label_selector: str,
        *,
        collection: str = f"/apis/{GROUP}/{VERSION}/{PLURAL}",
        ready: Callable[[Mapping[str, Any]], bool] = is_ready,
    ) -> None:
        self._kube = kube
        self._selector = label_selector
        self._collection = collection  # all namespaces: `--with-aso` watches ASO's objects the same way
        self._ready = ready
        self.ready_at: dict[str, float] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._changed = threading.Condition(self._lock)
        self._thread = threading.Thread(target=self._run, name="ready-watch", daemon=True)
        self._resource_version = ""

    def start(self) -> None:
        """List once (the starting point) and start watching in a thread."""
        listed = self._kube.request("GET", self._collection, params={"labelSelector": self._selector})
        self._resource_version = listed["metadata"]["resourceVersion"]
        now = time.time()
        for obj in listed["items"]:
            self._observe(obj, now)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread (it notices within its read timeout)."""
        self._stop.set()
        self._thread.join(10)

    def wait_count(self, count: int, timeout: float, stall: float | None = None) -> bool:
        """Wait until `count` objects have been seen Ready; False after `timeout`, or earlier when no more
        became Ready for `stall` seconds (at N = 10,000 the timeout is most of an hour)."""
        deadline = time.monotonic() + timeout
        seen, last_progress = -1, time.monotonic()
        with self._changed:
            while len(self.ready_at) < count:
                now = time.monotonic()
                if len(self.ready_at) > seen:
                    seen, last_progress = len(self.ready_at), now
                left = deadline - now
                if left <= 0 or (stall is not None and now - last_progress > stall):
                    return False
                self._changed.wait(min(left, 1.0))
        return True

    def _observe(self, obj: Mapping[str, Any], now: float) -> None:
        name = f"{obj['metadata']['namespace']}/{obj['metadata']['name']}"
        if name not in self.ready_at and self._ready(obj):
            with self._changed:
                self.ready_at[name] = now
                self._changed.notify_all()

    def _run(self) -> None:
        # A quiet watch ends in a read timeout and is resumed from the last resourceVersion; a short one
        # lets stop() return promptly (httpx cannot interrupt a blocked read from another thread).
        client = self._kube.client(timeout=2.0)
        try:
            while not self._stop.is_set():
                try:
                    for event in self._events(client):
                        self._handle(event)
                except (httpx.TransportError, json.JSONDecodeError):
                    time.sleep(0.1)
        finally:
            client.close()

    def _events(self, client: httpx.Client) -> Iterator[dict[str, Any]]:
        params = {
            "watch": "1",
            "labelSelector": self._selector,
            "resourceVersion": self._resource_version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": "600",
        }
        with client.stream("GET", self._collection, params=params) as response:
            for line in response.iter_lines():
                if self._stop.is_set():
                    return
                if line:
                    yield json.loads(line)

    def _handle(self, event: Mapping[str, Any]) -> None:
        obj = event.get("object") or {}
        if event.get("type") == "ERROR":  # 410 Gone: start again from a fresh list
            listed = self._kube.request("GET", self._collection, params={"labelSelector": self._selector})
            self._resource_version = listed["metadata"]["resourceVersion"]
            for item in listed["items"]:
                self._observe(item, time.time())
            return
        self._resource_version = obj.get("metadata", {}).get("resourceVersion", self._resource_version)
        if event.get("type") in ("ADDED", "MODIFIED"):
            self._observe(obj, time.time())
