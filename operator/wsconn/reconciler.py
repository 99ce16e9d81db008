"""The reconcile shell: read the spec and its Secrets, decide with the pure core, act on ARM, report.

One entry point, `Reconciler.reconcile`, serves create, update, resume, Secret changes and the drift timer;
deletion is the only other path. Passes for one object never overlap (a lock per object: Kopf runs timers
beside change handlers), and each pass starts from the freshest status this process knows, so a timer
holding an older snapshot cannot repeat a PUT that a change handler just made. At most `workers` passes run
at once (a semaphore here, not Kopf's worker limit: see handlers.configure).

Secret values exist only inside a pass: in `Resolved`, in the body handed to the ARM client, and in the list
used to scrub them out of any message ARM sends back.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import random
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from wsconn.api.spec import ConnectionSpec, InvalidSpecError, LiteralValue, parse_spec
from wsconn.arm.client import ArmClient
from wsconn.arm.errors import ArmCredentialError, ArmError, ArmTransportError
from wsconn.core import classify
from wsconn.core.bodies import build_body, desired_properties, public_body
from wsconn.core.conditions import Outcome, State, build_conditions, ready_condition
from wsconn.core.credentials import CredentialError, Resolved, resolve
from wsconn.core.drift import credential_differences, differences
from wsconn.core.fingerprint import carried_over, fingerprint
from wsconn.core.ids import connection_id
from wsconn.core.plan import Action, Applied, drift_due, plan
from wsconn.core.schema import BodyInvalidError, validate_body
from wsconn.kube.secrets import SecretReader, SecretReadError
from wsconn.logs import Log, log_context, with_correlation

READY_MESSAGE = "connection {name} in workspace {workspace} matches the spec"
STATUS_FIELDS = (
    "observedGeneration",
    "conditions",
    "id",
    "group",
    "azureApiVersion",
    "appliedFingerprint",
    "rejectedFingerprint",
    "secretVersions",
    "lastAppliedTime",
    "lastCheckedTime",
)
REDACTED = "<redacted>"
MIN_SCRUB_LENGTH = 4


def utcnow() -> dt.datetime:
    """Now, in UTC, to the second (status times are RFC 3339 seconds)."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def format_time(moment: dt.datetime) -> str:
    """RFC 3339 with a Z."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: Any) -> dt.datetime | None:
    """A status time back into a datetime (None when absent or malformed)."""
    if not isinstance(value, str):
        return None
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


@dataclass(frozen=True)
class ReconcileConfig:
    """The reconcile-relevant settings."""

    default_api_version: str
    drift_interval: float
    drift_jitter: float = 0.1
    deep_drift_check: bool = False


@dataclass(frozen=True)
class ObjectView:
    """What a pass needs of the WorkspaceConnection object."""

    namespace: str
    name: str
    uid: str
    generation: int
    spec: Mapping[str, Any]
    status: Mapping[str, Any]

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> ObjectView:
        """Build from a Kopf body (or any dict shaped like the object)."""
        meta = body.get("metadata", {})
        return cls(
            namespace=str(meta.get("namespace", "")),
            name=str(meta.get("name", "")),
            uid=str(meta.get("uid", "")),
            generation=int(meta.get("generation") or 0),
            spec=dict(body.get("spec") or {}),
            status=dict(body.get("status") or {}),
        )


@dataclass(frozen=True)
class Event:
    """A Kubernetes Event to post on the object."""

    type: Literal["Normal", "Warning"]
    reason: str
    message: str


@dataclass(frozen=True)
class Result:
    """The end of a pass: the status to store, and when to come back (None: on the next change)."""

    status: dict[str, Any]
    outcome: Outcome
    retry_after: float | None = None
    events: tuple[Event, ...] = ()
    arm_writes: int = 0


@dataclass(frozen=True)
class DeleteResult:
    """The end of a deletion pass: done (finalizer may go) or not, with the status to show meanwhile."""

    done: bool
    status: dict[str, Any] | None = None
    retry_after: float | None = None
    message: str = ""


@dataclass
class _Pass:
    """State of one pass, so that every exit builds its Result the same way."""

    obj: ObjectView
    status: dict[str, Any]
    now: dt.datetime
    retry: int
    events: list[Event] = field(default_factory=list)
    secret_values: list[str] = field(default_factory=list)

    def finish(self, outcome: Outcome, retry_after: float | None = None, *, arm_writes: int = 0) -> Result:
        message = scrub(outcome.message, self.secret_values)
        outcome = Outcome(outcome.state, outcome.reason, message)
        previous = self.obj.status.get("conditions") or []
        self.status["observedGeneration"] = self.obj.generation
        self.status["conditions"] = build_conditions(
            outcome, generation=self.obj.generation, previous=previous, now=format_time(self.now)
        )
        before = ready_condition(previous)
        if before is None or (before.get("status"), before.get("reason")) != (
            "True" if outcome.state == "ready" else "False",
            outcome.reason,
        ):
            kind: Literal["Normal", "Warning"] = "Normal" if outcome.state == "ready" else "Warning"
            self.events.append(Event(kind, outcome.reason, message))
        return Result(
            status=self.status,
            outcome=outcome,
            retry_after=retry_after,
            events=tuple(self.events),
            arm_writes=arm_writes,
        )

    def failed(self, verdict: classify.Verdict, message: str, retry_after: float | None = None) -> Result:
        delay = verdict.retry_after
        if verdict.state == "progressing":
            delay = max(retry_after or 0.0, verdict.retry_after or jittered(classify.backoff(self.retry)))
        return self.finish(Outcome(verdict.state, verdict.reason, message), delay)


def jittered(seconds: float) -> float:
    """Full-ish jitter: between half and all of `seconds`, so retries of many objects spread out."""
    return seconds * (0.5 + random.random() / 2)  # noqa: S311 - jitter, not security


def scrub(text: str, values: Iterable[str]) -> str:
    """Replace every secret value found in `text` (ARM may echo a body in an error)."""
    for value in sorted(set(values), key=len, reverse=True):
        if len(value) >= MIN_SCRUB_LENGTH and value in text:
            text = text.replace(value, REDACTED)
    return text


class Reconciler:
    """Reconciles WorkspaceConnections against ARM."""

    def __init__(
        self,
        *,
        arm: ArmClient,
        secrets: SecretReader,
        config: ReconcileConfig,
        workers: int,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self._arm = arm
        self._slots = asyncio.Semaphore(workers)
        self._secrets = secrets
        self._config = config
        self._clock = clock
        self._locks: dict[str, asyncio.Lock] = {}
        self._latest: dict[str, dict[str, Any]] = {}
        self._in_flight: dict[int, float] = {}

    def oldest_pass_seconds(self) -> float:
        """How long the oldest pass still running has been running (0 when none): the liveness signal."""
        if not self._in_flight:
            return 0.0
        return time.monotonic() - min(self._in_flight.values())

    def _lock(self, uid: str) -> asyncio.Lock:
        return self._locks.setdefault(uid, asyncio.Lock())

    @contextlib.asynccontextmanager
    async def _running(self, uid: str) -> AsyncIterator[None]:
        """The object's lock, then a worker slot; the liveness clock starts only once the pass runs, so
        passes queued behind a busy operator do not look wedged."""
        async with self._lock(uid), self._slots:
            token = id(asyncio.current_task())
            self._in_flight[token] = time.monotonic()
            try:
                yield
            finally:
                self._in_flight.pop(token, None)

    def forget(self, uid: str) -> None:
        """Drop what is remembered of a deleted object."""
        self._locks.pop(uid, None)
        self._latest.pop(uid, None)

    def drift_check_due(self, obj: ObjectView) -> bool:
        """Whether the drift timer should run a pass now (cheap: no I/O)."""
        status = self._latest.get(obj.uid) or obj.status
        return drift_due(
            last_checked=parse_time(status.get("lastCheckedTime")),
            now=self._clock(),
            interval=self._config.drift_interval,
            jitter=self._config.drift_jitter,
            key=obj.uid,
        )

    async def reconcile(self, obj: ObjectView, *, log: Log, retry: int = 0) -> Result:
        """One level-based pass for `obj`."""
        async with self._running(obj.uid):
            status = dict(self._latest.get(obj.uid) or obj.status)
            current = ObjectView(obj.namespace, obj.name, obj.uid, obj.generation, obj.spec, status)
            state = _Pass(
                current, {k: v for k, v in status.items() if k in STATUS_FIELDS}, self._clock(), retry
            )
            correlation_id = str(uuid.uuid4())
            with log_context(resource=f"{obj.namespace}/{obj.name}", correlation_id=correlation_id):
                result = await self._pass(state, correlation_id, with_correlation(log, correlation_id))
            self._latest[obj.uid] = result.status
            return result

    async def _pass(self, p: _Pass, correlation_id: str, log: Log) -> Result:
        prepared = await self._prepare(p, log)
        if isinstance(prepared, Result):
            return prepared
        spec, resolved, body, desired = prepared
        action = plan(
            desired=desired,
            applied=Applied(
                fingerprint=p.status.get("appliedFingerprint"),
                rejected_fingerprint=p.status.get("rejectedFingerprint"),
                last_checked=parse_time(p.status.get("lastCheckedTime")),
            ),
            drift_due=drift_due(
                last_checked=parse_time(p.status.get("lastCheckedTime")),
                now=p.now,
                interval=self._config.drift_interval,
                jitter=self._config.drift_jitter,
                key=p.obj.uid,
            ),
        )
        ready = Outcome(
            "ready",
            "Succeeded",
            READY_MESSAGE.format(name=spec.connection_name, workspace=spec.workspace.name),
        )
        if action is Action.KEEP_REJECTED:
            before = ready_condition(p.obj.status.get("conditions")) or {}
            return p.finish(
                Outcome(
                    "stalled",
                    str(before.get("reason") or "AzureRejected"),
                    str(before.get("message") or "Azure rejected this spec"),
                )
            )
        if action is Action.NOOP:
            return p.finish(ready)
        resource_id = p.status["id"]
        try:
            if action is Action.CHECK:
                why = await self._drift(spec, resource_id, body, p, correlation_id)
                if why is None:
                    return p.finish(ready)
                log.info("re-applying: %s", why)
                p.events.append(Event("Normal", "DriftCorrected", why))
            response = await self._arm.put(resource_id, spec.api_version, body, correlation_id=correlation_id)
        except ArmError as exc:
            verdict = classify.classify_status(exc.status, exc.code)
            if action is Action.PUT and verdict.state == "stalled" and verdict.retry_after is None:
                p.status["rejectedFingerprint"] = desired
            return p.failed(verdict, _describe(exc), exc.retry_after)
        except ArmTransportError as exc:
            return p.failed(classify.classify_transport(), str(exc))
        except ArmCredentialError as exc:
            return p.failed(classify.classify_credential_failure(str(exc)), f"no Azure token: {exc}")
        log.info("applied connection %s (api-version %s)", resource_id, spec.api_version)
        p.events.append(
            Event("Normal", "Applied", f"PUT {spec.connection_name} (api-version {spec.api_version})")
        )
        now = format_time(p.now)
        p.status.update(
            appliedFingerprint=desired,
            secretVersions=dict(sorted(resolved.versions.items())),
            lastAppliedTime=now,
            lastCheckedTime=now,
        )
        p.status.pop("rejectedFingerprint", None)
        group = (response.get("properties") or {}).get("group")
        if group:
            p.status["group"] = group
        return p.finish(ready, arm_writes=1)

    async def _prepare(
        self, p: _Pass, log: Log
    ) -> Result | tuple[ConnectionSpec, Resolved, dict[str, Any], str]:
        """Spec, credentials, body and fingerprint; or the Result that ends the pass early."""
        try:
            spec = parse_spec(
                p.obj.spec, metadata_name=p.obj.name, default_api_version=self._config.default_api_version
            )
        except InvalidSpecError as exc:
            log.warning("invalid spec: %s", exc)
            return p.finish(Outcome("stalled", "InvalidSpec", str(exc)))
        resource_id = connection_id(spec)
        p.status["id"] = resource_id
        p.status["azureApiVersion"] = spec.api_version
        try:
            resolved = resolve(spec, await self._secrets.fetch(p.obj.namespace, spec.secret_names()))
        except CredentialError as exc:
            log.warning("credentials unavailable: %s", exc)
            return p.finish(Outcome("stalled", exc.reason, str(exc)))
        except SecretReadError as exc:
            if exc.status == 403:
                return p.finish(
                    Outcome("stalled", "SecretAccessDenied", str(exc)), classify.SLOW_RETRY_SECONDS
                )
            return p.failed(classify.Verdict("progressing", "KubernetesUnavailable", None), str(exc))
        p.secret_values = _secret_values(spec, resolved)
        body = build_body(spec, resolved.values, resolved.custom_keys)
        try:
            validate_body(body, spec.api_version)
        except BodyInvalidError as exc:
            return p.finish(
                Outcome(
                    "stalled", "InvalidSpec", f"the ARM request body would be invalid: {exc.in_spec_terms()}"
                )
            )
        public = public_body(spec)
        desired = fingerprint(
            resource_id=resource_id,
            api_version=spec.api_version,
            public_body=public,
            secret_versions=resolved.versions,
        )
        applied_version = p.obj.status.get("azureApiVersion")
        if carried_over(
            p.status.get("appliedFingerprint"),
            desired=desired,
            resource_id=resource_id,
            public_body=public,
            secret_versions=resolved.versions,
            applied_api_version=applied_version,
        ):
            log.info(
                "same body as applied with api-version %s: now %s, nothing to write",
                applied_version,
                spec.api_version,
            )
            p.status["appliedFingerprint"] = desired
        return spec, resolved, body, desired

    async def _drift(
        self, spec: ConnectionSpec, resource_id: str, body: dict[str, Any], p: _Pass, correlation_id: str
    ) -> str | None:
        """Why the connection must be re-applied, or None after recording a clean check."""
        observed = await self._arm.get(resource_id, spec.api_version, correlation_id=correlation_id)
        if observed is None:
            return "the connection is missing in Azure"
        props = observed.get("properties") or {}
        changed = differences(desired_properties(spec), props)
        if changed:
            return f"fields changed in Azure: {', '.join(changed)}"
        if self._config.deep_drift_check and "credentials" in body["properties"]:
            listed = await self._arm.list_secrets(
                resource_id, spec.api_version, correlation_id=correlation_id
            )
            creds = credential_differences(
                body["properties"]["credentials"], (listed.get("properties") or {}).get("credentials")
            )
            if creds:
                return f"credentials changed in Azure: {', '.join(creds)}"
        p.status["lastCheckedTime"] = format_time(p.now)
        if props.get("group"):
            p.status["group"] = props["group"]
        return None

    async def delete(self, obj: ObjectView, *, log: Log, retry: int = 0) -> DeleteResult:
        """Delete the connection in Azure (policy Delete) or leave it (Orphan)."""
        async with self._running(obj.uid):
            with log_context(resource=f"{obj.namespace}/{obj.name}"):
                result = await self._delete(obj, log, retry)
        if result.done:
            self.forget(obj.uid)
        return result

    async def _delete(self, obj: ObjectView, log: Log, retry: int) -> DeleteResult:
        if obj.spec.get("deletionPolicy") == "Orphan":
            log.info("deletionPolicy Orphan: leaving the connection in Azure")
            return DeleteResult(done=True, message="orphaned")
        resource_id, api_version = _delete_target(obj, self._config.default_api_version)
        if resource_id is None:
            return DeleteResult(done=True, message="no connection was ever identified")
        correlation_id = str(uuid.uuid4())
        try:
            with log_context(correlation_id=correlation_id):
                code = await self._arm.delete(resource_id, api_version, correlation_id=correlation_id)
        except (ArmError, ArmTransportError, ArmCredentialError) as exc:
            if isinstance(exc, ArmError):
                verdict = classify.classify_status(exc.status, exc.code)
                detail = _describe(exc)
                delay = exc.retry_after
            else:
                verdict = classify.Verdict("progressing", "AzureUnavailable", None)
                detail = str(exc)
                delay = None
            p = _Pass(obj, {k: v for k, v in obj.status.items() if k in STATUS_FIELDS}, self._clock(), retry)
            state: State = "progressing" if verdict.state == "progressing" else "stalled"
            wait = max(delay or 0.0, verdict.retry_after or jittered(classify.backoff(retry)))
            message = f"deleting {resource_id} failed: {detail}"
            log.warning(message)
            result = p.finish(Outcome(state, "DeleteFailed", message))
            return DeleteResult(done=False, status=result.status, retry_after=wait, message=message)
        log.info("deleted connection %s in Azure (%s)", resource_id, code)
        return DeleteResult(done=True, message=f"deleted ({code})")


def _delete_target(obj: ObjectView, default_api_version: str) -> tuple[str | None, str]:
    """The ARM ID and api-version to delete: from status when applied, else from the spec if it parses."""
    api_version = str(
        obj.status.get("azureApiVersion") or obj.spec.get("azureApiVersion") or default_api_version
    )
    if obj.status.get("id"):
        return str(obj.status["id"]), api_version
    try:
        spec = parse_spec(obj.spec, metadata_name=obj.name, default_api_version=default_api_version)
    except InvalidSpecError:
        return None, api_version
    return connection_id(spec), spec.api_version


def _describe(exc: ArmError) -> str:
    return f"Azure answered {exc.status} {exc.code}: {exc.message} (x-ms-request-id {exc.request_id or '-'})"


def _secret_values(spec: ConnectionSpec, resolved: Resolved) -> list[str]:
    literal = {name for name, source in spec.credentials if isinstance(source, LiteralValue)}
    values = [v for name, v in resolved.values.items() if name not in literal]
    return values + list((resolved.custom_keys or {}).values())
