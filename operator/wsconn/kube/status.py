"""Writing a WorkspaceConnection's status while a pass still runs (Kopf writes it only when a handler ends).

Used rarely: only a write that ARM keeps waiting reports itself this way (reconciler/apply.py). A merge patch
of the status subresource, through the synchronous client in a worker thread, off the event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from kubernetes import client

from wsconn.api.crd import GROUP, PLURAL, VERSION
from wsconn.api.references import ObjectRef

REQUEST_TIMEOUT = 15


class StatusPatcher:
    """Patches `.status` of WorkspaceConnections."""

    def __init__(self, api: client.ApiClient) -> None:
        self._custom = client.CustomObjectsApi(api)

    async def patch_status(self, ref: ObjectRef, patch: Mapping[str, Any]) -> None:
        """Merge `patch` into the object's status."""
        if not patch:
            return
        await asyncio.to_thread(
            self._custom.patch_namespaced_custom_object_status,
            GROUP,
            VERSION,
            ref.namespace,
            PLURAL,
            ref.name,
            {"status": dict(patch)},
            _request_timeout=REQUEST_TIMEOUT,
            _content_type="application/merge-patch+json",
        )
