"""`wsconn import`: the connections a workspace already has, as WorkspaceConnection manifests.

One manifest per connection, with every property the spec can carry copied as ARM reports it (the spec's
fields are ARM's names, so the CRD's own schema says which ones: server-owned properties such as `group` are
not in it and stay out), and a Secret stub per connection with credentials: one key per credential field of
the authType table, empty, with a comment saying which field it feeds. ARM's GET never returns credentials;
only `--with-secret-values` calls listsecrets (a POST that ARM counts as a write), and then the values go to
a file of mode 0600 only. A connection the operator cannot express (an authType or category it does not
support, metadata it cannot carry) is listed with the reason, never dropped silently.

The imported spec reproduces what is there: the operator's drift comparison of the spec with the GET finds no
difference (a test holds this), which is what lets an adopting operator apply it without writing.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from wsconn.api import contract
from wsconn.api.authtypes import AUTH_TYPES, CUSTOM_KEYS_FIELD, is_secret_field
from wsconn.api.crd import GROUP, KIND, VERSION, spec_schema
from wsconn.api.spec import LIMITS, WorkspaceRef
from wsconn.settings import Settings
from wsconn.tools.azure import arm_client, list_connections
from wsconn.tools.convert import kubernetes_name
from wsconn.tools.manifests import SECRET_WARNING, dump, write_private

# Spec fields that are not ARM properties (or that import sets itself).
NOT_COPIED: Final = frozenset(
    {
        "workspace",
        "connectionName",
        "azureApiVersion",
        "authType",
        "category",
        "credentials",
        "deletionPolicy",
        "adoptionPolicy",
    }
)


@dataclass(frozen=True)
class Imported:
    """One connection as manifests: the WorkspaceConnection, and its Secret (stub, or with values)."""

    name: str
    connection: dict[str, Any]
    secret: dict[str, Any] | None
    secret_comment: str
    with_values: bool


@dataclass(frozen=True)
class NotImported:
    """A connection the operator cannot express, and why."""

    name: str
    resource_id: str
    reason: str


def to_manifests(
    resource: Mapping[str, Any],
    *,
    workspace: WorkspaceRef,
    namespace: str | None,
    api_version: str,
    credentials: Mapping[str, Any] | None = None,
) -> Imported | NotImported:
    """A connection as ARM returns it (and, with listsecrets, its credentials) as manifests."""
    name = str(resource.get("name") or "")
    rid = str(resource.get("id") or "")
    props = resource.get("properties") or {}
    auth_type = _canonical(props.get("authType"), contract.auth_types())
    if auth_type is None:
        return NotImported(name, rid, f"authType {props.get('authType')!r} is not supported by the operator")
    category = _canonical(props.get("category"), contract.all_categories())
    if props.get("category") is not None and category is None:
        return NotImported(name, rid, f"category {props.get('category')!r} is not supported by the operator")
    if category is not None and category not in contract.categories(api_version):
        return NotImported(name, rid, f"category {category} is not available in api-version {api_version}")
    spec: dict[str, Any] = {
        "workspace": {
            "subscriptionId": workspace.subscription_id,
            "resourceGroup": workspace.resource_group,
            "name": workspace.name,
        }
    }
    k8s_name = kubernetes_name(name)
    if k8s_name != name:
        spec["connectionName"] = name
    spec["authType"] = auth_type
    if category is not None:
        spec["category"] = category
    carried = spec_schema()["properties"]
    for key, value in props.items():
        if key in carried and key not in NOT_COPIED and value is not None:
            spec[key] = value
    if isinstance(spec.get("metadata"), Mapping):
        metadata = {k: v for k, v in spec["metadata"].items() if v is not None}
        problem = _metadata_problem(metadata)
        if problem:
            return NotImported(name, rid, problem)
        spec["metadata"] = metadata
    meta: dict[str, Any] = {"name": k8s_name, **({"namespace": namespace} if namespace else {})}
    secret_name = f"{k8s_name}-credentials"
    refs, data, comment = _credentials(auth_type, secret_name, name, credentials)
    if refs:
        spec["credentials"] = refs
    connection = {"apiVersion": f"{GROUP}/{VERSION}", "kind": KIND, "metadata": meta, "spec": spec}
    secret = None
    if data is not None:
        secret_meta = {"name": secret_name, **({"namespace": namespace} if namespace else {})}
        secret = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": secret_meta,
            "type": "Opaque",
            "stringData": data,
        }
    return Imported(k8s_name, connection, secret, comment, credentials is not None)


def _credentials(
    auth_type: str, secret_name: str, connection: str, known: Mapping[str, Any] | None
) -> tuple[dict[str, Any], dict[str, str] | None, str]:
    """References, the Secret's data (None: no Secret) and its comment.

    Without values every field the authType needs is a key of the stub. With listsecrets' values, secret
    fields stay references and the others become literal values in the manifest."""
    auth = AUTH_TYPES[auth_type]
    lines = [f"Credentials of connection {connection} (authType {auth_type}); ARM never returns them on GET."]
    if auth.whole_secret:
        keys = {str(k): str(v) for k, v in ((known or {}).get(CUSTOM_KEYS_FIELD) or {}).items()}
        lines.append(
            "Every key of this Secret becomes a key of the connection (credentials.keys); add them all."
        )
        return {CUSTOM_KEYS_FIELD: {"secretRef": {"name": secret_name}}}, keys, "\n".join(lines)
    refs: dict[str, Any] = {}
    data: dict[str, str] = {}
    for field in auth.fields:
        value = (known or {}).get(field.name)
        if known is not None and value is None:
            continue
        if known is None and not field.required:
            continue
        if known is not None and not field.secret:
            refs[field.name] = {"value": str(value)}
            continue
        refs[field.name] = {"secretKeyRef": {"name": secret_name, "key": field.name}}
        data[field.name] = "" if value is None else str(value)
        kind = "secret" if is_secret_field(field.name) else "not secret: may move into the manifest as value"
        lines.append(f"  {field.name}: feeds spec.credentials.{field.name} ({kind})")
    return refs, (data if refs and data else None), "\n".join(lines)


def _metadata_problem(metadata: Mapping[str, Any]) -> str | None:
    if len(metadata) > LIMITS.metadata_entries:
        return f"metadata has {len(metadata)} entries; the operator carries at most {LIMITS.metadata_entries}"
    for key, value in metadata.items():
        if not isinstance(value, str):
            return f"metadata.{key} is not a string"
        if len(key) > LIMITS.metadata_key or len(value) > LIMITS.metadata_value:
            return f"metadata.{key} is longer than the operator carries"
    return None


def _canonical(value: Any, allowed: Sequence[str]) -> str | None:
    """`value` in the contract's casing (the service compares these case-insensitively)."""
    if not isinstance(value, str):
        return None
    return next((a for a in allowed if a.lower() == value.lower()), None)


async def fetch(
    settings: Settings, workspace: WorkspaceRef, api_version: str, *, with_secret_values: bool
) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
    """(resource, credentials or None) per connection: one list call, and listsecrets only when asked."""
    async with arm_client(settings) as arm:
        resources = await list_connections(arm, workspace, api_version)
        if not with_secret_values:
            return [(r, None) for r in resources]
        correlation_id = str(uuid.uuid4())
        listed = await asyncio.gather(
            *(arm.list_secrets(str(r["id"]), api_version, correlation_id=correlation_id) for r in resources)
        )
        return [
            (r, (s.get("properties") or {}).get("credentials") or {})
            for r, s in zip(resources, listed, strict=True)
        ]


def write(
    results: Sequence[Imported | NotImported],
    *,
    output_dir: Path | None,
    echo: Callable[[str], None],
    warn: Callable[[str], None],
) -> int:
    """Write the manifests (stdout or files); list what was not imported. 0: all imported, 2: some not."""
    imported = [r for r in results if isinstance(r, Imported)]
    skipped = [r for r in results if isinstance(r, NotImported)]
    if output_dir is None:
        documents: list[tuple[str, dict[str, Any]]] = []
        for item in imported:
            if item.secret is not None:
                documents.append((item.secret_comment, item.secret))
            documents.append(("", item.connection))
        echo(dump_with_comments(documents))
    else:
        for item in imported:
            path = output_dir / f"{item.name}.yaml"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(dump([item.connection], "Imported by wsconn import."))
            if item.secret is None:
                continue
            secret_path = output_dir / "secrets" / f"{item.secret['metadata']['name']}.yaml"
            text = dump([item.secret], item.secret_comment)
            if item.with_values:
                write_private(secret_path, text)
                warn(f"{secret_path} {SECRET_WARNING}")
            else:
                secret_path.parent.mkdir(parents=True, exist_ok=True)
                secret_path.write_text(text)
        if skipped:
            (output_dir / "NOT-IMPORTED.txt").write_text(
                "".join(f"{s.resource_id}: {s.reason}\n" for s in skipped)
            )
        echo(f"imported {len(imported)} connection(s) into {output_dir}")
    for left in skipped:
        warn(f"not imported: {left.name} ({left.resource_id}): {left.reason}")
    return 2 if skipped else 0


def dump_with_comments(documents: Sequence[tuple[str, Mapping[str, Any]]]) -> str:
    """A YAML stream where each document carries its own comment."""
    return "".join(dump([obj], comment) for comment, obj in documents)
