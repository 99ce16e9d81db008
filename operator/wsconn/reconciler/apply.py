"""The apply pass: read the spec and its Secrets, decide with the pure core, act on ARM, report.

`ApplyPass.run` learns what it can without Secret values (spec, connection, identity); when the Secret watch
has the connection's Secrets at the versions applied, the fingerprint is the applied one and the pass settles
(nothing due, or a clean drift check) without reading a value. Otherwise it prepares (credentials, body,
fingerprint), asks `core.plan` for an action and calls the action's function from `ACTIONS`; every failure on
the way is an exception whose `fault` the one classifier judges. Secret values exist only inside a pass: in
`Resolved`, in the body handed to the ARM client, and in the list used to scrub them out of any message ARM
sends back.

A write that ARM keeps waiting (for a share of the connections, the rate limit, or its answer) for longer
than `applying_after` is reported while it waits, when the status still says Ready: Reconciling, reason
Applying. That costs one status write, and only for a slow write, so a fast pass and a pass at rest write
nothing extra.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Final

from wsconn.api import controls
from wsconn.api import status as status_model
from wsconn.api.spec import ConnectionSpec, InvalidSpecError, LiteralValue, parse_spec
from wsconn.arm.errors import ArmError, ArmFailure, ArmMalformedError
from wsconn.core import classify, grace, ownership, reasons
from wsconn.core.bodies import build_body, desired_properties, public_body
from wsconn.core.conditions import Outcome, kept_rejection
from wsconn.core.credentials import CredentialError, FetchedSecret, Resolved, resolve
from wsconn.core.fingerprint import carried_over, fingerprint
from wsconn.core.identity import (
    CREDENTIAL_KEYS,
    Identity,
    IdentityError,
    credential_secret,
    with_credential_version,
)
from wsconn.core.ids import connection_id
from wsconn.core.plan import (
    Action,
    Adoption,
    Applied,
    adoption,
    after_check,
    contradictions,
    drift_due,
    persist_check,
    plan,
)
from wsconn.core.schema import BodyInvalidError, validate_body
from wsconn.kube.secrets import SecretReadError
from wsconn.logs import Log
from wsconn.reconciler.model import (
    Arm,
    Event,
    Principals,
    ReconcileConfig,
    Result,
    Secrets,
    StatusWriter,
)
from wsconn.reconciler.passing import Pass

READY_MESSAGE: Final = "connection {name} in workspace {workspace} matches the spec"
CONFLICT_MESSAGE: Final = (
    "connection {name} in workspace {workspace} is owned by {owner}; this resource does not write it and its "
    "deletion does not delete it"
)
SKIPPED_MESSAGE: Final = (
    "azureml.dev/reconcile-policy is skip: nothing is sent to Azure and nothing is checked there; remove the "
    "annotation to apply the current spec"
)
EXISTS_MESSAGE: Final = (
    "connection {name} already exists in workspace {workspace} and adoptionPolicy is Refuse: it is left "
    "alone, and deleting this resource does not delete it"
)
APPLYING_MESSAGE: Final = "writing connection {name} to Azure (api-version {version}): waiting for ARM"


@dataclass(frozen=True)
class Ports:
    """What a pass acts through, and the settings it follows."""

    principals: Principals
    secrets: Secrets
    status_writer: StatusWriter
    config: ReconcileConfig


@dataclass(frozen=True)
class Known:
    """What a pass knows before any of the connection's Secret values: the spec, the connection, and who it
    acts as (the identity's Secret, when the namespace has one, read)."""

    spec: ConnectionSpec
    resource_id: str
    identity: Identity
    arm: Arm
    """ARM as `identity`: every call of the pass goes through it."""
    identity_secret: tuple[str, FetchedSecret | None]


@dataclass(frozen=True)
class Prepared(Known):
    """Everything a pass decides and writes with: the credentials resolved, the body, its fingerprint."""

    resolved: Resolved
    body: dict[str, Any]
    desired: str


class ApplyPass:
    """One level-based apply pass."""

    def __init__(self, ports: Ports, state: Pass, *, log: Log, correlation_id: str) -> None:
        self._ports = ports
        self._p = state
        self._log = log
        self._correlation_id = correlation_id
        self._observed: tuple[dict[str, Any] | None] | None = None  # GET's answer, when the pass has it

    async def run(self) -> Result:
        """Know, settle without Secret values where the watch allows, else prepare, plan, act; a fault ends the
        pass with its classified verdict."""
        p = self._p
        if controls.skipped(p.obj.annotations):
            return p.finish(Outcome("skipped", reasons.RECONCILE_SKIPPED, SKIPPED_MESSAGE))
        requested = controls.requested_at(p.obj.annotations)
        fresh_request = requested is not None and requested != p.status.last_handled_reconcile_at
        if fresh_request:
            self._log.info("reconcile requested (%s): a full pass", requested)
            p.status = p.status.replace(last_handled_reconcile_at=requested)
        known = await self._know()
        if isinstance(known, Result):
            return known
        try:
            settled = None if fresh_request else await self._settle(known)
        except ArmFailure as exc:
            return self._p.failed(classify.classify(exc.fault), exc.describe())
        if settled is not None:
            return settled
        prepared = await self._prepare(known)
        if isinstance(prepared, Result):
            return prepared
        action = self._plan(prepared.desired, requested=fresh_request)
        try:
            return await ACTIONS[action](self, prepared)
        except ArmFailure as exc:
            verdict = classify.classify(exc.fault)
            if action in (Action.CREATE, Action.UPDATE) and verdict.retry is classify.Retry.ON_CHANGE:
                self._p.status = self._p.status.replace(rejected_fingerprint=prepared.desired)
            return self._p.failed(verdict, exc.describe())

    def _plan(self, desired: str, *, requested: bool) -> Action:
        p = self._p
        return plan(
            desired=desired,
            applied=Applied(p.status.applied_fingerprint, p.status.rejected_fingerprint),
            drift_due=drift_due(
                last_checked=p.checked,
                now=p.now,
                interval=self._ports.config.drift_interval,
                jitter=self._ports.config.drift_jitter,
                key=p.obj.uid,
            ),
            requested=requested,
        )

    async def _settle(self, known: Known) -> Result | None:
        """The pass at rest, without reading a Secret value: when the Secret watch has the connection's Secrets
        at the versions applied, the fingerprint is the applied one, so nothing is due or a drift check is;
        a clean check ends the pass here. None: the values are needed (a change, a drift to re-apply, the
        deep check, or Secrets the watch does not know), and the pass prepares them."""
        spec, p = known.spec, self._p
        if self._ports.config.deep_drift_check:
            return None
        watched = self._ports.secrets.versions(p.obj.ref.secrets(spec.secret_names()))
        if watched is None:
            return None
        versions = {ref.name: version for ref, version in watched.items()}
        desired = fingerprint(
            resource_id=known.resource_id,
            api_version=spec.api_version,
            public_body=public_body(spec),
            secret_versions=versions,
        )
        action = self._plan(desired, requested=False)
        if action is Action.NOOP:
            return p.finish(_ready(spec))
        if action is not Action.CHECK:
            return None
        observed = await known.arm.get(
            known.resource_id, spec.api_version, correlation_id=self._correlation_id
        )
        if after_check(observed=observed, desired=desired_properties(spec)) is not None:
            self._observed = (observed,)  # the full pass judges it again, without a second GET
            return None
        return self._checked_clean(spec, observed)

    async def _know(self) -> Known | Result:
        """Spec, owner, connection and identity; or the Result that ends the pass early."""
        p = self._p
        try:
            spec = parse_spec(
                p.obj.spec,
                metadata_name=p.obj.name,
                default_api_version=self._ports.config.default_api_version,
            )
        except InvalidSpecError as exc:
            self._log.warning("invalid spec: %s", exc)
            return p.finish(Outcome("stalled", reasons.INVALID_SPEC, str(exc)))
        rival = ownership.rival_owner(p.obj.namespace, p.obj.name, p.obj.claimants)
        if rival is not None:
            return self._conflict(spec, rival)
        resource_id = connection_id(spec)
        p.status = p.status.replace(id=resource_id, azure_api_version=spec.api_version)
        name = credential_secret(spec.azure_credentials)
        ref = p.obj.ref.secret(name)
        try:
            if name in spec.secret_names():  # the body uses it too: every key
                found = (await self._ports.secrets.fetch([ref])).get(ref)
            else:
                found = await self._ports.secrets.credential(ref, CREDENTIAL_KEYS)
        except SecretReadError as exc:
            return p.failed(classify.classify(exc.fault), str(exc))
        chosen = self._identify(spec, found, name)
        if isinstance(chosen, Result):
            return chosen
        identity, arm = chosen
        return Known(spec, resource_id, identity, arm, (name, found))

    async def _prepare(self, known: Known) -> Prepared | Result:
        """Credentials, body and fingerprint; or the Result that ends the pass early."""
        p, spec = self._p, known.spec
        name, found = known.identity_secret
        try:
            fetched = await self._ports.secrets.fetch(p.obj.ref.secrets(spec.secret_names() - {name}))
        except SecretReadError as exc:
            return p.failed(classify.classify(exc.fault), str(exc))
        by_name = {ref.name: secret for ref, secret in fetched.items()}
        if name in spec.secret_names():
            by_name[name] = found
        try:
            resolved = resolve(spec, _selected(by_name, self._ports.config))
        except CredentialError as exc:
            self._log.warning("credentials unavailable: %s", exc)
            ends = grace.grace_ends(
                seen=p.status.observed_generation_time, grace=self._ports.config.missing_secret_grace
            )
            # No retry: the Secret watch runs a pass when it appears, and the grace timer when the grace ends.
            return p.finish(
                grace.missing_secret(
                    reasons.BY_NAME[exc.reason], _selector_said(exc, self._ports.config), ends=ends, now=p.now
                )
            )
        p.secret_values = _secret_values(spec, resolved) + _identity_secrets(known.identity)
        body = build_body(spec, resolved.values, resolved.custom_keys)
        try:
            validate_body(body, spec.api_version)
        except BodyInvalidError as exc:
            message = f"the ARM request body would be invalid: {exc.in_spec_terms()}"
            return p.finish(Outcome("stalled", reasons.INVALID_SPEC, message))
        public = public_body(spec)
        desired = fingerprint(
            resource_id=known.resource_id,
            api_version=spec.api_version,
            public_body=public,
            secret_versions=resolved.versions,
        )
        applied_version = p.start.azure_api_version
        if carried_over(
            p.status.applied_fingerprint,
            desired=desired,
            resource_id=known.resource_id,
            public_body=public,
            secret_versions=resolved.versions,
            applied_api_version=applied_version,
        ):
            self._log.info(
                "same body as applied with api-version %s: now %s, nothing to write",
                applied_version,
                spec.api_version,
            )
            p.status = p.status.replace(applied_fingerprint=desired)
        return Prepared(
            spec, known.resource_id, known.identity, known.arm, known.identity_secret, resolved, body, desired
        )

    def _identify(
        self, spec: ConnectionSpec, found: FetchedSecret | None, secret: str
    ) -> tuple[Identity, Arm] | Result:
        """The pass's identity and ARM as it (core/identity.py decides; arm/principals.py builds), recorded
        in status; or the Result that refuses the pass with nothing sent."""
        p, config = self._p, self._ports.config
        used = spec.secret_names()
        versions = {k: v for k, v in (p.status.secret_versions or {}).items() if k in used | {secret}}
        if secret not in used:  # a Secret the body also uses records the version applied, as before
            versions = with_credential_version(versions, secret, found)
        p.status = p.status.replace(secret_versions=versions or None)
        try:
            identity = config.identity(p.obj.namespace, spec.azure_credentials, found)
        except IdentityError as exc:
            self._log.warning("no Azure identity: %s", exc)
            p.status = p.status.replace(azure_identity=None)
            return p.finish(Outcome("stalled", exc.reason, str(exc)))
        p.status = p.status.replace(azure_identity=identity.to_status())
        try:
            return identity, self._ports.principals.arm(identity)
        except ArmFailure as exc:
            return p.failed(classify.classify(exc.fault), exc.describe())

    def _conflict(self, spec: ConnectionSpec, rival: ownership.Claimant) -> Result:
        """Another resource owns the connection: write nothing. What this one applied before (two resources
        that both wrote it, before ownership) is forgotten, so that taking over later writes it afresh."""
        p = self._p
        p.status = p.status.replace(applied_fingerprint=None, rejected_fingerprint=None, secret_versions=None)
        message = CONFLICT_MESSAGE.format(
            name=spec.connection_name, workspace=spec.workspace.name, owner=rival.ref
        )
        return p.finish(Outcome("stalled", reasons.CONNECTION_CONFLICT, message))

    async def _noop(self, prepared: Prepared) -> Result:
        return self._p.finish(_ready(prepared.spec))

    async def _keep_rejected(self, prepared: Prepared) -> Result:
        return self._p.finish(kept_rejection(self._p.start.ready))

    async def _create(self, prepared: Prepared) -> Result:
        """Nothing applied yet: learn whether the connection exists (one GET), then write it, adopt it, or (with
        adoptionPolicy Refuse) leave an existing one alone."""
        spec = prepared.spec
        found = await prepared.arm.get(
            prepared.resource_id, spec.api_version, correlation_id=self._correlation_id
        )
        decision = adoption(exists=found is not None, policy=spec.adoption_policy)
        if decision is Adoption.REFUSE:
            message = EXISTS_MESSAGE.format(name=spec.connection_name, workspace=spec.workspace.name)
            return self._p.finish(Outcome("stalled", reasons.ALREADY_EXISTS, message))
        if decision is Adoption.ADOPT and found is not None:
            why = await self._adoption_difference(prepared, found)
            if why is None:
                return self._adopt_as_is(prepared, found)
            self._log.info("adopting connection %s with a write: %s", prepared.resource_id, why)
        return await self._write(prepared, adopting=decision is Adoption.ADOPT)

    async def _adoption_difference(self, prepared: Prepared, found: dict[str, Any]) -> str | None:
        """Why adopting `found` needs a PUT, or None when Azure already holds exactly what the spec asks for:
        what GET shows compared as a drift check does, and the credentials through listsecrets (compared in
        memory, never kept), so that adopting an imported connection writes nothing."""
        spec = prepared.spec
        if spec.value is not None or spec.value_format is not None:
            return "value and valueFormat are write-only (ARM never returns them)"
        desired = desired_properties(spec)
        why = after_check(observed=found, desired=desired)
        sent = prepared.body["properties"].get("credentials")
        if why is not None or sent is None:
            return why
        try:
            listed = await prepared.arm.list_secrets(
                prepared.resource_id, spec.api_version, correlation_id=self._correlation_id
            )
        except ArmError as exc:
            if exc.status != 403:
                raise
            return "the credentials in Azure cannot be read to compare (listsecrets answered 403)"
        listed_credentials = (listed.get("properties") or {}).get("credentials")
        return after_check(observed=found, desired=desired, credentials=(sent, listed_credentials))

    def _adopt_as_is(self, prepared: Prepared, found: dict[str, Any]) -> Result:
        """Take over a connection that already matches the spec, credentials included, without a write."""
        spec, p = prepared.spec, self._p
        self._log.info("adopted connection %s as it is in Azure: nothing to write", prepared.resource_id)
        p.events.append(
            Event(
                "Normal",
                "Adopted",
                f"connection {spec.connection_name} existed in Azure as the spec says: taken over without a write",
            )
        )
        p.status = p.status.replace(adopted=True)
        return self._record_applied(prepared, found, written=False)

    def _record_applied(self, prepared: Prepared, answer: dict[str, Any], *, written: bool) -> Result:
        """Azure holds the spec (written now, or found so): status records it and the pass is Ready."""
        p = self._p
        p.checked = p.now
        p.status = p.status.replace(
            applied_fingerprint=prepared.desired,
            rejected_fingerprint=None,
            secret_versions={**(p.status.secret_versions or {}), **prepared.resolved.versions} or None,
            last_checked_time=p.now,
            group=_group(answer, p.status.group),
        )
        if written:
            p.status = p.status.replace(last_applied_time=p.now)
        return p.finish(_ready(prepared.spec))

    async def _write(self, prepared: Prepared, *, adopting: bool = False) -> Result:
        """PUT the body; accept the answer only if it is the connection that was written."""
        spec, p = prepared.spec, self._p
        answer = await self._reporting_wait(
            prepared.arm.put(
                prepared.resource_id, spec.api_version, prepared.body, correlation_id=self._correlation_id
            ),
            spec,
        )
        wrong = contradictions(
            resource_id=prepared.resource_id, desired=desired_properties(spec), answer=answer
        )
        if wrong:
            raise ArmMalformedError(
                f"Azure answered the PUT with a connection that differs from the one written in: "
                f"{', '.join(wrong)}"
            )
        self._log.info("applied connection %s (api-version %s)", prepared.resource_id, spec.api_version)
        if p.start.applied_fingerprint is not None:
            # A rewrite (new spec or Secret, drift) is news; a first write is said by Ready becoming True.
            p.events.append(
                Event("Normal", "Applied", f"PUT {spec.connection_name} (api-version {spec.api_version})")
            )
        if adopting:
            self._log.info("adopted connection %s, which existed in Azure", prepared.resource_id)
            p.events.append(
                Event(
                    "Normal",
                    "Adopted",
                    f"connection {spec.connection_name} existed in Azure: taken over, the spec written "
                    f"(PUT, api-version {spec.api_version})",
                )
            )
            p.status = p.status.replace(adopted=True)
        return self._record_applied(prepared, answer, written=True)

    async def _check(self, prepared: Prepared) -> Result:
        """GET (and, when asked, listsecrets): record a clean check, or re-apply what drifted.

        A clean check is remembered in memory (`Pass.checked`) and written to status.lastCheckedTime only when
        the persisted time is `checked_time_interval` old: so a resource at rest costs no Kubernetes writes
        between those, where writing every check cost N/interval etcd writes per second for nothing."""
        spec, p, arm = prepared.spec, self._p, prepared.arm
        if self._observed is not None:
            (observed,) = self._observed
        else:
            observed = await arm.get(
                prepared.resource_id, spec.api_version, correlation_id=self._correlation_id
            )
        desired = desired_properties(spec)
        why = after_check(observed=observed, desired=desired)
        sent = prepared.body["properties"].get("credentials")
        if why is None and self._ports.config.deep_drift_check and sent is not None:
            listed = await arm.list_secrets(
                prepared.resource_id, spec.api_version, correlation_id=self._correlation_id
            )
            listed_creds = (listed.get("properties") or {}).get("credentials")
            why = after_check(observed=observed, desired=desired, credentials=(sent, listed_creds))
        if why is not None:
            self._log.info("re-applying: %s", why)
            p.events.append(Event("Normal", "DriftCorrected", why))
            return await self._write(prepared)
        return self._checked_clean(spec, observed)

    def _checked_clean(self, spec: ConnectionSpec, observed: dict[str, Any] | None) -> Result:
        """Azure matches the spec: the check is remembered, and persisted only when the stored time is old."""
        p = self._p
        p.checked = p.now
        persisted = p.status.last_checked_time
        if persist_check(persisted=persisted, now=p.now, interval=self._ports.config.checked_time_interval):
            persisted = p.now
        p.status = p.status.replace(last_checked_time=persisted, group=_group(observed, p.status.group))
        return p.finish(_ready(spec))

    async def _reporting_wait(
        self, write: Coroutine[Any, Any, dict[str, Any]], spec: ConnectionSpec
    ) -> dict[str, Any]:
        """Await a write; if it is kept waiting while status still claims Ready, say so in status first."""
        task = asyncio.ensure_future(write)
        try:
            done, _ = await asyncio.wait({task}, timeout=self._ports.config.applying_after)
            ready = self._p.start.ready
            if not done and ready is not None and ready.status == "True":
                await self._report_applying(spec)
            return await task
        except BaseException:
            task.cancel()
            raise

    async def _report_applying(self, spec: ConnectionSpec) -> None:
        p = self._p
        message = APPLYING_MESSAGE.format(name=spec.connection_name, version=spec.api_version)
        interim = p.conditions_for(Outcome("progressing", reasons.APPLYING, message))
        change = status_model.patch(p.base, interim)
        try:
            await self._ports.status_writer.patch_status(p.obj.ref, change)
        except Exception as exc:  # best effort: the pass's own result follows anyway
            self._log.warning("could not report the pending write in status: %s", exc)
            return
        p.status = interim
        p.wrote(interim.to_raw())


ACTIONS: Final[dict[Action, Callable[[ApplyPass, Prepared], Awaitable[Result]]]] = {
    Action.CREATE: ApplyPass._create,
    Action.UPDATE: ApplyPass._write,
    Action.CHECK: ApplyPass._check,
    Action.NOOP: ApplyPass._noop,
    Action.KEEP_REJECTED: ApplyPass._keep_rejected,
}


def _group(answer: dict[str, Any] | None, current: str | None) -> str | None:
    """The connection group ARM derived (read back from its answer), else what status already says."""
    group = ((answer or {}).get("properties") or {}).get("group")
    return group if isinstance(group, str) and group else current


def _ready(spec: ConnectionSpec) -> Outcome:
    return Outcome(
        "ready",
        reasons.SUCCEEDED,
        READY_MESSAGE.format(name=spec.connection_name, workspace=spec.workspace.name),
    )


def _selected(
    by_name: dict[str, FetchedSecret | None], config: ReconcileConfig
) -> dict[str, FetchedSecret | None]:
    """The Secrets as the pass may use them: one that does not match `--secret-selector` reads as absent, so
    the refusal is the same whether it exists or not (no way to probe for Secrets through a resource)."""
    selector = config.secret_selector
    if selector is None:
        return by_name
    return {n: f if f is not None and selector.matches(f.labels) else None for n, f in by_name.items()}


def _selector_said(exc: CredentialError, config: ReconcileConfig) -> str:
    """The refusal's message; a missing Secret's says which Secrets may be used at all."""
    if exc.reason == reasons.SECRET_NOT_FOUND.name and config.secret_selector is not None:
        return f"{exc} matching the operator's --secret-selector {config.secret_selector}"
    return str(exc)


def _identity_secrets(identity: Identity) -> list[str]:
    """The identity's secret material, scrubbed from any message like the connection's credentials."""
    credential = identity.credential
    return [v for v in (credential.material, credential.password) if v] if credential else []


def _secret_values(spec: ConnectionSpec, resolved: Resolved) -> list[str]:
    literal = {name for name, source in spec.credentials if isinstance(source, LiteralValue)}
    values = [v for name, v in resolved.values.items() if name not in literal]
    return values + list((resolved.custom_keys or {}).values())
