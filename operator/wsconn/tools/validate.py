"""`wsconn validate`: refuse offline what `kubectl apply` or the operator would refuse.

Two stages, as in a cluster. First what the API server refuses (`admission.py`: strict fields, the CRD's
schema and its CEL rules). A document the API server would admit then goes through what the operator does
with it: its own spec parser and the ARM request-body check (what would end as `Stalled`, reason
`InvalidSpec`), and, when the referenced Secret is in the same input, the key lookups (`SecretKeyNotFound`,
`SecretValueEmpty`, ...). Other kinds are ignored. Nothing here reads a cluster or Azure, and no Secret value
is ever printed.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from wsconn.api.spec import ConnectionSpec, InvalidSpecError, SecretKeyRef, parse_spec
from wsconn.core.bodies import public_body
from wsconn.core.credentials import CredentialError, FetchedSecret, resolve
from wsconn.core.schema import BodyInvalidError, validate_body
from wsconn.tools.admission import admit
from wsconn.tools.manifests import Document, ReadError, secrets_in

Stage = Literal["input", "apply", "operator"]


@dataclass(frozen=True)
class Problem:
    """One problem, located by input, document and field.

    `stage` says who would refuse it: `apply` (the API server, at `kubectl apply`), `operator` (accepted, then
    Stalled by the operator; the message starts with the condition reason) or `input` (unreadable).
    """

    source: str
    document: int
    resource: str
    field: str | None
    message: str
    stage: Stage

    def line(self) -> str:
        """`file:document-index: field: message`."""
        return f"{self.source}:{self.document}: {self.field or '<nil>'}: {self.message}"

    def as_json(self) -> dict[str, Any]:
        """For `--output json`."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Report:
    """What was checked and what was found."""

    documents: int
    connections: int
    problems: tuple[Problem, ...]

    def as_json(self) -> dict[str, Any]:
        """The `--output json` document."""
        return {
            "documents": self.documents,
            "workspaceConnections": self.connections,
            "valid": not self.problems,
            "problems": [p.as_json() for p in self.problems],
        }

    def text(self) -> str:
        """One line per problem, then a summary line."""
        lines = [p.line() for p in self.problems]
        bad = len({(p.source, p.document) for p in self.problems})
        lines.append(
            f"{self.connections} WorkspaceConnection(s) in {self.documents} document(s): "
            + (f"{len(self.problems)} problem(s) in {bad} document(s)" if self.problems else "all valid")
        )
        return "\n".join(lines) + "\n"


def validate(
    documents: Sequence[Document], read_errors: Sequence[ReadError], *, default_api_version: str
) -> Report:
    """Check every WorkspaceConnection among `documents`, using the Secrets among them."""
    problems = [Problem(e.source, e.index, "", None, e.message, "input") for e in read_errors]
    secrets = secrets_in(documents)
    connections = [d for d in documents if d.is_connection]
    for doc in connections:
        resource = f"{doc.namespace}/{doc.name}" if doc.namespace else doc.name
        refused = admit(doc.body)
        problems += [Problem(doc.source, doc.index, resource, f.field, f.message, "apply") for f in refused]
        if refused:
            continue
        visible = {
            name: s for (ns, name), s in secrets.items() if not ns or not doc.namespace or ns == doc.namespace
        }
        problems += [
            Problem(doc.source, doc.index, resource, field, message, "operator")
            for field, message in operator_findings(
                doc.body, default_api_version=default_api_version, secrets=visible
            )
        ]
    return Report(documents=len(documents), connections=len(connections), problems=tuple(problems))


def operator_findings(
    obj: Mapping[str, Any], *, default_api_version: str, secrets: Mapping[str, FetchedSecret]
) -> list[tuple[str, str]]:
    """(field, message) for what the operator would stall on, for an object the API server admitted."""
    name = str((obj.get("metadata") or {}).get("name") or "")
    try:
        spec = parse_spec(obj.get("spec") or {}, metadata_name=name, default_api_version=default_api_version)
    except InvalidSpecError as exc:
        return [(f"spec.{e.path}".rstrip("."), f"InvalidSpec: {e.message}") for e in exc.errors]
    return _body_findings(spec) + _secret_findings(spec, secrets)


def _body_findings(spec: ConnectionSpec) -> list[tuple[str, str]]:
    """The ARM request-body check, with Secret-sourced values left out (they are unknown here)."""
    from_secrets = {f"properties.credentials.{n}" for n, s in spec.credentials if isinstance(s, SecretKeyRef)}
    if spec.custom_keys_secret is not None:
        from_secrets.add("properties.credentials.keys")
    try:
        validate_body(public_body(spec), spec.api_version)
    except BodyInvalidError as exc:
        out = []
        for problem in exc.problems:
            path, _, message = problem.partition(": ")
            if any(path == p or path.startswith(p + ".") for p in from_secrets):
                continue
            field = "spec." + path.removeprefix("properties.") if path.startswith("properties.") else "spec"
            out.append((field, f"InvalidSpec: the ARM request body would be invalid: {message}"))
        return out
    return []


def _secret_findings(spec: ConnectionSpec, secrets: Mapping[str, FetchedSecret]) -> list[tuple[str, str]]:
    """Key lookups in the Secrets of the same input, one credential at a time, with the operator's resolver."""
    parts = [
        dataclasses.replace(spec, credentials=((n, s),), custom_keys_secret=None)
        for n, s in spec.credentials
        if isinstance(s, SecretKeyRef) and s.name in secrets
    ]
    if spec.custom_keys_secret in secrets:
        parts.append(dataclasses.replace(spec, credentials=()))
    out = []
    for part in parts:
        try:
            resolve(part, secrets)
        except CredentialError as exc:
            out.append((f"spec.{exc.path}", f"{exc.reason}: {str(exc).split(': ', 1)[-1]}"))
    return out


def render(report: Report, output: str) -> str:
    """The report as text or JSON."""
    if output == "json":
        return json.dumps(report.as_json(), indent=2, ensure_ascii=False) + "\n"
    return report.text()
