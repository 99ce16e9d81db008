"""The Helm chart against a real API server: its renderings pass a server-side dry-run (schema validation,
admission, Pod Security `restricted`), deploy/install.yaml does too, and a real `helm install` grants the
ServiceAccount exactly the permissions docs/install.md lists, as `kubectl auth can-i` evaluates them; and the
installed operator, authenticated as that ServiceAccount, works under them (namespaced mode only: a
cluster-wide operator would also act on other tests' leftover objects in this session's cluster).

The WorkspaceConnection CRD is applied for real first (so renderings hold it too, and a real `helm upgrade`
shows that the chart upgrades it). Objects of kinds that are not ours need their CRDs: Kopf's peering CRDs
(HA value sets; the chart's own crds/) and the Prometheus Operator's ServiceMonitor and PrometheusRule. When
the cluster does not serve them, they are applied for this module only (stand-ins from tests/fixtures/crds/
for the Prometheus Operator's, with their real group, kind and the fields the chart sets). Nothing else is
mocked.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tests.chart.tools import CHART, helm, render
from tests.chart.value_sets import NEEDS_FOREIGN_CRDS, value_sets
from tests.e2e.conftest import repo_root
from tests.e2e.kube import Kubectl, kubeconfig_client, wait_for
from tests.e2e.operator_process import OperatorProcess
from wsconn_testbed.controlplane import Cluster

pytestmark = pytest.mark.e2e

FOREIGN_CRDS = [
    CHART / "crds" / "kopf-peering.yaml",
    *sorted((repo_root() / "tests" / "fixtures" / "crds").glob("*.yaml")),
]
PSA_RESTRICTED = {f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "warn", "audit")}


def dry_run(kubectl: Kubectl, objects: list[dict[str, Any]] | str) -> subprocess.CompletedProcess[str]:
    """Server-side apply with --dry-run=server: everything but persisting (validation and admission)."""
    text = objects if isinstance(objects, str) else yaml.safe_dump_all(objects)
    return kubectl.run(
        "apply", "--server-side", "--force-conflicts", "--dry-run=server", "-f", "-", stdin=text, check=False
    )


def crd_served(kubectl: Kubectl, name: str) -> bool:
    """Whether the cluster has the CRD `name`."""
    return kubectl.run("get", "crd", name, check=False).returncode == 0


@pytest.fixture(scope="module")
def workspaceconnection_crd(kubectl: Kubectl) -> None:
    """Our CRD, applied for real (server-side, as a user would) and Established."""
    kubectl.run("apply", "--server-side", "-f", str(repo_root() / "crds"))
    kubectl.wait_established("workspaceconnections.azureml.dev")


@pytest.fixture(scope="module")
def foreign_crds(kubectl: Kubectl) -> Iterator[None]:
    """Kopf's peering CRDs and a ServiceMonitor CRD, for this module, unless the cluster already serves them
    (then they are left alone: on an existing cluster they may be the real ones)."""
    created: list[str] = []
    for path in FOREIGN_CRDS:
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc:
                continue
            name = doc["metadata"]["name"]
            if crd_served(kubectl, name):
                continue
            kubectl.run("apply", "--server-side", "-f", "-", stdin=yaml.safe_dump(doc))
            created.append(name)
    kubectl.wait_established(*created)
    yield
    for name in created:
        kubectl.run("delete", "crd", name, "--wait=false", check=False)


@pytest.fixture
def namespaces(kubectl: Kubectl) -> Iterator[tuple[str, str, str]]:
    """Three fresh namespaces enforcing and warning on Pod Security `restricted`: the release namespace and
    two to watch."""
    suffix = uuid.uuid4().hex[:6]
    names = (f"chart-rel-{suffix}", f"chart-a-{suffix}", f"chart-b-{suffix}")
    kubectl.apply(
        [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n, "labels": PSA_RESTRICTED}}
            for n in names
        ]
    )
    yield names
    kubectl.run("delete", "namespace", *names, "--wait=false", check=False)


@pytest.mark.parametrize("name", sorted(value_sets()))
def test_rendering_passes_server_side_dry_run(
    name: str,
    kubectl: Kubectl,
    workspaceconnection_crd: None,
    namespaces: tuple[str, str, str],
    request: pytest.FixtureRequest,
) -> None:
    if name in NEEDS_FOREIGN_CRDS:
        request.getfixturevalue("foreign_crds")
    release_ns, *watched = namespaces
    objects = render(value_sets((watched[0], watched[1]))[name], namespace=release_ns)
    proc = dry_run(kubectl, objects)
    assert proc.returncode == 0, proc.stderr
    assert "PodSecurity" not in proc.stderr, proc.stderr
    applied = [
        line for line in proc.stdout.splitlines() if line.endswith("serverside-applied (server dry run)")
    ]
    assert len(applied) == len(objects), proc.stdout


def test_pod_security_warnings_are_seen(
    kubectl: Kubectl, workspaceconnection_crd: None, namespaces: tuple[str, str, str]
) -> None:
    """Control for the test above: a rendering that breaks `restricted` does get the warning."""
    weakened: dict[str, Any] = {"securityContext": {"capabilities": {"drop": []}}}
    proc = dry_run(kubectl, render(weakened, namespace=namespaces[0]))
    assert proc.returncode == 0, proc.stderr
    assert 'would violate PodSecurity "restricted' in proc.stderr


def test_install_manifest_passes_server_side_dry_run(kubectl: Kubectl, workspaceconnection_crd: None) -> None:
    text = (repo_root() / "deploy" / "install.yaml").read_text()
    namespace = next(d for d in yaml.safe_load_all(text) if d)
    name = namespace["metadata"]["name"]
    # A dry-run persists nothing, so the namespaced objects need their namespace to exist for real.
    created = kubectl.run("get", "namespace", name, check=False).returncode != 0
    if created:
        kubectl.apply(namespace)
    try:
        proc = dry_run(kubectl, text)
        assert proc.returncode == 0, proc.stderr
        assert "PodSecurity" not in proc.stderr, proc.stderr
        assert "deployment.apps/wsconn-operator serverside-applied (server dry run)" in proc.stdout
    finally:
        if created:
            kubectl.run("delete", "namespace", name, "--wait=false", check=False)


# ------------------------------------------------------------------------ real install, real RBAC


def helm_env(cluster: Cluster, home: Path) -> dict[str, str]:
    """helm's environment: the cluster under test, and caches of this run only."""
    return {
        **os.environ,
        "KUBECONFIG": str(cluster.kubeconfig),
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_DATA_HOME": str(home / "data"),
    }


def run_helm(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """helm against the cluster; fails the test on error."""
    proc = subprocess.run([helm(), *args], capture_output=True, text=True, env=env, timeout=120, check=False)
    assert proc.returncode == 0, f"helm {' '.join(args)}:\n{proc.stderr}"
    return proc


def can_i(kubectl: Kubectl, who: str, verb: str, resource: str, *where: str) -> bool:
    """`kubectl auth can-i` as `who`."""
    proc = kubectl.run("auth", "can-i", verb, resource, f"--as={who}", *where, check=False)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode == 0


# Everything the chart grants, in a namespace it covers (docs/install.md, "Security model").
GRANTED = [
    *[(v, "secrets") for v in ("get", "list", "watch")],
    *[(v, "workspaceconnections.azureml.dev") for v in ("get", "list", "watch", "patch", "update")],
    *[(v, "workspaceconnections.azureml.dev/status") for v in ("get", "patch", "update")],
    *[(v, r) for v in ("create", "patch") for r in ("events", "events.events.k8s.io")],
]
# What it must not be able to do there.
DENIED = [
    *[(v, "secrets") for v in ("create", "update", "patch", "delete", "deletecollection")],
    *[(v, "workspaceconnections.azureml.dev") for v in ("create", "delete")],
    ("get", "configmaps"),
    ("get", "pods"),
    ("create", "pods"),
    ("delete", "events"),
    ("list", "kopfpeerings.kopf.dev"),
]


def check_namespace_grants(kubectl: Kubectl, who: str, namespace: str) -> None:
    """GRANTED is allowed and DENIED refused for `who` in `namespace`."""
    for verb, resource in GRANTED:
        subresource = resource.split("/")[1:] or []
        target = resource.split("/")[0]
        extra = [f"--subresource={subresource[0]}"] if subresource else []
        assert can_i(kubectl, who, verb, target, "-n", namespace, *extra), f"cannot {verb} {resource}"
    for verb, resource in DENIED:
        assert not can_i(kubectl, who, verb, resource, "-n", namespace), f"may {verb} {resource}"


def test_helm_install_namespaced_mode_grants_only_listed_namespaces(
    kubectl: Kubectl,
    cluster: Cluster,
    workspaceconnection_crd: None,
    namespaces: tuple[str, str, str],
    tmp_path: Path,
) -> None:
    release_ns, watched_a, watched_b = namespaces
    fullname = f"wsconn-{uuid.uuid4().hex[:8]}"
    env = helm_env(cluster, tmp_path)
    values = tmp_path / "values.yaml"
    values.write_text(
        yaml.safe_dump({"watchNamespaces": [watched_a, watched_b], "fullnameOverride": fullname})
    )
    installed = run_helm(
        env,
        "install",
        fullname,
        str(CHART),
        "--namespace",
        release_ns,
        "--skip-crds",
        "--set",
        "crds.install=false",
        "--values",
        str(values),
    )
    try:
        assert f"Watching: {watched_a}, {watched_b} (a Role and RoleBinding in each)" in installed.stdout
        who = f"system:serviceaccount:{release_ns}:{fullname}"
        for namespace in (watched_a, watched_b):
            check_namespace_grants(kubectl, who, namespace)
        # Nowhere else: not in its own namespace, not cluster-wide.
        assert not can_i(kubectl, who, "get", "secrets", "-n", release_ns)
        assert not can_i(kubectl, who, "list", "workspaceconnections.azureml.dev", "-n", release_ns)
        assert not can_i(kubectl, who, "list", "secrets", "--all-namespaces")
        assert not can_i(kubectl, who, "list", "namespaces")
        deployment = kubectl.get_json("deployment", fullname, "-n", release_ns)
        env_vars = {
            e["name"]: e.get("value") for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]
        }
        assert env_vars["WSCONN_NAMESPACES"] == f"{watched_a},{watched_b}"
    finally:
        run_helm(env, "uninstall", fullname, "--namespace", release_ns)
    assert kubectl.run("get", "role", fullname, "-n", watched_a, check=False).returncode != 0


def test_helm_install_cluster_mode_grants(
    kubectl: Kubectl,
    cluster: Cluster,
    workspaceconnection_crd: None,
    namespaces: tuple[str, str, str],
    tmp_path: Path,
) -> None:
    release_ns, other, _ = namespaces
    fullname = f"wsconn-{uuid.uuid4().hex[:8]}"
    env = helm_env(cluster, tmp_path)
    run_helm(
        env,
        "install",
        fullname,
        str(CHART),
        "--namespace",
        release_ns,
        "--skip-crds",
        "--set",
        "crds.install=false",
        "--set",
        f"fullnameOverride={fullname}",
    )
    try:
        who = f"system:serviceaccount:{release_ns}:{fullname}"
        for namespace in (release_ns, other):
            check_namespace_grants(kubectl, who, namespace)
        assert can_i(kubectl, who, "list", "secrets", "--all-namespaces")
        assert not can_i(kubectl, who, "create", "secrets", "--all-namespaces")
        assert not can_i(kubectl, who, "list", "customresourcedefinitions.apiextensions.k8s.io")
        assert not can_i(kubectl, who, "list", "namespaces")
        assert not can_i(kubectl, who, "list", "clusterkopfpeerings.kopf.dev")
        rules = kubectl.get_json("clusterrole", fullname)["rules"]
        assert all("*" not in r["verbs"] and "*" not in r["resources"] for r in rules)
    finally:
        run_helm(env, "uninstall", fullname, "--namespace", release_ns)
    assert kubectl.run("get", "clusterrole", fullname, check=False).returncode != 0


def test_helm_upgrade_upgrades_the_crd_and_uninstall_keeps_it(
    kubectl: Kubectl,
    cluster: Cluster,
    workspaceconnection_crd: None,
    namespaces: tuple[str, str, str],
    tmp_path: Path,
) -> None:
    """A release installed from an older chart, whose CRD lacks a printer column, is upgraded to this chart:
    the CRD is upgraded with it. The CRD already in the cluster (applied by kubectl, as by the 0.1.0 chart's
    crds/) is adopted with --take-ownership, the step docs/upgrade.md gives. Uninstalling keeps the CRD."""
    release_ns, watched, _ = namespaces
    crd_name = "workspaceconnections.azureml.dev"
    old_chart = tmp_path / "old-chart"
    shutil.copytree(CHART, old_chart)
    crd_file = old_chart / "files" / "crds" / "azureml.dev_workspaceconnections.yaml"
    old_crd = yaml.safe_load(crd_file.read_text())
    columns = old_crd["spec"]["versions"][0]["additionalPrinterColumns"]
    dropped = columns.pop()["name"]
    crd_file.write_text(yaml.safe_dump(old_crd))
    env = helm_env(cluster, tmp_path)
    release = f"wsconn-{uuid.uuid4().hex[:8]}"
    settings = ["--set", f"fullnameOverride={release}", "--set", f"watchNamespaces={{{watched}}}"]

    def printer_columns() -> list[str]:
        crd = kubectl.get_json("crd", crd_name)
        return [c["name"] for c in crd["spec"]["versions"][0]["additionalPrinterColumns"]]

    run_helm(env, "install", release, str(old_chart), "-n", release_ns, "--take-ownership", *settings)
    try:
        assert dropped not in printer_columns()
        run_helm(env, "upgrade", release, str(CHART), "-n", release_ns, "--reuse-values")
        assert printer_columns()[-1] == dropped
        annotations = kubectl.get_json("crd", crd_name)["metadata"]["annotations"]
        assert annotations["meta.helm.sh/release-name"] == release
    finally:
        run_helm(env, "uninstall", release, "-n", release_ns)
    assert kubectl.run("get", "crd", crd_name, check=False).returncode == 0, "helm.sh/resource-policy: keep"


# ------------------------------------------------------------- the operator under the chart's RBAC


def service_account_kubeconfig(kubectl: Kubectl, namespace: str, name: str, path: Path) -> Path:
    """A kubeconfig for the cluster under test that authenticates as the ServiceAccount, with a token
    from the TokenRequest API (what the kubelet would mount into the pod)."""
    token = kubectl.run("create", "token", name, "-n", namespace, "--duration=1h").stdout.strip()
    config = yaml.safe_load(kubectl.run("config", "view", "--raw", "--minify", "-o", "yaml").stdout)
    config["users"] = [{"name": "operator", "user": {"token": token}}]
    for context in config["contexts"]:
        context["context"]["user"] = "operator"
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


def assert_refused_with_the_token(kubeconfig: Path, secret: str, watched: str, unwatched: str) -> None:
    """With the operator's own token, what it must not do is refused by the API server (403): reading
    Secrets outside the watched namespaces, and writing any Secret, even one it reads."""
    core = client.CoreV1Api(kubeconfig_client(kubeconfig))
    assert core.read_namespaced_secret(secret, watched).data, "reads what it needs"
    attempts: dict[str, Callable[[], Any]] = {
        "read a Secret in an unwatched namespace": lambda: core.read_namespaced_secret(secret, unwatched),
        "list Secrets cluster-wide": core.list_secret_for_all_namespaces,
        "create a Secret": lambda: core.create_namespaced_secret(
            watched, client.V1Secret(metadata=client.V1ObjectMeta(name="planted"), string_data={"k": "v"})
        ),
        "patch a Secret it reads": lambda: core.patch_namespaced_secret(
            secret, watched, {"metadata": {"annotations": {"touched": "yes"}}}
        ),
        "delete a Secret": lambda: core.delete_namespaced_secret(secret, watched),
    }
    for what, attempt in attempts.items():
        with pytest.raises(ApiException) as refused:
            attempt()
        assert refused.value.status == 403, f"{what}: {refused.value.status}"


def test_operator_runs_under_the_chart_rbac_with_peering(
    kubectl: Kubectl,
    cluster: Cluster,
    workspaceconnection_crd: None,
    foreign_crds: None,
    namespaces: tuple[str, str, str],
    tmp_path: Path,
) -> None:
    """The installed operator, authenticated as the chart's ServiceAccount (namespaced mode, HA peering),
    with the environment the chart's Deployment sets: it joins the peering, reads the Secret and writes
    status in a watched namespace, is refused nothing, and does not touch an unwatched namespace.

    Azure is out of reach on purpose (every Azure endpoint points at a closed loopback port): the pass ends
    in an Azure failure condition, which is written through the same RBAC as success would be."""
    release_ns, watched_a, watched_b = namespaces
    fullname = f"wsconn-{uuid.uuid4().hex[:8]}"
    env = helm_env(cluster, tmp_path)
    values = tmp_path / "values.yaml"
    values.write_text(
        yaml.safe_dump(
            {"watchNamespaces": [watched_a, watched_b], "replicaCount": 2, "fullnameOverride": fullname}
        )
    )
    manifest = (repo_root() / "examples" / "apikey.yaml").read_text()
    conn = next(d for d in yaml.safe_load_all(manifest) if d and d["kind"] == "WorkspaceConnection")
    conn_name = conn["metadata"]["name"]
    run_helm(
        env,
        "install",
        fullname,
        str(CHART),
        "-n",
        release_ns,
        "--skip-crds",
        "--set",
        "crds.install=false",
        "--values",
        str(values),
    )
    operator = None
    try:
        deployment = kubectl.get_json("deployment", fullname, "-n", release_ns)
        chart_env = {
            e["name"]: e["value"]
            for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]
            if "value" in e
        }
        closed = "https://127.0.0.1:9"
        sa_kubeconfig = service_account_kubeconfig(kubectl, release_ns, fullname, tmp_path / "sa.kubeconfig")
        operator_env = {
            **chart_env,
            "KUBECONFIG": str(sa_kubeconfig),
            "AZURE_RESOURCE_MANAGER_ENDPOINT": closed,
            "AZURE_AUTHORITY_HOST": closed,
            "AZURE_TENANT_ID": "00000000-0000-0000-0000-000000000000",
            "AZURE_CLIENT_ID": "00000000-0000-0000-0000-000000000001",
            "AZURE_CLIENT_SECRET": "not-a-secret",
        }
        for namespace in (watched_a, release_ns):
            kubectl.run("apply", "-n", namespace, "-f", "-", stdin=manifest)
        operator = OperatorProcess(env=operator_env, log_path=tmp_path / "operator.log").start()

        def reported() -> dict[str, Any] | None:
            obj: dict[str, Any] = kubectl.get_json("workspaceconnection", conn_name, "-n", watched_a)
            status = obj.get("status") or {}
            return obj if status.get("observedGeneration") == obj["metadata"]["generation"] else None

        obj = wait_for(reported, timeout=60, what="status written by the operator")
        ready = next(c for c in obj["status"]["conditions"] if c["type"] == "Ready")
        assert ready["status"] == "False"
        assert ready["reason"].startswith("Azure"), ready
        peering = kubectl.get_json("kopfpeering", fullname, "-n", watched_a)
        assert peering.get("status"), "the operator did not register in its KopfPeering"
        unwatched = kubectl.get_json("workspaceconnection", conn_name, "-n", release_ns)
        assert unwatched.get("status") == {"observedGeneration": 0}, "only the CRD default: never reconciled"
        assert unwatched["metadata"].get("finalizers") is None
        # Kopf and the kubernetes client both name a 403 "Forbidden" (a bare "403" could be a timestamp).
        assert "Forbidden" not in operator.logs()
        secret = next(d for d in yaml.safe_load_all(manifest) if d and d["kind"] == "Secret")
        assert_refused_with_the_token(sa_kubeconfig, secret["metadata"]["name"], watched_a, release_ns)
    finally:
        if operator is not None:
            operator.stop()
        for namespace in (watched_a, release_ns):
            kubectl.run(
                "patch",
                "workspaceconnection",
                conn_name,
                "-n",
                namespace,
                "--type=merge",
                "-p",
                '{"metadata":{"finalizers":null}}',
                check=False,
            )
        run_helm(env, "uninstall", fullname, "-n", release_ns)
