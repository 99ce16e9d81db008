"""The platform itself: a CRD, a custom object and a Secret applied with kubectl, and watched, on the real
API server. Proves the test platform before any operator runs."""

from __future__ import annotations

from typing import Any, cast

from kubernetes import client, watch

from tests.e2e.amlconn import GROUP, PLURAL, VERSION
from tests.e2e.kube import Kubectl


def _watched(
    kube: client.ApiClient, namespace: str, since: str, want: set[tuple[str, str]]
) -> set[tuple[str, str]]:
    """Watch the namespace's WorkspaceConnections from resourceVersion `since` until `want` is seen."""
    seen: set[tuple[str, str]] = set()
    w = watch.Watch()
    for event in w.stream(
        client.CustomObjectsApi(kube).list_namespaced_custom_object,
        "azureml.dev",
        "v1alpha1",
        namespace,
        "workspaceconnections",
        resource_version=since,
        timeout_seconds=20,
    ):
        seen.add((event["type"], event["object"]["metadata"]["name"]))
        if want <= seen:
            w.stop()
    return seen


def test_crd_object_and_secret_round_trip(
    crd: None, kubectl: Kubectl, kube: client.ApiClient, namespace: str
) -> None:

    api = client.CustomObjectsApi(kube)
    listed = cast(dict[str, Any], api.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL))
    since = listed["metadata"]["resourceVersion"]
    kubectl.apply(
        [
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "feed", "namespace": namespace},
                "stringData": {"pat": "not-a-real-token"},
            },
            {
                "apiVersion": "azureml.dev/v1alpha1",
                "kind": "WorkspaceConnection",
                "metadata": {"name": "smoke-feed", "namespace": namespace},
                "spec": {
                    "workspace": {
                        "subscriptionId": "00000000-1111-2222-3333-444444444444",
                        "resourceGroup": "rg-ml",
                        "name": "ws-prod",
                    },
                    "authType": "PAT",
                    "category": "Git",
                    "target": "https://example.invalid/repo.git",
                    "credentials": {"pat": {"secretKeyRef": {"name": "feed", "key": "pat"}}},
                },
            },
        ]
    )
    kubectl.run("-n", namespace, "annotate", "amlconn/smoke-feed", "smoke=1")
    want = {("ADDED", "smoke-feed"), ("MODIFIED", "smoke-feed")}
    assert _watched(kube, namespace, since, want) >= want

    secret: Any = client.CoreV1Api(kube).read_namespaced_secret("feed", namespace)
    assert set(secret.data) == {"pat"}
    listed = kubectl.get_json("-n", namespace, "amlconn")
    assert [item["metadata"]["name"] for item in listed["items"]] == ["smoke-feed"]


def test_schema_refuses_what_it_must(kubectl: Kubectl, namespace: str) -> None:
    bad = {
        "apiVersion": "azureml.dev/v1alpha1",
        "kind": "WorkspaceConnection",
        "metadata": {"name": "bad-literal", "namespace": namespace},
        "spec": {
            "workspace": {
                "subscriptionId": "00000000-1111-2222-3333-444444444444",
                "resourceGroup": "rg",
                "name": "ws-1",
            },
            "authType": "PAT",
            "credentials": {"pat": {"value": "literal-token"}},
        },
    }
    proc = kubectl.apply(bad, check=False)
    assert proc.returncode != 0
    assert "pat is a secret" in proc.stderr
    assert "literal-token" not in proc.stderr
