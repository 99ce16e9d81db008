"""The Helm chart, rendered by the real helm binary over several value sets and read back as objects.

What the chart promises and these tests hold it to (docs/install.md, "Security model"): a non-root pod with a
read-only root filesystem; probes and ports the operator serves; RBAC that is exactly the listed rules, with
no Secret writes and no wildcard, cluster-wide or per watched namespace; peering and a PDB only with more
than one replica; a schema that refuses typos and literal secrets. The server-side dry-run of the same
renderings against a real API server is tests/e2e/test_chart_dryrun.py.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterator, Mapping
from typing import Any

import click
import pytest
import yaml

from tests.chart.tools import (
    CHART,
    RELEASE_NAMESPACE,
    ROOT,
    Manifest,
    by_kind,
    one,
    render,
    render_text,
    run_helm,
    values_file,
)
from tests.chart.value_sets import DIGEST, WORKLOAD_IDENTITY_CLIENT_ID, value_sets
from wsconn.settings import OPTIONS, default_of

SETS = value_sets()
NAMESPACED_KINDS = {
    "ServiceAccount",
    "Role",
    "RoleBinding",
    "Deployment",
    "Service",
    "ServiceMonitor",
    "PodDisruptionBudget",
    "ConfigMap",
    "KopfPeering",
    "NetworkPolicy",
    "PrometheusRule",
}
CLUSTER_KINDS = {"ClusterRole", "ClusterRoleBinding", "ClusterKopfPeering", "CustomResourceDefinition"}

Rule = tuple[str, str, str]


def _rules(*groups_resources_verbs: tuple[str, str, str]) -> set[Rule]:
    """Expand ("group", "resource", "verb verb ...") into one (group, resource, verb) per verb."""
    return {(g, r, v) for g, r, verbs in groups_resources_verbs for v in verbs.split()}


BASE_RULES = _rules(
    ("azureml.dev", "workspaceconnections", "get list watch patch update"),
    ("azureml.dev", "workspaceconnections/status", "get patch update"),
    ("", "secrets", "get list watch"),
    ("", "events", "create patch"),
    ("events.k8s.io", "events", "create patch"),
)
CLUSTER_PEERING_RULES = _rules(("kopf.dev", "clusterkopfpeerings", "get list watch patch"))
NAMESPACED_PEERING_RULES = _rules(("kopf.dev", "kopfpeerings", "get list watch patch"))
WRITE_VERBS = {"create", "update", "patch", "delete", "deletecollection", "*"}

# Environment variables that the operator reads but that are azure-identity's rather than settings.
AZURE_IDENTITY_ENV = {"AZURE_AUTHORITY_HOST", "AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET"}
OPTION_BY_ENV = {o.env: o for o in OPTIONS}


def deployment(objects: list[Manifest]) -> Manifest:
    """The operator's Deployment."""
    return one(objects, "Deployment")


def container(objects: list[Manifest]) -> dict[str, Any]:
    """The operator container."""
    containers = deployment(objects)["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["operator"]
    found: dict[str, Any] = containers[0]
    return found


def env(objects: list[Manifest]) -> dict[str, dict[str, Any]]:
    """The operator container's env entries by name (each name once)."""
    entries = container(objects)["env"]
    names = [e["name"] for e in entries]
    assert len(names) == len(set(names)), f"duplicate env names: {names}"
    return {e["name"]: e for e in entries}


def env_values(objects: list[Manifest]) -> dict[str, str]:
    """The literal env values by name."""
    return {name: e["value"] for name, e in env(objects).items() if "value" in e}


def granted(role: Manifest) -> set[Rule]:
    """A Role's or ClusterRole's rules expanded to (group, resource, verb)."""
    out: set[Rule] = set()
    for rule in role["rules"]:
        assert set(rule) == {"apiGroups", "resources", "verbs"}, f"unexpected rule fields: {rule}"
        out |= {(g, r, v) for g in rule["apiGroups"] for r in rule["resources"] for v in rule["verbs"]}
    return out


def rendered_sets() -> Iterator[tuple[str, list[Manifest]]]:
    """Every value set, rendered."""
    for name, values in SETS.items():
        yield name, render(values)


# ---------------------------------------------------------------------------------------------- lint


@pytest.mark.parametrize("strict", [False, True], ids=["lint", "lint-strict"])
def test_helm_lint(strict: bool) -> None:
    proc = run_helm("lint", str(CHART), *(["--strict"] if strict else []))
    assert "0 chart(s) failed" in proc.stdout
    assert not re.search(r"^\[(WARNING|ERROR)\]", proc.stdout, re.MULTILINE), proc.stdout


@pytest.mark.parametrize("name", sorted(SETS))
def test_helm_lint_strict_with_value_set(name: str, tmp_path: Any) -> None:
    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump(SETS[name]))
    proc = run_helm("lint", str(CHART), "--strict", "--values", str(values))
    assert "0 chart(s) failed" in proc.stdout


def test_chart_metadata_matches_the_project() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert chart["apiVersion"] == "v2"
    assert chart["name"] == "wsconn-operator"
    assert chart["version"] == "0.2.0"
    assert chart["appVersion"] == project["version"] == "0.1.0"
    assert "kubeVersion" not in chart, "helm template without a cluster would refuse the chart"


def test_template_works_with_helms_own_defaults() -> None:
    """`helm template` with no values and no --kube-version (Helm then assumes an old Kubernetes)."""
    proc = run_helm("template", "wsconn", str(CHART))
    kinds = [d["kind"] for d in yaml.safe_load_all(proc.stdout) if d]
    assert "Deployment" in kinds
    assert "CustomResourceDefinition" in kinds


def test_kubernetes_floor_is_checked_against_a_live_cluster_only() -> None:
    """The 1.30 floor sits behind `lookup`, which only a live cluster answers (tests/e2e/test_chart_dryrun.py
    installs for real); offline it renders nothing."""
    check = (CHART / "templates" / "checks.yaml").read_text()
    assert 'lookup "v1" "Namespace" "" "default"' in check
    assert 'semverCompare "<1.30.0-0" .Capabilities.KubeVersion.Version' in check
    assert run_helm("template", "wsconn", str(CHART), "--kube-version", "1.29.0").returncode == 0


# ---------------------------------------------------------------------------------- every value set


@pytest.mark.parametrize("name", sorted(SETS))
def test_objects_are_well_formed_and_namespaced_in_the_release(name: str) -> None:
    objects = render(SETS[name])
    watched = set(SETS[name].get("watchNamespaces", []))
    for obj in objects:
        kind = obj["kind"]
        assert kind in NAMESPACED_KINDS | CLUSTER_KINDS, f"unexpected kind {kind}"
        meta = obj["metadata"]
        assert meta["name"]
        assert meta["labels"]["app.kubernetes.io/instance"] == "wsconn"
        if kind in CLUSTER_KINDS:
            assert "namespace" not in meta, f"{kind} {meta['name']} is cluster-scoped"
        elif kind in {"Role", "RoleBinding", "KopfPeering"}:
            assert meta["namespace"] in watched
        else:
            # Namespaced objects name their namespace, so `kubectl apply -f` of the rendering lands right.
            assert meta["namespace"] == RELEASE_NAMESPACE


@pytest.mark.parametrize("name", sorted(SETS))
def test_pod_and_container_security(name: str) -> None:
    objects = render(SETS[name])
    pod = deployment(objects)["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert "hostNetwork" not in pod
    assert "hostPID" not in pod
    assert "hostIPC" not in pod
    sc = container(objects)["securityContext"]
    assert sc["runAsNonRoot"] is True
    assert isinstance(sc["runAsUser"], int)
    assert sc["runAsUser"] == 10001
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert sc.get("privileged", False) is False
    # Writable scratch space only where the read-only root filesystem needs it.
    mounts = {m["mountPath"]: m["name"] for m in container(objects)["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]


@pytest.mark.parametrize("name", sorted(SETS))
def test_probes_ports_command_and_shutdown(name: str) -> None:
    objects = render(SETS[name])
    c = container(objects)
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert ports == {"metrics": 8080, "health": 8081}
    live, ready = c["livenessProbe"]["httpGet"], c["readinessProbe"]["httpGet"]
    assert (live["path"], ports[live["port"]]) == ("/healthz", 8081)
    # Kopf serves one health path; readiness only gates rollouts, so both probes ask it.
    assert (ready["path"], ports[ready["port"]]) == ("/healthz", 8081)
    # The operator listens where the probes and the Service look.
    values = env_values(objects)
    assert values["WSCONN_HEALTH_PORT"] == "8081"
    assert values["WSCONN_METRICS_PORT"] == "8080"
    assert c["command"] == ["wsconn", "run"]
    expected_image = "wsconn-operator:0.1.0"
    if SETS[name].get("image", {}).get("digest"):
        expected_image = f"{SETS[name]['image']['repository']}:0.1.0@{DIGEST}"
    assert c["image"] == expected_image
    assert c["imagePullPolicy"] == "IfNotPresent"
    assert c["resources"]["requests"]
    assert c["resources"]["limits"]["memory"]
    pod = deployment(objects)["spec"]["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] > default_of("shutdown_timeout")


@pytest.mark.parametrize("name", sorted(SETS))
def test_env_is_what_the_operator_reads_and_parses(name: str) -> None:
    """Every variable is one the operator reads, and its value passes the CLI's own type conversion."""
    for var, entry in env(render(SETS[name])).items():
        if var in AZURE_IDENTITY_ENV:
            continue
        assert var in OPTION_BY_ENV, f"{var} is not an operator setting"
        option = OPTION_BY_ENV[var]
        value = entry["value"]
        if option.choices:
            assert value in option.choices
        elif option.kind is bool:
            click.BOOL.convert(value, None, None)
        elif option.name != "namespaces":
            option.kind(value)


def test_default_env_exactly() -> None:
    assert env_values(render()) == {
        "WSCONN_DEFAULT_API_VERSION": "2026-05-01",
        "WSCONN_WORKERS": "50",
        "WSCONN_ARM_CONCURRENCY": "16",
        "WSCONN_ARM_TIMEOUT": "30",
        "WSCONN_DRIFT_INTERVAL": "600",
        "WSCONN_CHECKED_TIME_INTERVAL": "3600",
        "WSCONN_DEEP_DRIFT_CHECK": "false",
        "WSCONN_MISSING_SECRET_GRACE": "300",
        "WSCONN_LOG_FORMAT": "json",
        "WSCONN_LOG_LEVEL": "info",
        "WSCONN_OPERATOR_IDENTITY_NAMESPACES": "*",
        "WSCONN_HEALTH_PORT": "8081",
        "WSCONN_METRICS_PORT": "8080",
        "AZURE_RESOURCE_MANAGER_ENDPOINT": "https://management.azure.com",
    }
    assert set(env(render())) == set(env_values(render())), "no secretKeyRef without a clientSecretRef"


def test_chart_defaults_agree_with_the_operator() -> None:
    """values.operator mirrors the operator's defaults, except the log format: JSON in a cluster."""
    operator = values_file()["operator"]
    for key, value in operator.items():
        setting = re.sub(r"(?<!^)([A-Z])", r"_\1", key).lower()
        expected = "json" if setting == "log_format" else default_of(setting)
        assert value == expected, f"operator.{key}: chart {value!r}, operator {expected!r}"
    assert values_file()["azure"]["armEndpoint"] == default_of("arm_endpoint")


def test_settings_values_reach_the_env() -> None:
    objects = render(
        {
            "operator": {
                "defaultApiVersion": "2024-04-01",
                "workers": 7,
                "armConcurrency": 3,
                "armTimeout": 12.5,
                "driftInterval": 0,
                "checkedTimeInterval": 120,
                "deepDriftCheck": True,
                "missingSecretGrace": 30,
                "logFormat": "text",
                "logLevel": "debug",
            },
            "extraEnv": [{"name": "WSCONN_ARM_WRITE_RATE", "value": "4.5"}],
        }
    )
    values = env_values(objects)
    assert values["WSCONN_DEFAULT_API_VERSION"] == "2024-04-01"
    assert values["WSCONN_WORKERS"] == "7"
    assert values["WSCONN_ARM_CONCURRENCY"] == "3"
    assert values["WSCONN_ARM_TIMEOUT"] == "12.5"
    assert values["WSCONN_DRIFT_INTERVAL"] == "0"
    assert values["WSCONN_CHECKED_TIME_INTERVAL"] == "120"
    assert values["WSCONN_DEEP_DRIFT_CHECK"] == "true"
    assert values["WSCONN_MISSING_SECRET_GRACE"] == "30"
    assert values["WSCONN_LOG_FORMAT"] == "text"
    assert values["WSCONN_LOG_LEVEL"] == "debug"
    assert values["WSCONN_ARM_WRITE_RATE"] == "4.5"


def test_identity_and_selector_values_reach_the_env() -> None:
    """The operator identity's allowlist is always set (empty means none, so it must not be dropped as
    empty); the Secret selector only when given. The hardened values set both."""
    defaults = env_values(render())
    assert defaults["WSCONN_OPERATOR_IDENTITY_NAMESPACES"] == "*"
    assert "WSCONN_SECRET_SELECTOR" not in defaults
    hardened = env_values(render(SETS["hardened"]))
    assert hardened["WSCONN_OPERATOR_IDENTITY_NAMESPACES"] == ""
    assert hardened["WSCONN_SECRET_SELECTOR"] == "wsconn.azureml.dev/usable=true"


# ------------------------------------------------------------------------------------------- RBAC


def test_rbac_cluster_mode_exactly() -> None:
    objects = render()
    assert not by_kind(objects, "Role")
    assert not by_kind(objects, "RoleBinding")
    role = one(objects, "ClusterRole")
    assert granted(role) == BASE_RULES
    binding = one(objects, "ClusterRoleBinding")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": role["metadata"]["name"],
    }
    sa = one(objects, "ServiceAccount")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": sa["metadata"]["name"], "namespace": RELEASE_NAMESPACE}
    ]
    assert deployment(objects)["spec"]["template"]["spec"]["serviceAccountName"] == sa["metadata"]["name"]
    assert "WSCONN_NAMESPACES" not in env(objects)


def test_rbac_namespaced_mode_only_in_listed_namespaces() -> None:
    objects = render(SETS["namespaced"])
    assert not by_kind(objects, "ClusterRole")
    assert not by_kind(objects, "ClusterRoleBinding")
    roles = {r["metadata"]["namespace"]: r for r in by_kind(objects, "Role")}
    bindings = {b["metadata"]["namespace"]: b for b in by_kind(objects, "RoleBinding")}
    assert set(roles) == set(bindings) == {"team-a", "team-b"}
    sa = one(objects, "ServiceAccount")["metadata"]["name"]
    for ns, role in roles.items():
        assert granted(role) == BASE_RULES
        assert bindings[ns]["roleRef"]["kind"] == "Role"
        assert bindings[ns]["roleRef"]["name"] == role["metadata"]["name"]
        assert bindings[ns]["subjects"] == [
            {"kind": "ServiceAccount", "name": sa, "namespace": RELEASE_NAMESPACE}
        ]
    assert env_values(objects)["WSCONN_NAMESPACES"] == "team-a,team-b"


@pytest.mark.parametrize("name", sorted(SETS))
def test_no_secret_writes_and_no_wildcards_anywhere(name: str) -> None:
    for role in by_kind(render(SETS[name]), "Role") + by_kind(render(SETS[name]), "ClusterRole"):
        for group, resource, verb in granted(role):
            assert "*" not in (group, resource, verb), f"wildcard in {role['metadata']['name']}"
            if resource.startswith("secrets"):
                assert verb in {"get", "list", "watch"}, f"Secret write verb {verb!r}"
            # Nothing but Events is ever created, and nothing is deleted.
            assert verb not in {"delete", "deletecollection"}
            if verb == "create":
                assert resource == "events"


def test_ha_cluster_mode_peering() -> None:
    objects = render(SETS["ha"])
    assert deployment(objects)["spec"]["replicas"] == 3
    assert granted(one(objects, "ClusterRole")) == BASE_RULES | CLUSTER_PEERING_RULES
    peering = one(objects, "ClusterKopfPeering")
    assert peering["apiVersion"] == "kopf.dev/v1"
    assert env_values(objects)["WSCONN_PEERING"] == peering["metadata"]["name"] == "wsconn-operator"
    assert not by_kind(objects, "KopfPeering")
    pdb = one(objects, "PodDisruptionBudget")
    assert pdb["spec"]["minAvailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"] == deployment(objects)["spec"]["selector"]["matchLabels"]
    assert deployment(objects)["spec"]["strategy"]["type"] == "RollingUpdate"


def test_ha_namespaced_mode_peering_per_namespace() -> None:
    objects = render(SETS["ha-namespaced"])
    for role in by_kind(objects, "Role"):
        assert granted(role) == BASE_RULES | NAMESPACED_PEERING_RULES
    peerings = by_kind(objects, "KopfPeering")
    assert {p["metadata"]["namespace"] for p in peerings} == {"team-a", "team-b"}
    assert {p["metadata"]["name"] for p in peerings} == {env_values(objects)["WSCONN_PEERING"]}
    assert not by_kind(objects, "ClusterKopfPeering")
    assert one(objects, "PodDisruptionBudget")["spec"]["minAvailable"] == 1


@pytest.mark.parametrize("name", ["defaults", "namespaced", "service-monitor", "workload-identity"])
def test_single_replica_has_no_peering_and_no_pdb(name: str) -> None:
    objects = render(SETS[name])
    assert deployment(objects)["spec"]["replicas"] == 1
    assert deployment(objects)["spec"]["strategy"] == {"type": "Recreate"}
    assert "WSCONN_PEERING" not in env(objects)
    assert not by_kind(objects, "PodDisruptionBudget")
    assert not by_kind(objects, "KopfPeering")
    assert not by_kind(objects, "ClusterKopfPeering")
    for role in by_kind(objects, "Role") + by_kind(objects, "ClusterRole"):
        assert not {g for g, _, _ in granted(role)} & {"kopf.dev"}


def test_peering_name_value() -> None:
    objects = render({"replicaCount": 2, "peering": {"name": "wsconn-ha"}})
    assert one(objects, "ClusterKopfPeering")["metadata"]["name"] == "wsconn-ha"
    assert env_values(objects)["WSCONN_PEERING"] == "wsconn-ha"


# ------------------------------------------------------------------------------ metrics, identity


def test_metrics_service_selects_the_pod() -> None:
    objects = render()
    service = one(objects, "Service")
    pod_labels = deployment(objects)["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert service["spec"]["ports"] == [
        {"name": "metrics", "port": 8080, "targetPort": "metrics", "protocol": "TCP"}
    ]
    assert not by_kind(objects, "ServiceMonitor")


def test_service_monitor() -> None:
    objects = render(SETS["service-monitor"])
    monitor = one(objects, "ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "prom"
    service = one(objects, "Service")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [RELEASE_NAMESPACE]}
    assert monitor["spec"]["endpoints"] == [
        {"port": "metrics", "path": "/metrics", "interval": "30s", "scrapeTimeout": "10s"}
    ]


def test_workload_identity() -> None:
    objects = render(SETS["workload-identity"])
    sa = one(objects, "ServiceAccount")
    assert sa["metadata"]["annotations"] == {"azure.workload.identity/client-id": WORKLOAD_IDENTITY_CLIENT_ID}
    template = deployment(objects)["spec"]["template"]
    assert template["metadata"]["labels"]["azure.workload.identity/use"] == "true"
    # Pod labels must not leak into the selector, which is immutable after install.
    assert "azure.workload.identity/use" not in deployment(objects)["spec"]["selector"]["matchLabels"]
    # The webhook sets AZURE_CLIENT_ID, AZURE_TENANT_ID and the token file itself.
    assert not set(env(objects)) & AZURE_IDENTITY_ENV


def test_service_principal_secret_comes_from_a_secret() -> None:
    objects = render(SETS["service-principal"])
    entries = env(objects)
    assert entries["AZURE_CLIENT_SECRET"] == {
        "name": "AZURE_CLIENT_SECRET",
        "valueFrom": {"secretKeyRef": {"name": "wsconn-azure", "key": "client-secret"}},
    }
    values = env_values(objects)
    assert values["AZURE_TENANT_ID"] == "99999999-8888-7777-6666-555555555555"
    assert values["AZURE_CLIENT_ID"] == "12121212-3434-5656-7878-909090909090"
    assert values["AZURE_AUTHORITY_HOST"] == "https://login.microsoftonline.us"
    assert values["AZURE_RESOURCE_MANAGER_ENDPOINT"] == "https://management.usgovcloudapi.net"
    assert values["AZURE_RESOURCE_MANAGER_AUDIENCE"] == "https://management.core.usgovcloudapi.net/"


# Settings whose names match the credential pattern but that hold none (their names are docs/design.md's).
# Not credentials: seconds, and a label selector naming which Secrets may be used.
NOT_CREDENTIALS = {"WSCONN_MISSING_SECRET_GRACE", "WSCONN_SECRET_SELECTOR"}


@pytest.mark.parametrize("name", sorted(SETS))
def test_no_literal_credentials_in_any_rendering(name: str) -> None:
    for var, entry in env(render(SETS[name])).items():
        if re.search(r"SECRET|TOKEN|PASSWORD|KEY$", var) and var not in NOT_CREDENTIALS:
            assert "value" not in entry, f"{var} must come from a Secret"
    assert not by_kind(render(SETS[name]), "Secret"), "the chart never creates Secrets"


def test_extra_volumes_and_scheduling() -> None:
    objects = render(
        {
            "extraVolumes": [{"name": "ca", "configMap": {"name": "private-ca"}}],
            "extraVolumeMounts": [{"name": "ca", "mountPath": "/etc/ssl/private-ca", "readOnly": True}],
            "extraEnv": [{"name": "SSL_CERT_FILE", "value": "/etc/ssl/private-ca/bundle.pem"}],
            "nodeSelector": {"kubernetes.io/os": "linux"},
            "tolerations": [
                {"key": "dedicated", "operator": "Equal", "value": "ops", "effect": "NoSchedule"}
            ],
            "affinity": {"nodeAffinity": {}},
            "priorityClassName": "system-cluster-critical",
            "imagePullSecrets": [{"name": "regcred"}],
            "image": {"repository": "registry.example/wsconn", "tag": "1.2.3", "pullPolicy": "Always"},
        }
    )
    pod = deployment(objects)["spec"]["template"]["spec"]
    assert {v["name"] for v in pod["volumes"]} == {"tmp", "ca"}
    assert {m["mountPath"] for m in container(objects)["volumeMounts"]} == {"/tmp", "/etc/ssl/private-ca"}
    assert env_values(objects)["SSL_CERT_FILE"] == "/etc/ssl/private-ca/bundle.pem"
    assert pod["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert pod["tolerations"][0]["key"] == "dedicated"
    assert pod["affinity"] == {"nodeAffinity": {}}
    assert pod["priorityClassName"] == "system-cluster-critical"
    assert pod["imagePullSecrets"] == [{"name": "regcred"}]
    assert container(objects)["image"] == "registry.example/wsconn:1.2.3"
    assert container(objects)["imagePullPolicy"] == "Always"


def test_release_names() -> None:
    assert one(render(release="wsconn"), "Deployment")["metadata"]["name"] == "wsconn-operator"
    assert one(render(release="prod"), "Deployment")["metadata"]["name"] == "prod-wsconn-operator"
    named = render({"fullnameOverride": "amlconn"})
    renamed = {
        o["metadata"]["name"] for o in named if o["kind"] not in {"Service", "CustomResourceDefinition"}
    }
    assert renamed == {"amlconn"}


# ----------------------------------------------------------------------------------------- Argo CD


def test_argocd_health_configmap() -> None:
    assert not by_kind(render(), "ConfigMap")
    cm = one(render(SETS["argocd-health"]), "ConfigMap")
    data = cm["data"]
    assert list(data) == ["resource.customizations.health.azureml.dev_WorkspaceConnection"]
    lua = (ROOT / "deploy" / "argocd" / "health.lua").read_text()
    assert data["resource.customizations.health.azureml.dev_WorkspaceConnection"] == lua


def test_chart_copy_of_the_health_check_is_current() -> None:
    assert (CHART / "files" / "argocd-health.lua").read_text() == (
        ROOT / "deploy" / "argocd" / "health.lua"
    ).read_text(), "run hack/render-install-manifest"


# ---------------------------------------------------------------------------------------- schema

# A bad value, and the words of helm's refusal that tell a person what to fix.
BAD_VALUES: dict[str, tuple[dict[str, Any], str]] = {
    "top-level typo": ({"replicaCont": 2}, "additional properties 'replicaCont' not allowed"),
    "nested typo": ({"operator": {"logFormt": "json"}}, "at '/operator': additional properties 'logFormt'"),
    "log format": ({"operator": {"logFormat": "xml"}}, "at '/operator/logFormat': value must be one of"),
    "api version": ({"operator": {"defaultApiVersion": "2023-10-01"}}, "at '/operator/defaultApiVersion'"),
    "zero replicas": ({"replicaCount": 0}, "at '/replicaCount': minimum"),
    "replicas as string": ({"replicaCount": "2"}, "at '/replicaCount': got string, want integer"),
    "negative drift interval": ({"operator": {"driftInterval": -1}}, "at '/operator/driftInterval'"),
    "negative checked-time interval": (
        {"operator": {"checkedTimeInterval": -1}},
        "at '/operator/checkedTimeInterval'",
    ),
    "negative missing-Secret grace": (
        {"operator": {"missingSecretGrace": -1}},
        "at '/operator/missingSecretGrace'",
    ),
    "workers zero": ({"operator": {"workers": 0}}, "at '/operator/workers'"),
    "http endpoint": ({"azure": {"armEndpoint": "http://management.azure.com"}}, "at '/azure/armEndpoint'"),
    "literal client secret": ({"azure": {"clientSecret": "hunter2"}}, "additional properties 'clientSecret'"),
    "literal client secret in clientSecretRef": (
        {"azure": {"clientSecretRef": {"name": "x", "value": "hunter2"}}},
        "at '/azure/clientSecretRef': additional properties 'value'",
    ),
    "literal secret via extraEnv": (
        {"extraEnv": [{"name": "AZURE_CLIENT_SECRET", "value": "hunter2"}]},
        "at '/extraEnv/0/value': value must be '(never a literal: set azure.clientSecretRef",
    ),
    "bad namespace": ({"watchNamespaces": ["Team_A"]}, "at '/watchNamespaces/0'"),
    "duplicate namespace": ({"watchNamespaces": ["a", "a"]}, "at '/watchNamespaces'"),
    "namespaces as string": ({"watchNamespaces": "a,b"}, "at '/watchNamespaces': got string, want array"),
    "root pod": ({"podSecurityContext": {"runAsNonRoot": False}}, "at '/podSecurityContext/runAsNonRoot'"),
    "uid 0": ({"securityContext": {"runAsUser": 0}}, "at '/securityContext/runAsUser'"),
    "privilege escalation": (
        {"securityContext": {"allowPrivilegeEscalation": True}},
        "at '/securityContext/allowPrivilegeEscalation'",
    ),
    "privileged": ({"securityContext": {"privileged": True}}, "at '/securityContext/privileged'"),
    "short grace period": ({"terminationGracePeriodSeconds": 10}, "at '/terminationGracePeriodSeconds'"),
    "pull policy": ({"image": {"pullPolicy": "Sometimes"}}, "at '/image/pullPolicy'"),
    "digest without algorithm": ({"image": {"digest": "0123abcd"}}, "at '/image/digest'"),
    "service monitor typo": (
        {"metrics": {"serviceMonitor": {"enable": True}}},
        "at '/metrics/serviceMonitor': additional properties 'enable'",
    ),
    "argocd typo": ({"argocd": {"healthcheck": {"enabled": True}}}, "additional properties 'healthcheck'"),
    "pod label not a string": (
        {"podLabels": {"azure.workload.identity/use": True}},
        "at '/podLabels/azure.workload.identity~1use': got boolean, want string",
    ),
    "common label not a string": ({"commonLabels": {"team": 1}}, "at '/commonLabels/team'"),
    "crds typo": ({"crds": {"instal": False}}, "at '/crds': additional properties 'instal'"),
    "network policy cidr": (
        {"networkPolicy": {"egress": {"apiServerCIDRs": ["10.0.0.1"]}}},
        "at '/networkPolicy/egress/apiServerCIDRs/0'",
    ),
    "not-ready minutes": (
        {"metrics": {"prometheusRule": {"notReadyMinutes": 0}}},
        "at '/metrics/prometheusRule/notReadyMinutes'",
    ),
}


@pytest.mark.parametrize("name", sorted(BAD_VALUES))
def test_schema_rejects_and_says_where(name: str) -> None:
    values, says = BAD_VALUES[name]
    proc = render_text(values, check=False)
    assert proc.returncode != 0, f"helm accepted {values}"
    assert "values don't meet the specifications of the schema" in proc.stderr, proc.stderr
    assert says in proc.stderr, proc.stderr
    assert "'not' failed" not in proc.stderr


def test_schema_is_draft_07_and_closed_at_the_top() -> None:
    schema = yaml.safe_load((CHART / "values.schema.json").read_text())
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert schema["additionalProperties"] is False
    assert set(values_file()) <= set(schema["properties"])


# ------------------------------------------------------------------- CRD, install manifest, docs


def test_chart_crd_is_the_generated_crd_and_a_release_object() -> None:
    """The CRD is rendered from the generated copy (so `helm upgrade` upgrades it), kept on uninstall; crds/
    holds only Kopf's peering CRDs."""
    crd_name = "azureml.dev_workspaceconnections.yaml"
    generated = (CHART / "files" / "crds" / crd_name).read_bytes()
    assert generated == (ROOT / "crds" / crd_name).read_bytes()
    [rendered] = by_kind(render(), "CustomResourceDefinition")
    expected = yaml.safe_load(generated)
    assert rendered["spec"] == expected["spec"]
    assert rendered["metadata"]["name"] == expected["metadata"]["name"]
    assert rendered["metadata"]["annotations"] == {"helm.sh/resource-policy": "keep"}
    assert not by_kind(render(SETS["without-crd"]), "CustomResourceDefinition")
    assert "annotations" not in one(render({"crds": {"keep": False}}), "CustomResourceDefinition")["metadata"]
    assert [p.name for p in (CHART / "crds").iterdir()] == ["kopf-peering.yaml"]


def test_peering_crds_serve_the_peering_objects() -> None:
    crds = [d for d in yaml.safe_load_all((CHART / "crds" / "kopf-peering.yaml").read_text()) if d]
    served = {(c["spec"]["group"], c["spec"]["names"]["kind"], c["spec"]["scope"]) for c in crds}
    assert served == {
        ("kopf.dev", "ClusterKopfPeering", "Cluster"),
        ("kopf.dev", "KopfPeering", "Namespaced"),
    }
    for name in ("ha", "ha-namespaced"):
        for obj in render(SETS[name]):
            if obj["kind"].endswith("KopfPeering"):
                assert obj["apiVersion"] == "kopf.dev/v1"


def test_hardened_values() -> None:
    objects = render(SETS["hardened"])
    c = container(objects)
    assert c["image"] == f"registry.example.com/wsconn-operator:0.1.0@{DIGEST}"
    assert c["resources"]["limits"] == {"cpu": "500m", "memory": "512Mi"}
    for obj in objects:
        assert obj["metadata"]["labels"]["team"] == "ml-platform", obj["kind"]
    assert deployment(objects)["spec"]["template"]["metadata"]["labels"]["team"] == "ml-platform"
    assert "team" not in deployment(objects)["spec"]["selector"]["matchLabels"]
    policy = one(objects, "NetworkPolicy")["spec"]
    assert policy["podSelector"]["matchLabels"] == deployment(objects)["spec"]["selector"]["matchLabels"]
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    ports = {p["port"] for rule in policy["ingress"] for p in rule["ports"]}
    assert ports == {"metrics", "health"}, "nothing else of the pod is reachable"
    metrics_rule = next(r for r in policy["ingress"] if r["ports"][0]["port"] == "metrics")
    assert metrics_rule["from"] == values_file()["networkPolicy"]["metricsFrom"]
    egress = policy["egress"]
    assert {"port": 53, "protocol": "UDP"} in egress[0]["ports"]
    assert egress[1] == {
        "to": [{"ipBlock": {"cidr": "10.96.0.1/32"}}],
        "ports": [{"port": 443, "protocol": "TCP"}],
    }
    assert egress[-1] == SETS["hardened"]["networkPolicy"]["extraEgress"][0]
    assert not by_kind(render(), "NetworkPolicy"), "off by default"


def test_install_manifest_is_current() -> None:
    """hack/render-install-manifest --check, with the same helm as the other tests."""
    import os
    import subprocess

    from tests.chart.tools import helm

    proc = subprocess.run(
        [str(ROOT / "hack" / "render-install-manifest"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HELM": helm()},
        check=False,
    )
    assert proc.returncode == 0, proc.stderr


def test_install_manifest_content() -> None:
    text = (ROOT / "deploy" / "install.yaml").read_text()
    assert text.startswith("# wsconn-operator 0.2.0:")
    docs = [d for d in yaml.safe_load_all(text) if d]
    namespace = docs[0]
    assert namespace["kind"] == "Namespace"
    assert namespace["metadata"]["name"] == RELEASE_NAMESPACE
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert docs[1:] == render(), "install.yaml is the default rendering (the CRD is one of its objects)"
    assert "CustomResourceDefinition" in [d["kind"] for d in docs]
    for doc in docs[1:]:
        if doc["kind"] in NAMESPACED_KINDS:
            assert doc["metadata"]["namespace"] == RELEASE_NAMESPACE


def value_keys(values: Mapping[str, Any], prefix: str = "") -> set[str]:
    """Dotted keys of values.yaml down to the leaves; maps passed to Kubernetes as a whole are one key."""
    opaque = {"resources", "podSecurityContext", "securityContext", "metrics.dashboard.labels"}
    keys: set[str] = set()
    for key, value in values.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value and path not in opaque:
            keys |= value_keys(value, path + ".")
        else:
            keys.add(path)
    return keys


def test_every_value_is_documented_and_every_documented_value_exists() -> None:
    doc = (ROOT / "docs" / "install.md").read_text()
    table = re.search(r"<!-- values table -->\n(.*?)\n<!-- end values table -->", doc, re.DOTALL)
    assert table, "docs/install.md lost its values table markers"
    documented = set(re.findall(r"^\| `([^`]+)` \|", table.group(1), re.MULTILINE))
    assert documented == value_keys(values_file())


def test_gitops_examples_point_at_real_paths() -> None:
    app = yaml.safe_load((ROOT / "examples" / "gitops" / "argocd-application.yaml").read_text())
    assert app["kind"] == "Application"
    assert (ROOT / app["spec"]["source"]["path"] / "Chart.yaml").exists()
    assert app["spec"]["destination"]["namespace"] == RELEASE_NAMESPACE
    flux = [
        d
        for f in sorted((ROOT / "examples" / "gitops" / "flux").glob("*.yaml"))
        for d in yaml.safe_load_all(f.read_text())
        if d
    ]
    kinds = {d["kind"] for d in flux}
    assert {"GitRepository", "HelmRelease"} <= kinds
    release = next(d for d in flux if d["kind"] == "HelmRelease")
    chart = release["spec"]["chart"]["spec"]
    assert (ROOT / chart["chart"] / "Chart.yaml").exists()
    assert chart["sourceRef"]["kind"] == "GitRepository"
    # The HelmRelease's values must pass the chart's schema: render them.
    render(release["spec"].get("values") or {})


def test_api_version_values_follow_the_contract() -> None:
    """The chart offers exactly the api-versions the operator supports, and defaults to the operator's."""
    from wsconn.api import contract

    schema = json.loads((CHART / "values.schema.json").read_text())
    enum = schema["properties"]["operator"]["properties"]["defaultApiVersion"]["enum"]
    assert tuple(enum) == contract.API_VERSIONS
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert values["operator"]["defaultApiVersion"] == contract.DEFAULT_API_VERSION
