"""Kopf wiring: the only module that knows Kopf's decorators. Each handler turns Kopf's kwargs into an
ObjectView, calls the reconciler and maps the Result to a status patch, events and Kopf's retry exceptions.

Triggers:
- create / update / resume of a WorkspaceConnection -> one reconcile;
- a change of a Secret it references -> an annotation on the resource (TRIGGER_ANNOTATION) carrying the
  Secret's version, which Kopf sees as an update: retries and per-object serialisation stay Kopf's. The
  Secret itself is never written to, patched or annotated;
- a timer -> a drift check, only when due and only for Ready resources; a check that fails sets the trigger
  annotation, so the change handler retries it with Kopf's backoff (as it retries every other pass).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Mapping
from typing import Any

import kopf
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from wsconn.api.crd import GROUP, PLURAL, VERSION
from wsconn.core.conditions import is_ready
from wsconn.logs import object_logger
from wsconn.metrics import (
    RECONCILES,
    SECRET_TRIGGERS,
    ReadyTracker,
    forget_conditions,
    record_conditions,
)
from wsconn.reconciler import STATUS_FIELDS, ObjectView, Result, format_time, utcnow
from wsconn.settings import Settings

log = logging.getLogger("wsconn.handlers")

KOPF_PREFIX = "wsconn.azureml.dev"
FINALIZER = "azureml.dev/finalizer"
TRIGGER_ANNOTATION = "azureml.dev/secret-trigger"
RESOURCE = (GROUP, VERSION, PLURAL)
# A healthy pass is bounded: secret reads time out after 15 s, an ARM call after --arm-timeout (30 s) times
# three attempts plus at most 10 s of waits. Ten minutes means the process is wedged; liveness fails and the
# kubelet restarts it.
STUCK_AFTER_SECONDS = 600.0


def referenced_secrets(spec: Mapping[str, Any]) -> set[str]:
    """Secret names a raw spec references, read leniently (the index must not fail on a bad spec)."""
    names: set[str] = set()
    creds = spec.get("credentials")
    if not isinstance(creds, Mapping):
        return names
    for field, source in creds.items():
        if not isinstance(source, Mapping):
            continue
        ref = source.get("secretRef" if field == "keys" else "secretKeyRef")
        if isinstance(ref, Mapping) and isinstance(ref.get("name"), str):
            names.add(ref["name"])
    return names


def configure(settings: kopf.OperatorSettings, cfg: Settings) -> None:
    """Kopf's settings for this operator."""
    settings.persistence.finalizer = FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=KOPF_PREFIX)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix=KOPF_PREFIX)
    # Kopf's worker limit stays unbounded (its default): with a kopf.index, a limit below the number of
    # objects in one watch stream deadlocks the initial indexing after a restart, because the first workers
    # wait for every object to be indexed while the rest wait for a worker (nolar/kopf#1243). Concurrency is
    # bounded by the reconciler's own semaphore (cfg.workers) and the ARM client's (cfg.arm_concurrency).
    settings.queueing.worker_limit = None
    settings.posting.level = logging.WARNING
    # Events say who wrote them ("From" in kubectl describe; Kopf's default is "kopf").
    settings.posting.reporting_component = "wsconn-operator"
    settings.posting.reporting_instance = socket.gethostname()
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.peering.standalone = not cfg.peering
    if cfg.peering:
        settings.peering.name = cfg.peering
        settings.peering.mandatory = True
        settings.peering.clusterwide = not cfg.namespaces
    settings.scanning.disabled = True
    settings.networking.error_backoffs = (1, 2, 4, 8, 15, 30)
    # On SIGTERM, let passes in flight finish (a PUT is idempotent, so one cut short is only repeated).
    settings.queueing.exit_timeout = cfg.shutdown_timeout


def register(registry: kopf.OperatorRegistry, cfg: Settings, build: Any) -> None:
    """Register every handler on `registry`. `build(settings, memo)` makes the reconciler at start-up."""
    _register_lifecycle(registry, cfg, build)
    _register_resource(registry, cfg, ReadyTracker())
    _register_secret_watch(registry)


def _register_lifecycle(registry: kopf.OperatorRegistry, cfg: Settings, build: Any) -> None:
    @kopf.on.login(id="login", registry=registry)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        """In-cluster ServiceAccount or kubeconfig, through the kubernetes client (as Kopf's default)."""
        return kopf.login_via_client(**kwargs)

    @kopf.on.startup(id="startup", registry=registry)
    async def startup(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
        configure(settings, cfg)
        await build(settings, memo)

    @kopf.on.cleanup(id="cleanup", registry=registry)
    async def cleanup(memo: kopf.Memo, **_: Any) -> None:
        await memo.shutdown()

    @kopf.on.probe(id="reconciles", registry=registry)
    def reconciles(memo: kopf.Memo, **_: Any) -> dict[str, float]:
        """Liveness: fails when a reconcile pass has run far longer than any healthy one can (a hang)."""
        oldest = memo.reconciler.oldest_pass_seconds() if hasattr(memo, "reconciler") else 0.0
        if oldest > STUCK_AFTER_SECONDS:
            raise kopf.PermanentError(f"a reconcile pass has been running for {oldest:.0f}s")
        return {"oldest_pass_seconds": round(oldest, 1)}


def _register_resource(registry: kopf.OperatorRegistry, cfg: Settings, tracker: ReadyTracker) -> None:
    tick = max(1.0, min(60.0, cfg.drift_interval / 4)) if cfg.drift_interval > 0 else None

    @kopf.index(*RESOURCE, id="secret_users", registry=registry)
    def secret_users(
        *,
        name: str,
        namespace: str | None,
        spec: Mapping[str, Any],
        status: Mapping[str, Any],
        meta: Any,
        **_: Any,
    ) -> dict[tuple[str, str], tuple[str, str | None, str | None]]:
        """(namespace, Secret name) -> (resource name, Secret version last applied, trigger annotation)."""
        used = status.get("secretVersions") or {}
        trigger = (meta.get("annotations") or {}).get(TRIGGER_ANNOTATION)
        return {(namespace or "", s): (name, used.get(s), trigger) for s in referenced_secrets(spec)}

    @kopf.on.resume(*RESOURCE, id="reconcile", registry=registry)
    @kopf.on.create(*RESOURCE, id="reconcile", registry=registry)
    @kopf.on.update(*RESOURCE, id="reconcile", registry=registry)
    async def reconcile(
        body: kopf.Body, patch: kopf.Patch, retry: int, logger: Any, memo: kopf.Memo, **_: Any
    ) -> None:
        """Level-based reconcile for every change of the resource (spec, annotations) and on resume."""
        obj = ObjectView.from_body(body)
        result = await memo.reconciler.reconcile(obj, log=object_logger(logger), retry=retry)
        _report(body, obj, patch, result, tracker)
        if result.retry_after is not None:
            raise kopf.TemporaryError(result.outcome.message, delay=result.retry_after)

    if tick is not None:

        def ready_now(*, status: Mapping[str, Any], meta: Any, **_: Any) -> bool:
            return is_ready(status, int(meta.get("generation") or 0))

        @kopf.timer(
            *RESOURCE, id="drift", interval=tick, initial_delay=tick, when=ready_now, registry=registry
        )
        async def drift(
            *, body: kopf.Body, patch: kopf.Patch, logger: Any, memo: kopf.Memo, **_: Any
        ) -> None:
            """Periodic drift check of a Ready resource, when its jittered interval has passed."""
            obj = ObjectView.from_body(body)
            if not memo.reconciler.drift_check_due(obj):
                return
            result = await memo.reconciler.reconcile(obj, log=object_logger(logger))
            _report(body, obj, patch, result, tracker)
            if result.retry_after is not None:
                # The timer skips resources that are not Ready, so a failed check is handed to the change
                # handler, which owns retries and their backoff: the same trigger a Secret change uses.
                patch.metadata.annotations[TRIGGER_ANNOTATION] = f"drift-retry@{format_time(utcnow())}"

    @kopf.on.delete(*RESOURCE, id="delete", registry=registry)
    async def delete(
        body: kopf.Body, patch: kopf.Patch, retry: int, logger: Any, memo: kopf.Memo, **_: Any
    ) -> None:
        """Delete in Azure (or orphan) before the finalizer goes; a failure keeps it and says why."""
        obj = ObjectView.from_body(body)
        result = await memo.reconciler.delete(obj, log=object_logger(logger), retry=retry)
        if result.done:
            tracker.drop(obj.uid)
            forget_conditions(obj.namespace, obj.name)
            return
        if result.status is not None:
            patch.status.update(_changed(obj.status, result.status))
        kopf.warn(body, reason="DeleteFailed", message=result.message)
        raise kopf.TemporaryError(result.message, delay=result.retry_after or 30)


def _register_secret_watch(registry: kopf.OperatorRegistry) -> None:
    @kopf.on.event("v1", "secrets", id="secret_event", registry=registry)
    async def secret_event(
        *,
        type: str,
        name: str,
        namespace: str | None,
        meta: Any,
        memo: kopf.Memo,
        **kwargs: Any,
    ) -> None:
        """Re-reconcile the resources that use a Secret that appeared, changed or went away."""
        version = "deleted" if type == "DELETED" else str(meta.get("resourceVersion"))
        index: kopf.Index[tuple[str, str], tuple[str, str | None, str | None]] = kwargs["secret_users"]
        users: Any = index.get((namespace or "", name), ())
        for resource, applied_version, trigger in users:
            marker = f"{name}@{version}"
            if version == applied_version or trigger == marker:
                continue
            await memo.trigger(namespace or "", resource, marker)
            SECRET_TRIGGERS.inc()


def _report(
    body: kopf.Body, obj: ObjectView, patch: kopf.Patch, result: Result, tracker: ReadyTracker
) -> None:
    patch.status.update(_changed(obj.status, result.status))
    RECONCILES.labels(result.outcome.state, result.outcome.reason).inc()
    tracker.set(obj.uid, "True" if result.outcome.state == "ready" else "False")
    record_conditions(obj.namespace, obj.name, result.status.get("conditions") or ())
    for event in result.events:
        kopf.event(body, type=event.type, reason=event.reason, message=event.message)


def _changed(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """The merge patch from `before` to `after` over the fields we own (None deletes a field)."""
    patch: dict[str, Any] = {k: v for k, v in after.items() if before.get(k) != v}
    patch.update({k: None for k in before if k not in after and k in STATUS_FIELDS})
    return patch


class Trigger:
    """Patches the trigger annotation onto a resource (through the API, off the event loop)."""

    def __init__(self, api: k8s.ApiClient) -> None:
        self._custom = k8s.CustomObjectsApi(api)

    async def __call__(self, namespace: str, name: str, marker: str) -> None:
        body = {"metadata": {"annotations": {TRIGGER_ANNOTATION: marker}}}
        try:
            await asyncio.to_thread(
                self._custom.patch_namespaced_custom_object, GROUP, VERSION, namespace, PLURAL, name, body
            )
        except ApiException as exc:
            if exc.status != 404:
                log.warning("could not trigger %s/%s after a Secret change: %s", namespace, name, exc.reason)
