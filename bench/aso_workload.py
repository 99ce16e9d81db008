"""What Azure Service Operator v2 (ASO) is given in the benchmark: the stand-in CRD for its
WorkspacesConnection and the objects, built from the same items as this operator's workload.

ASO's generated CRDs are not in its Go module, so the benchmark installs a stand-in (facts from the manual run
of 2026-12-02, bench/README.md "Azure Service Operator beside it"): labelled
`app.kubernetes.io/name: azure-service-operator` (ASO starts controllers only for CRDs it finds by that
label), versions `v1api20240401` (served) and `v1api20240401storage` (served and storage: the hub version its
controller watches), `conversion: None`, the status subresource and a permissive schema. Without ASO's
defaulting webhook each object carries what the webhook would set: `spec.azureName` (= metadata.name) and
`spec.originalVersion`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bench.workload import Item

ASO_GROUP = "machinelearningservices.azure.com"
ASO_KIND = "WorkspacesConnection"
ASO_PLURAL = "workspacesconnections"
ASO_VERSION = "v1api20240401"
ASO_STORAGE_VERSION = f"{ASO_VERSION}storage"
ASO_CRD_NAME = f"{ASO_PLURAL}.{ASO_GROUP}"
# The authTypes ASO's v1api20240401 schema has and this builder maps (ASO names each one's properties
# `properties.<camelCase authType>`); ApiKey is what the manual run used.
ASO_PROPERTY_KEYS = {"ApiKey": "apiKey"}
# Non-secret fields of our spec that ASO's ApiKeyAuthWorkspaceConnectionProperties has under the same name.
_COMMON_FIELDS = ("category", "target", "metadata", "isSharedToAll", "expiryTime", "sharedUserList")


def stand_in_crd() -> dict[str, Any]:
    """The CustomResourceDefinition ASO finds and watches in place of its own."""
    schema = {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}
    version = {"schema": schema, "subresources": {"status": {}}}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": ASO_CRD_NAME,
            "labels": {"app.kubernetes.io/name": "azure-service-operator"},
        },
        "spec": {
            "group": ASO_GROUP,
            "names": {
                "kind": ASO_KIND,
                "listKind": f"{ASO_KIND}List",
                "plural": ASO_PLURAL,
                "singular": ASO_KIND.lower(),
            },
            "scope": "Namespaced",
            "conversion": {"strategy": "None"},
            "versions": [
                {"name": ASO_VERSION, "served": True, "storage": False, **version},
                {"name": ASO_STORAGE_VERSION, "served": True, "storage": True, **version},
            ],
        },
    }


def aso_path(namespace: str = "") -> str:
    """The REST path of ASO's WorkspacesConnections in a namespace (all namespaces without one)."""
    base = f"/apis/{ASO_GROUP}/{ASO_VERSION}"
    return f"{base}/namespaces/{namespace}/{ASO_PLURAL}" if namespace else f"{base}/{ASO_PLURAL}"


def aso_connection(item: Item, owner_arm_id: str) -> dict[str, Any]:
    """The ASO object standing for one of our workload's items: same name, namespace, labels, non-secret
    properties and Secret reference (`secretKeyRef {name, key}` becomes ASO's `{name, key}`).

    Raises ValueError for an authType this builder does not map (ASO_PROPERTY_KEYS).
    """
    spec = item.connection["spec"]
    auth_type = str(spec["authType"])
    if auth_type not in ASO_PROPERTY_KEYS:
        raise ValueError(f"no ASO mapping for authType {auth_type}")
    properties: dict[str, Any] = {"authType": auth_type}
    properties.update({k: spec[k] for k in _COMMON_FIELDS if k in spec})
    credentials: dict[str, Any] = {}
    for field, source in (spec.get("credentials") or {}).items():
        ref = source["secretKeyRef"]
        credentials[field] = {"name": ref["name"], "key": ref["key"]}
    if credentials:
        properties["credentials"] = credentials
    return {
        "apiVersion": f"{ASO_GROUP}/{ASO_VERSION}",
        "kind": ASO_KIND,
        "metadata": {
            "name": item.name,
            "namespace": item.namespace,
            "labels": dict(item.connection["metadata"].get("labels") or {}),
        },
        "spec": {
            "azureName": item.name,
            "originalVersion": ASO_VERSION,
            "owner": {"armId": owner_arm_id},
            "properties": {ASO_PROPERTY_KEYS[auth_type]: properties},
        },
    }


def aso_ready(obj: Mapping[str, Any]) -> bool:
    """ASO's Ready condition is True for the object's current generation (ASO keeps observedGeneration in
    each condition, not at the top of its status)."""
    generation = (obj.get("metadata") or {}).get("generation")
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return bool(cond.get("status") == "True" and cond.get("observedGeneration") == generation)
    return False
