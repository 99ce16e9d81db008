"""Posting a Kubernetes Event on a WorkspaceConnection from a pass no Kopf handler runs (the timed passes of
timers.py), in the shape Kopf posts its own: same reporting component, same object reference, so `kubectl
describe` shows both alike. Events are helpful but auxiliary: a failure to post one is logged, never raised.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from wsconn.api.crd import GROUP, KIND, VERSION
from wsconn.api.references import ObjectRef
from wsconn.kube.client import KubeClient, KubeError

MAX_MESSAGE_LENGTH = 1024  # what Kopf keeps of a message, too

log = logging.getLogger("wsconn.events")


class EventPoster:
    """Creates core/v1 Events about WorkspaceConnections."""

    def __init__(self, kube: KubeClient, *, component: str, instance: str) -> None:
        self._kube = kube
        self._component = component
        self._instance = instance

    async def post(self, ref: ObjectRef, uid: str, *, type: str, reason: str, message: str) -> None:
        """Post one Event on the object `ref` (with its `uid`)."""
        now = dt.datetime.now(dt.UTC).isoformat()
        body: Any = {
            "metadata": {"namespace": ref.namespace, "generateName": "wsconn-event-"},
            "type": type,
            "reason": reason,
            "message": message[:MAX_MESSAGE_LENGTH],
            "action": "Reconcile",
            "reportingComponent": self._component,
            "reportingInstance": self._instance,
            "source": {"component": self._component},
            "involvedObject": {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": KIND,
                "namespace": ref.namespace,
                "name": ref.name,
                "uid": uid,
            },
            "firstTimestamp": now,
            "lastTimestamp": now,
            "eventTime": now,
        }
        try:
            await self._kube.request("POST", f"/api/v1/namespaces/{ref.namespace}/events", body=body)
        except KubeError as exc:
            log.warning("could not post the %s event on %s: %s", reason, ref, exc)
