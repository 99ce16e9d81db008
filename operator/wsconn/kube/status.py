"""Writing a WorkspaceConnection's status outside a Kopf handler's own patch: a write that ARM keeps waiting
reports itself while the pass still runs (reconciler/apply.py), and a timed pass (timers.py) writes its
outcome. A merge patch of the status subresource.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wsconn.api.crd import GROUP, PLURAL, VERSION
from wsconn.api.references import ObjectRef
from wsconn.kube.client import MERGE_PATCH, KubeClient


def resource_path(ref: ObjectRef) -> str:
    """The API path of a WorkspaceConnection."""
    return f"/apis/{GROUP}/{VERSION}/namespaces/{ref.namespace}/{PLURAL}/{ref.name}"


class StatusPatcher:
    """Patches `.status` of WorkspaceConnections."""

    def __init__(self, kube: KubeClient) -> None:
        self._kube = kube

    async def patch_status(self, ref: ObjectRef, patch: Mapping[str, Any]) -> None:
        """Merge `patch` into the object's status."""
        if not patch:
            return
        path = f"{resource_path(ref)}/status"
        await self._kube.request("PATCH", path, body={"status": dict(patch)}, content_type=MERGE_PATCH)
