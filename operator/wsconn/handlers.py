"""Kopf wiring: the only module that knows Kopf's decorators. Each handler turns Kopf's kwargs into an
ObjectView, calls the reconciler and maps the Result to a status patch, events and Kopf's retry exceptions.

Triggers:
- create / update / resume of a WorkspaceConnection -> one reconcile;
- a change of a Secret it references -> an annotation on the resource (TRIGGER_ANNOTATION) carrying the
  Secret's version, which Kopf sees as an update: retries and per-object serialisation stay Kopf's. The
  Secret itself is never written to, patched or annotated;
- the drift sweep (timers.py, not a Kopf timer) -> a drift check, only when due and only for Ready resources;
  a check that fails sets the trigger annotation, so the change handler retries it with Kopf's backoff (as it
  retries every other pass);
- a resource gone (DELETED) -> the trigger annotation on the next in line for its connection, which takes
  over (one owner per connection: core/ownership.py, decided from an index of every watched resource);
- the grace sweep over resources waiting for a Secret (Reconciling, SecretNotFound or SecretKeyNotFound) -> the
  trigger annotation when their missing-Secret grace ends, so the change handler's pass says Stalled.

Every watch event of a resource hands its latest view to the timed passes (`watched`).

Shutdown (SIGTERM): Kopf lets change handlers finish (`--shutdown-timeout`); the cleanup handler then stops the
timed passes (a drift check stops at once and is repeated after the restart) and closes the reconciler and the
clients.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import os
import re
import socket
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import aiohttp
import kopf

from wsconn import admission
from wsconn.api.crd import GROUP, PLURAL, VERSION
from wsconn.api.references import ObjectRef, SecretRef
from wsconn.api.status import FRAMEWORK_FIELD, format_time
from wsconn.core import grace, ownership
from wsconn.core.ownership import Claimant
from wsconn.kube.client import MERGE_PATCH, Endpoint, KubeClient, KubeError
from wsconn.kube.secrets import metadata_only
from wsconn.kube.status import resource_path
from wsconn.logs import object_logger, ref_logger
from wsconn.metrics import (
    RECONCILES,
    SECRET_TRIGGERS,
    ReadyTracker,
    forget_conditions,
    record_conditions,
)
from wsconn.reconciler import ObjectView, ReconcilerClosed, Result, utcnow
from wsconn.reconciler.model import scope_of
from wsconn.serving import Hooks, Serving, drop_managed_fields, install_watch
from wsconn.settings import Settings
from wsconn.timers import Timers
from wsconn.watchindex import TRIGGER_ANNOTATION, Multi, SecretUser, WatchIndex

log = logging.getLogger("wsconn.handlers")

KOPF_PREFIX = "wsconn.azureml.dev"  # where releases before issue 16 kept Kopf's records, as annotations
KOPF_STATUS = FRAMEWORK_FIELD  # status.kopf: Kopf's progress and last-handled configuration
FINALIZER = "azureml.dev/finalizer"
RESOURCE = (GROUP, VERSION, PLURAL)
# A pass is bounded by --pass-timeout (120 s by default) once it runs. Ten minutes means the process is
# wedged; liveness fails and the kubelet restarts it.
STUCK_AFTER_SECONDS = 600.0
LIST_CHUNK = 500
# New resources (listed or created) handed to Kopf ahead of admission (serving.paced): enough to keep every
# worker slot busy; about 12 KiB each while they wait, the rest wait packed in the stream's reader.
ADMISSION_ROOM = 200
WORKER_IDLE_SECONDS = 0.5
KOPF_CONNECTIONS = 8  # besides the watch streams (api_connections)
SERVICE_ACCOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"  # where a Pod has its token
SECRET_LIST = re.compile(r"/api/v1/(namespaces/[^/]+/)?secrets$")  # Secrets of a namespace, or of all


def claimed_view(body: kopf.Body, index: Multi) -> ObjectView:
    """The pass's view of `body`, with every resource that names its connection (for ownership)."""
    return ObjectView.from_body(body, claimants_of(body, index))


def claimants_of(body: Mapping[str, Any], index: Multi) -> tuple[Claimant, ...]:
    """The claimants of the connection `body` names, from the index (this resource included)."""
    meta = body.get("metadata") or {}
    return claimants_for(body.get("spec") or {}, str(meta.get("name", "")), index)


def claimants_for(spec: Mapping[str, Any], name: str, index: Multi) -> tuple[Claimant, ...]:
    """The claimants of the connection a resource named `name` with `spec` names (this resource included)."""
    key = ownership.connection_key(spec, name)
    return tuple(index.get(key, ())) if key is not None else ()


def secret_markers(
    users: Any, secret: SecretRef, version: str, *, listing: bool = False
) -> list[tuple[str, str]]:
    """(resource name, trigger marker) for each user of `secret` whose applied version is not `version` and
    that is not already triggered for it.

    A `listing` (Kopf's initial list of Secrets at start, and its re-list whenever a watch stream ends) does
    not trigger users that have applied no version of the Secret yet: their own first pass (create or resume)
    reads it. Measured at N = 1,000 (issue 16): when the listing of 1,750 Secrets was processed while the
    resources were being created, every new resource was triggered once more (1,000 annotation patches and as
    many extra passes, hundreds of them answered 429 by the API server)."""
    marker = f"{secret.name}@{version}"
    return [
        (resource, marker)
        for resource, applied_version, trigger in users
        if version != applied_version and trigger != marker and not (listing and applied_version is None)
    ]


class SharedMemo(kopf.Memo):
    """Kopf's memo, one for the whole operator. Kopf copies the memo it is given for every object it sees
    (resources and Secrets, for as long as they exist): a dict of the operator's dozen entries each, about
    1 KiB per object (20 MiB at N = 10,000 with their Secrets). Nothing here keeps per-object state in it."""

    def __copy__(self) -> SharedMemo:
        return self


class StatusDiffBase(kopf.StatusDiffBaseStorage):
    """Kopf's last-handled configuration in `status.kopf`, read from the annotation where earlier releases
    kept it until the first store here, which also removes every annotation under the old prefix (a one-time
    patch per resource after an upgrade)."""

    def __init__(self) -> None:
        super().__init__(name=KOPF_STATUS)
        self._legacy = kopf.AnnotationsDiffBaseStorage(prefix=KOPF_PREFIX)

    def build(self, *, body: kopf.Body, extra_fields: Any = None) -> kopf.BodyEssence:
        """Kopf's essence without the old prefix's annotations, so their removal is no change."""
        essence = super().build(body=body, extra_fields=extra_fields)
        annotations = essence.get("metadata", {}).get("annotations", {})
        for key in [k for k in annotations if k.startswith(f"{KOPF_PREFIX}/")]:
            del annotations[key]
        self.remove_empty_stanzas(essence)
        return essence

    def fetch(self, *, body: kopf.Body) -> kopf.BodyEssence | None:
        """From status, else from the annotation an earlier release wrote."""
        return super().fetch(body=body) or self._legacy.fetch(body=body)

    def store(self, *, body: kopf.Body, patch: kopf.Patch, essence: kopf.BodyEssence) -> None:
        """Into status; the old prefix's annotations go."""
        super().store(body=body, patch=patch, essence=essence)
        for key in body.metadata.annotations:
            if key.startswith(f"{KOPF_PREFIX}/"):
                patch.metadata.annotations[key] = None


def connection_info(**kwargs: Any) -> kopf.ConnectionInfo | None:
    """How Kopf and the operator's own client (kube/client.py) reach the API server: Kopf's own readers of the
    ServiceAccount and of the kubeconfig. The kubeconfig reader takes a token, basic auth or a client
    certificate; a kubeconfig that needs an exec plugin (kubelogin, cloud CLIs) works when the `kubernetes`
    package is installed beside the operator, whose loader runs the plugin (docs/configuration.md)."""
    if importlib.util.find_spec("kubernetes") is not None and not os.path.exists(
        os.path.join(SERVICE_ACCOUNT, "token")
    ):
        return kopf.login_via_client(**kwargs)
    return kopf.login_with_service_account(**kwargs) or kopf.login_with_kubeconfig(**kwargs)


def api_connections(cfg: Settings) -> int:
    """How many connections Kopf may hold to the API server: its watch streams (the resources and the Secrets,
    in each watched namespace or cluster-wide) stay open on theirs, and 8 more carry its patches and Events.

    Each TLS connection costs about 300 KiB while open (asyncio's 256 KiB read buffer and OpenSSL's own):
    with 64, a burst of 1,000 creations held 34 of them (8.7 MiB of read buffers, tracemalloc, issue 16);
    eight carry a patch each in a few milliseconds, over a thousand a second."""
    return KOPF_CONNECTIONS + 2 * max(1, len(cfg.namespaces))


def bounded_session(info: kopf.ConnectionInfo, limit: int) -> kopf.AiohttpSession:
    """Kopf's session to the API server as Kopf builds it from `info`, but with at most `limit` connections.

    Kopf's own allows any number: 1,000 resources created at once opened a TLS connection each for Kopf's
    finalizer patches (about 100 KiB of OpenSSL buffers apiece, 110 MiB at N = 1,000, kept in the process's
    RSS afterwards), and the API server answered hundreds of them 429 (issue 16)."""
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=limit, ssl=info.as_ssl_context()),
        middlewares=(secrets_as_metadata,),
        response_class=MetadataListResponse,
        headers=info.as_http_headers(),
        proxy=info.proxy_url,
        trust_env=info.trust_env,
    )
    return kopf.AiohttpSession(
        server=info.server,
        priority=info.priority,
        default_namespace=info.default_namespace,
        expiration=info.expiration,
        aiohttp_session=session,
    )


async def secrets_as_metadata(
    request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
) -> aiohttp.ClientResponse:
    """Kopf's list and watch of Secrets asked for metadata only (PartialObjectMetadata): the Secret watch
    needs each Secret's name and version, never its data, which a pass reads for the Secrets it uses.

    With whole Secrets, every Secret in the watched namespaces (Helm's release Secrets among them, up to 1 MiB
    each) went through the operator's memory at each start and change; at N = 1,000, Kopf held 1,750 of them
    at once after a restart (issue 16). Kopf's own requests for a single Secret would be untouched (it makes
    none: the operator never writes to a Secret)."""
    if request.method == "GET" and SECRET_LIST.search(request.url.path):
        kind = (
            "PartialObjectMetadata"
            if request.url.query.get("watch") == "true"
            else "PartialObjectMetadataList"
        )
        # A server or proxy that does not know `as=` answers whole Secrets, which the watch handles the same.
        request.headers[aiohttp.hdrs.ACCEPT] = metadata_only(kind)
    return await handler(request)


class MetadataListResponse(aiohttp.ClientResponse):
    """An aiohttp response whose JSON has `items: []` where the API server says `items: null` (it does for an
    empty PartialObjectMetadataList, kube-apiserver v1.36, which Kopf's listing cannot iterate), and whose
    listed items have no managedFields: a chunk of Kopf's listing is held whole while its objects are handed
    on, and managedFields were half of each (serving.install_watch drops them from what it hands on)."""

    async def json(self, *args: Any, **kwargs: Any) -> Any:
        """The body's JSON, an empty metadata list's items as a list, items without managedFields."""
        data = await super().json(*args, **kwargs)
        if not isinstance(data, dict):
            return data
        if data.get("kind") == "PartialObjectMetadataList" and data.get("items") is None:
            data["items"] = []
        for item in data.get("items") or ():
            drop_managed_fields(item)
        return data


def endpoint(info: kopf.ConnectionInfo) -> Endpoint:
    """The operator's own client's view of Kopf's connection info."""
    return Endpoint(server=info.server, tls=info.as_ssl_context(), headers=info.as_http_headers())


def configure(settings: kopf.OperatorSettings, cfg: Settings) -> None:
    """Kopf's settings for this operator."""
    settings.persistence.finalizer = FINALIZER
    # Kopf's own records live in status.kopf, so a pass's status and Kopf's bookkeeping are one status patch;
    # in annotations they were a second patch of the resource on every handled change (issue 16).
    settings.persistence.progress_storage = kopf.StatusProgressStorage(name=KOPF_STATUS)
    settings.persistence.diffbase_storage = StatusDiffBase()
    # Kopf's worker limit stays unbounded (its default): a worker holds its place through a retry's delay and
    # its idle time, first come first served. Processing is bounded by admission.py (cfg.workers, fair).
    settings.queueing.worker_limit = None
    # An object's worker ends 0.5 s after its last event (Kopf's default: 5 s). Restarting at N = 2,000, the
    # workers idling for 5 s after their pass held 25 MiB more at the peak (110.8 vs 136.1 MiB, issue 16); a
    # new event of an idle object only starts a new worker.
    settings.queueing.idle_timeout = WORKER_IDLE_SECONDS
    settings.posting.level = logging.WARNING
    # Events say who wrote them ("From" in kubectl describe; Kopf's default is "kopf").
    settings.posting.reporting_component = "wsconn-operator"
    settings.posting.reporting_instance = socket.gethostname()
    # The initial listing (every resource and every watched Secret, at each start) comes in chunks: one LIST of
    # 10,000 resources is tens of MiB of JSON parsed at once, and the peak stays in the process's RSS.
    settings.watching.chunk_size = LIST_CHUNK
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.peering.standalone = not cfg.peering
    if cfg.peering:
        settings.peering.name = cfg.peering
        settings.peering.mandatory = True
        settings.peering.clusterwide = not cfg.namespaces
    # No CRD permissions: what is served follows discovery instead (serving.py).
    settings.scanning.disabled = True
    settings.networking.error_backoffs = (1, 2, 4, 8, 15, 30)
    if cfg.secret_selector:
        # Least exposure: Secrets outside --secret-selector may not be used, so the API server filters them
        # out of the Secret watch and their data never reaches the operator (core/selectors.py checks again).
        settings.watching.label_selectors["v1", "secrets"] = cfg.secret_selector
    # On SIGTERM, let passes in flight finish (a PUT is idempotent, so one cut short is only repeated).
    settings.queueing.exit_timeout = cfg.shutdown_timeout


def register(
    registry: kopf.OperatorRegistry, cfg: Settings, build: Any, index: WatchIndex | None = None
) -> Serving:
    """Register every handler on `registry`; `build(settings, memo)` makes the reconciler at start-up; `index`
    (a new one by default) follows the watch streams. Returns what Kopf serves, for
    `kopf.run(insights=...)`."""
    serving = Serving(registry)
    tracker = ReadyTracker()
    index = index if index is not None else WatchIndex(cfg.namespaces)
    gate = admission.Admission(index.ready, scope_of, room=ADMISSION_ROOM)
    admission.install(gate)
    install_watch(Hooks(index, admission.pack, gate))
    _register_lifecycle(registry, cfg, build, serving=serving, tracker=tracker, index=index, gate=gate)
    _register_ownership(registry, index)
    _register_resource(registry, tracker, index)
    _register_secret_watch(registry, index)
    return serving


def _register_lifecycle(
    registry: kopf.OperatorRegistry,
    cfg: Settings,
    build: Any,
    *,
    serving: Serving,
    tracker: ReadyTracker,
    index: WatchIndex,
    gate: admission.Admission,
) -> None:
    @kopf.on.login(id="login", registry=registry)
    async def login(**kwargs: Any) -> kopf.AiohttpSession | None:
        """The ServiceAccount in a Pod, else the kubeconfig (KUBECONFIG or ~/.kube/config), over a session with
        a bounded number of connections."""
        info = connection_info(**kwargs)
        return None if info is None else bounded_session(info, api_connections(cfg))

    @kopf.on.startup(id="startup", registry=registry)
    async def startup(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
        configure(settings, cfg)
        await build(settings, memo)
        gate.bind(memo.reconciler.slots)
        memo.timers = timed_passes(cfg, memo, tracker, index)
        memo.timers.start()
        memo.observer = asyncio.create_task(serving.observe(settings), name="wsconn discovery observer")

    @kopf.on.cleanup(id="cleanup", registry=registry)
    async def cleanup(memo: kopf.Memo, **_: Any) -> None:
        await memo.timers.stop()
        memo.observer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await memo.observer
        await memo.shutdown()

    @kopf.on.probe(id="reconciles", registry=registry)
    async def reconciles(memo: kopf.Memo, **_: Any) -> dict[str, float]:
        """Liveness: fails when a reconcile pass has run far longer than any healthy one can (a hang)."""
        oldest = memo.reconciler.oldest_pass_seconds() if hasattr(memo, "reconciler") else 0.0
        if oldest > STUCK_AFTER_SECONDS:
            raise kopf.PermanentError(f"a reconcile pass has been running for {oldest:.0f}s")
        return {"oldest_pass_seconds": round(oldest, 1)}


def timed_passes(cfg: Settings, memo: kopf.Memo, tracker: ReadyTracker, index: WatchIndex) -> Timers:
    """The drift checks and grace ends of every watched resource (timers.py), run with the memo's reconciler
    and clients and `index`'s claims: a timed pass reports its status and Events itself, since no Kopf handler
    runs it."""

    async def drift(view: ObjectView) -> None:
        obj = replace(view, claimants=claimants_for(view.spec, view.name, index.claims))
        try:
            result = await memo.reconciler.reconcile(obj, log=ref_logger(obj.namespace, obj.name))
        except ReconcilerClosed:
            return
        if result.patch:
            await memo.status_writer.patch_status(obj.ref, result.patch)
        _record(obj, result, tracker)
        for event in result.events:
            await memo.events.post(
                obj.ref, obj.uid, type=event.type, reason=event.reason, message=event.message
            )
        if result.retry_after is not None:
            # Timed checks run only for Ready resources, so a failed check is handed to the change handler,
            # which owns retries and their backoff: the same trigger a Secret change uses.
            await memo.trigger(obj.ref, f"drift-retry@{format_time(utcnow())}")

    async def grace_ended(view: ObjectView) -> None:
        # The change handler's pass then says Stalled; it does not retry during the grace itself, since a retry
        # delay would hold back the pass the Secret's arrival starts.
        await memo.trigger(view.ref, f"grace-ended@{format_time(utcnow())}")

    return Timers(
        drift_tick=max(1.0, min(60.0, cfg.drift_interval / 4)) if cfg.drift_interval > 0 else None,
        drift_due=memo.reconciler.drift_check_due,
        drift=drift,
        grace_tick=grace.tick(cfg.missing_secret_grace),
        grace_over=memo.reconciler.grace_over,
        grace_ended=grace_ended,
    )


def _register_resource(registry: kopf.OperatorRegistry, tracker: ReadyTracker, index: WatchIndex) -> None:
    @kopf.on.resume(*RESOURCE, id="reconcile", registry=registry)
    @kopf.on.create(*RESOURCE, id="reconcile", registry=registry)
    @kopf.on.update(*RESOURCE, id="reconcile", registry=registry)
    async def reconcile(
        body: kopf.Body, patch: kopf.Patch, retry: int, logger: Any, memo: kopf.Memo, **_: Any
    ) -> None:
        """Level-based reconcile for every change of the resource (spec, annotations) and on resume."""
        obj = claimed_view(body, index.claims)
        try:
            result = await memo.reconciler.reconcile(
                obj, log=object_logger(logger), retry=retry, admitted=admission.held()
            )
        except ReconcilerClosed:
            return
        finally:
            admission.release()  # Kopf's patch and a retry's delay follow: not in a worker slot
        _report(body, obj, patch, result, tracker)
        if result.retry_after is not None:
            raise kopf.TemporaryError(result.outcome.message, delay=result.retry_after)

    @kopf.on.delete(*RESOURCE, id="delete", registry=registry)
    async def delete(
        body: kopf.Body, patch: kopf.Patch, retry: int, logger: Any, memo: kopf.Memo, **_: Any
    ) -> None:
        """Delete in Azure (or orphan) before the finalizer goes; a failure keeps it and says why. A resource
        that does not own its connection lets go without touching Azure."""
        obj = claimed_view(body, index.claims)
        try:
            result = await memo.reconciler.delete(
                obj, log=object_logger(logger), retry=retry, admitted=admission.held()
            )
        except ReconcilerClosed:
            raise kopf.TemporaryError("the operator is stopping", delay=1) from None
        finally:
            admission.release()
        if result.done:
            tracker.drop(obj.uid)
            forget_conditions(obj.namespace, obj.name)
            return
        if result.patch:
            patch.status.update(result.patch)
        kopf.warn(body, reason="DeleteFailed", message=result.message)
        raise kopf.TemporaryError(result.message, delay=result.retry_after or 0.0)


def _register_ownership(registry: kopf.OperatorRegistry, index: WatchIndex) -> None:
    @kopf.on.event(*RESOURCE, id="watched", registry=registry)
    async def watched(*, type: str, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
        """Every event of a resource: the timed passes keep its latest view; when it is gone (its finalizer
        released), the next in line for its connection, if any, takes over at once. The index has already
        dropped it when this runs (watchindex.py: it follows the watch stream as it is read)."""
        if type != "DELETED":
            memo.timers.seen(body)
            return
        memo.timers.forget(str(body.metadata.uid))
        successor = ownership.owner(claimants_of(body, index.claims))
        if successor is not None:
            marker = f"owner-gone@{format_time(utcnow())}"
            await memo.trigger(ObjectRef(successor.namespace, successor.name), marker)


def _register_secret_watch(registry: kopf.OperatorRegistry, index: WatchIndex) -> None:
    @kopf.on.event("v1", "secrets", id="secret_event", registry=registry)
    async def secret_event(
        *,
        type: str,
        name: str,
        namespace: str | None,
        meta: Any,
        memo: kopf.Memo,
        **_: Any,
    ) -> None:
        """Re-reconcile the resources that use a Secret that appeared, changed or went away."""
        secret = SecretRef(namespace or "", name)
        current = None if type == "DELETED" else str(meta.get("resourceVersion") or "")
        memo.seen_secrets.changed(secret, version=current)
        version = "deleted" if current is None else current
        users: tuple[SecretUser, ...] = index.secret_users.get(secret, ())
        for resource, marker in secret_markers(users, secret, version, listing=type is None):
            log.info(
                "Secret %s is at version %s: re-reconciling %s/%s",
                secret,
                version,
                secret.namespace,
                resource,
            )
            await memo.trigger(ObjectRef(secret.namespace, resource), marker)
            SECRET_TRIGGERS.inc()


def _report(
    body: kopf.Body, obj: ObjectView, patch: kopf.Patch, result: Result, tracker: ReadyTracker
) -> None:
    patch.status.update(result.patch)
    _record(obj, result, tracker)
    for event in result.events:
        kopf.event(body, type=event.type, reason=event.reason, message=event.message)


def _record(obj: ObjectView, result: Result, tracker: ReadyTracker) -> None:
    """A pass's outcome in the metrics."""
    RECONCILES.labels(result.outcome.state, result.outcome.reason.name).inc()
    tracker.set(obj.uid, "True" if result.outcome.state == "ready" else "False")
    record_conditions(obj.namespace, obj.name, [c.to_raw() for c in result.status.conditions])


class Trigger:
    """Patches the trigger annotation onto a resource."""

    def __init__(self, kube: KubeClient) -> None:
        self._kube = kube

    async def __call__(self, ref: ObjectRef, marker: str) -> None:
        body = {"metadata": {"annotations": {TRIGGER_ANNOTATION: marker}}}
        try:
            # A resource gone meanwhile answers 404, which the client reads as None: nothing to trigger.
            await self._kube.request("PATCH", resource_path(ref), body=body, content_type=MERGE_PATCH)
        except KubeError as exc:
            log.warning("could not trigger %s: %s", ref, exc)
