"""Spec + credential values -> the exact ARM request body (`WorkspaceConnectionPropertiesV2BasicResource`).

One builder serves every authType, driven by the authType table: field names in the spec are ARM's names,
AccountKey is sent as `{key}` (the current contract, CONNECTIONS.md §5), categories keep the spec's canonical
casing, and the read-only `group` and `createdByWorkspaceArmId` are never sent. Optional fields are sent only
when set, so the body says exactly what the manifest says; the parser has already refused a field the spec's
api-version does not have, so the same builder serves every api-version.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wsconn.api.authtypes import CUSTOM_KEYS_FIELD
from wsconn.api.spec import ConnectionSpec, LiteralValue, SecretKeyRef

Body = dict[str, Any]


def build_body(
    spec: ConnectionSpec, values: Mapping[str, Any], custom_keys: Mapping[str, Any] | None
) -> Body:
    """The PUT body, credentials filled from `values` (field -> value) and `custom_keys`."""
    props: dict[str, Any] = {"authType": spec.auth_type}
    optional: dict[str, Any] = {
        "category": spec.category,
        "target": spec.target,
        "metadata": dict(spec.metadata) if spec.metadata is not None else None,
        "isSharedToAll": spec.is_shared_to_all,
        "sharedUserList": list(spec.shared_user_list) if spec.shared_user_list is not None else None,
        "expiryTime": spec.expiry_time,
        "peRequirement": spec.pe_requirement,
        "useWorkspaceManagedIdentity": spec.use_workspace_managed_identity,
        "value": spec.value,
        "valueFormat": spec.value_format,
    }
    props.update({k: v for k, v in optional.items() if v is not None})
    credentials: dict[str, Any] = {name: values[name] for name, _ in spec.credentials}
    if custom_keys is not None:
        credentials[CUSTOM_KEYS_FIELD] = dict(custom_keys)
    if spec.credentials or custom_keys is not None:
        props["credentials"] = credentials
    return {"properties": props}


def public_body(spec: ConnectionSpec) -> Body:
    """The body with every Secret-sourced value replaced by a reference to it: safe to hash, log or compare.

    A reference is an object, never a string, so no literal value can be mistaken for one.
    """
    placeholders: dict[str, Any] = {
        name: source.value if isinstance(source, LiteralValue) else _reference(source)
        for name, source in spec.credentials
    }
    custom = {"$secretRef": spec.custom_keys_secret} if spec.custom_keys_secret is not None else None
    return build_body(spec, placeholders, custom)


def desired_properties(spec: ConnectionSpec) -> dict[str, Any]:
    """The non-credential properties ARM should report back on GET."""
    props: dict[str, Any] = public_body(spec)["properties"]
    props.pop("credentials", None)
    return props


def _reference(ref: SecretKeyRef) -> dict[str, str]:
    return {"$secretKeyRef": f"{ref.name}/{ref.key}"}
