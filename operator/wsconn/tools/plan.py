"""`wsconn plan`: what applying the manifests would change in Azure, read-only.

For each WorkspaceConnection: resolve the Azure identity the operator would use, GET the connection with it,
and compare with the operator's own functions (`bodies.desired_properties`, `drift.differences`): `create`
(it does not exist), `update` (the fields that differ; names, never values), `no change`, `conflict` (another
resource in the input names the same connection: the first one owns it, and the operator would stall the
other with `ConnectionConflict`), `already exists` (it exists and `adoptionPolicy` is Refuse: the operator
would leave it alone, `AlreadyExists`), or `cannot tell` with the reason (an invalid manifest, an identity or ARM failure, classified by the operator's
classifier). Credentials are not compared: ARM never returns them. Nothing is written anywhere.

Identity resolution is the operator's own (`core.identity.resolve_identity`, docs/design.md §2) over the Secrets in
the input: `spec.azureCredentials.secretRef`, else the namespace's `wsconn-azure-credentials`, else the
operator's own identity (DefaultAzureCredential from the environment) where `--operator-identity-namespaces`
allows it. The plan reads no cluster, so a credential Secret must be in the input to be used: one named by
`spec.azureCredentials` and absent is `cannot tell`; an absent namespace Secret means the operator's identity,
as it would in a namespace without one. Each identity GETs with its own credential.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal, Protocol

from wsconn.api.spec import ConnectionSpec, parse_spec
from wsconn.arm.errors import ArmFailure
from wsconn.core import classify
from wsconn.core.bodies import desired_properties
from wsconn.core.drift import differences
from wsconn.core.identity import Identity, IdentityError, credential_secret, resolve_identity
from wsconn.core.ids import connection_id
from wsconn.settings import Settings
from wsconn.tools.azure import principals
from wsconn.tools.manifests import Document, ReadError, secrets_in
from wsconn.tools.validate import validate

Verdict = Literal["create", "update", "no change", "conflict", "already exists", "cannot tell"]
# Verdicts for a resource the operator would stall without writing.
STALLS = frozenset({"conflict", "already exists"})
CHANGES = frozenset({"create", "update"})


def describe(identity: Identity) -> str:
    """For the report: where the identity comes from and which client it is (never a secret)."""
    client = identity.client_id or "from the environment"
    secret = f", Secret {identity.secret_name}" if identity.secret_name else ""
    return f"{identity.source} (client {client}{secret})"


class IdentityResolver(Protocol):
    """Which identity the operator would use for a resource; raises IdentityError when none may be used."""

    def __call__(self, doc: Document, spec: ConnectionSpec) -> Identity: ...


def declared_identities(settings: Settings, documents: Sequence[Document]) -> IdentityResolver:
    """The identity each resource would use, decided by the operator's own rules over the input's Secrets."""
    secrets = secrets_in(documents)
    operator = (os.environ.get("AZURE_TENANT_ID", ""), os.environ.get("AZURE_CLIENT_ID", ""))

    def resolve(doc: Document, spec: ConnectionSpec) -> Identity:
        name = credential_secret(spec.azure_credentials)
        fetched = secrets.get((doc.namespace, name)) or secrets.get(("", name))
        if fetched is not None and not fetched.uid:
            # Secrets from files have no uid; the credential cache is keyed by one, so give each its own.
            fetched = replace(fetched, uid=f"{doc.namespace}/{name}", resource_version="input")
        return resolve_identity(
            namespace=doc.namespace,
            requested=spec.azure_credentials,
            fetched=fetched,
            allowlist=settings.allowlist,
            operator=operator,
            selector=settings.selector,
        )

    return resolve


class Signing(Protocol):
    """ARM as one identity (arm/principals.Principals)."""

    def arm(self, identity: Identity) -> Any: ...


@dataclass(frozen=True)
class Entry:
    """The plan for one resource."""

    source: str
    document: int
    resource: str
    verdict: Verdict
    detail: str = ""
    fields: tuple[str, ...] = ()
    identity: str = ""
    connection_id: str = ""

    def line(self) -> str:
        """`file:index: resource: verdict (detail)`."""
        detail = f": {self.detail}" if self.detail else ""
        who = f" [identity: {self.identity}]" if self.identity else ""
        return f"{self.source}:{self.document}: {self.resource}: {self.verdict}{detail}{who}"


@dataclass(frozen=True)
class _Target:
    doc: Document
    spec: ConnectionSpec
    identity: Identity


async def plan(
    documents: Sequence[Document],
    read_errors: Sequence[ReadError],
    *,
    default_api_version: str,
    resolve: IdentityResolver,
    settings: Settings,
    client: Callable[[Settings], Any] = principals,
) -> list[Entry]:
    """The plan for every WorkspaceConnection among `documents`."""
    entries = [Entry(e.source, e.index, "", "cannot tell", e.message) for e in read_errors]
    report = validate(documents, (), default_api_version=default_api_version)
    invalid: dict[tuple[str, int], list[str]] = {}
    for p in report.problems:
        invalid.setdefault((p.source, p.document), []).append(f"{p.field}: {p.message}")
    owners: dict[str, str] = {}
    targets: list[_Target] = []
    for doc in documents:
        if not doc.is_connection:
            continue
        resource = f"{doc.namespace}/{doc.name}" if doc.namespace else doc.name
        problems = invalid.get((doc.source, doc.index))
        if problems:
            entries.append(
                Entry(doc.source, doc.index, resource, "cannot tell", "invalid: " + "; ".join(problems))
            )
            continue
        spec = parse_spec(doc.body["spec"], metadata_name=doc.name, default_api_version=default_api_version)
        rid = connection_id(spec)
        owner = owners.setdefault(rid.lower(), resource)
        if owner != resource:
            entries.append(
                Entry(
                    doc.source,
                    doc.index,
                    resource,
                    "conflict",
                    f"ConnectionConflict: {owner} names the same connection",
                    connection_id=rid,
                )
            )
            continue
        try:
            identity = resolve(doc, spec)
        except IdentityError as exc:
            entries.append(
                Entry(
                    doc.source, doc.index, resource, "cannot tell", f"{exc.reason}: {exc}", connection_id=rid
                )
            )
            continue
        targets.append(_Target(doc, spec, identity))
    if targets:
        async with client(settings) as signing:
            entries += await asyncio.gather(*(_one(signing, t) for t in targets))
    return sorted(entries, key=lambda e: (e.source, e.document))


async def _one(signing: Signing, target: _Target) -> Entry:
    doc, spec = target.doc, target.spec
    resource = f"{doc.namespace}/{doc.name}" if doc.namespace else doc.name
    rid = connection_id(spec)
    base = Entry(
        doc.source, doc.index, resource, "cannot tell", identity=describe(target.identity), connection_id=rid
    )
    try:
        arm = signing.arm(target.identity)
        observed = await arm.get(rid, spec.api_version, correlation_id=str(uuid.uuid4()))
    except ArmFailure as exc:
        return _with(base, "cannot tell", f"{classify.classify(exc.fault).reason}: {exc.describe()}")
    if observed is None:
        return _with(
            base, "create", f"{spec.connection_name} does not exist in workspace {spec.workspace.name}"
        )
    if spec.adoption_policy == "Refuse":
        return _with(
            base,
            "already exists",
            f"AlreadyExists: {spec.connection_name} exists and adoptionPolicy is Refuse: it would be left alone",
        )
    changed = differences(desired_properties(spec), observed.get("properties") or {})
    if changed:
        return replace(base, verdict="update", detail=", ".join(changed), fields=tuple(changed))
    return _with(base, "no change", "credentials not compared (ARM never returns them)")


def _with(entry: Entry, verdict: Verdict, detail: str) -> Entry:
    return replace(entry, verdict=verdict, detail=detail)


def exit_code(entries: Sequence[Entry]) -> int:
    """1 when anything could not be told (or would stall: a conflict, a refused adoption), else 2 when
    something would change, else 0."""
    if any(e.verdict == "cannot tell" or e.verdict in STALLS for e in entries):
        return 1
    return 2 if any(e.verdict in CHANGES for e in entries) else 0


def render(entries: Sequence[Entry], output: str) -> str:
    """The plan as text (one line per resource and a summary) or JSON."""
    counts: dict[str, int] = {}
    for e in entries:
        counts[e.verdict] = counts.get(e.verdict, 0) + 1
    if output == "json":
        payload: Mapping[str, Any] = {
            "summary": counts,
            "resources": [asdict(e) for e in entries],
        }
        return json.dumps(payload, indent=2) + "\n"
    summary = ", ".join(f"{n} {v}" for v, n in sorted(counts.items())) or "no WorkspaceConnection found"
    return "".join(e.line() + "\n" for e in entries) + f"plan: {summary}\n"
