"""The value sets the chart is rendered with, shared by the template tests and the server-side dry-run."""

from __future__ import annotations

from typing import Any

WORKLOAD_IDENTITY_CLIENT_ID = "11111111-2222-3333-4444-555555555555"
DIGEST = "sha256:" + "0123456789abcdef" * 4


def value_sets(watched: tuple[str, str] = ("team-a", "team-b")) -> dict[str, dict[str, Any]]:
    """Named value sets; `watched` are the two namespaces of the namespaced modes."""
    return {
        "defaults": {},
        "namespaced": {"watchNamespaces": list(watched)},
        "ha": {"replicaCount": 3},
        "ha-namespaced": {"replicaCount": 2, "watchNamespaces": list(watched)},
        "service-monitor": {"metrics": {"serviceMonitor": {"enabled": True, "labels": {"release": "prom"}}}},
        "workload-identity": {
            "serviceAccount": {
                "annotations": {"azure.workload.identity/client-id": WORKLOAD_IDENTITY_CLIENT_ID}
            },
            "podLabels": {"azure.workload.identity/use": "true"},
        },
        "service-principal": {
            "azure": {
                "tenantId": "99999999-8888-7777-6666-555555555555",
                "clientId": "12121212-3434-5656-7878-909090909090",
                "clientSecretRef": {"name": "wsconn-azure", "key": "client-secret"},
                "authorityHost": "https://login.microsoftonline.us",
                "armEndpoint": "https://management.usgovcloudapi.net",
                "armAudience": "https://management.core.usgovcloudapi.net/",
            }
        },
        "argocd-health": {"argocd": {"healthCheck": {"enabled": True}}},
        "observability": {
            "metrics": {
                "serviceMonitor": {"enabled": True},
                "prometheusRule": {"enabled": True, "labels": {"release": "prom"}},
                "dashboard": {"enabled": True},
            }
        },
        "hardened": {
            "image": {"repository": "registry.example.com/wsconn-operator", "digest": DIGEST},
            "resources": {
                "requests": {"cpu": "50m", "memory": "128Mi"},
                "limits": {"cpu": "500m", "memory": "512Mi"},
            },
            "commonLabels": {"team": "ml-platform"},
            "networkPolicy": {
                "enabled": True,
                "healthFrom": [{"ipBlock": {"cidr": "10.0.0.0/16"}}],
                "egress": {
                    "dns": True,
                    "apiServerCIDRs": ["10.96.0.1/32"],
                    "apiServerPorts": [443],
                    "azureCIDRs": ["0.0.0.0/0"],
                },
                "extraEgress": [{"to": [{"ipBlock": {"cidr": "10.1.0.0/24"}}], "ports": [{"port": 3128}]}],
            },
            "crds": {"install": True, "keep": True},
            # Each team brings its own Azure identity, and only labelled Secrets may be referenced.
            "operator": {
                "operatorIdentityNamespaces": "",
                "secretSelector": "wsconn.azureml.dev/usable=true",
            },
        },
        "without-crd": {"crds": {"install": False}},
    }


# Value sets that render kinds whose CRDs are not ours: Kopf's peering CRDs (HA, from the chart's crds/)
# and the Prometheus Operator's ServiceMonitor and PrometheusRule.
NEEDS_FOREIGN_CRDS = {"ha", "ha-namespaced", "service-monitor", "observability"}
