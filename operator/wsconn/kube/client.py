"""The Kubernetes API client the operator uses besides Kopf's own: in-cluster config, else kubeconfig."""

from __future__ import annotations

import os

from kubernetes import client, config


def api_client() -> client.ApiClient:
    """An ApiClient for the cluster the operator runs against (the ServiceAccount token refreshes itself)."""
    configuration = client.Configuration()
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    else:
        config.load_kube_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    return client.ApiClient(configuration)
