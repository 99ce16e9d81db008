"""Request validation straight from the swagger subsets: an independent reading of the contract.

The operator turns the swagger into JSON Schema and runs jsonschema; this module walks the swagger itself
(`$ref`, `allOf`, the `authType` discriminator, enums, formats, `additionalProperties`, `readOnly`), so a
mistake in one reading is caught by the other. Two tolerances follow CONNECTIONS.md, because the service
and the official SDK behave that way: enum values (authType, category) match case-insensitively, and
`AccountKey` credentials may carry `sas` instead of `key` (azure-ai-ml still sends `sas`). The SDK also
sends JSON null for unset metadata values; those are accepted and dropped.
Problems name the JSON path and the rule, never the value: the value may be a secret.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import urlparse

API_VERSIONS = ("2024-04-01", "2025-06-01")
NAME_PATTERN = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_-]{2,32}$")
RESOURCE_GROUP_PATTERN = re.compile(r"^[-\w._()]{1,90}$")
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_SKIP_KEYS = ("x-ms-", "description", "example", "discriminator")


@cache
def swagger(api_version: str) -> dict[str, Any]:
    """The pinned swagger subset of `api_version`."""
    text = (
        resources.files("wsconn.arm.contract")
        .joinpath(api_version, "workspaceRP.connections-subset.json")
        .read_text()
    )
    data: dict[str, Any] = json.loads(text)
    return data


@cache
def _common_definitions() -> dict[str, Any]:
    root = resources.files("wsconn.arm.contract").joinpath("common-types", "resource-management", "v3")
    data: dict[str, Any] = json.loads(root.joinpath("types.subset.json").read_text())
    # Local references inside common-types (e.g. Resource.systemData -> #/definitions/SystemData) point into
    # common-types, not into the api-version's swagger: make them non-local so `_definition` routes them here.
    return dict(_rebase_local_refs(data["definitions"], "types.json"))


def _rebase_local_refs(node: Any, document: str) -> Any:
    if isinstance(node, dict):
        return {
            k: (
                document + v
                if k == "$ref" and isinstance(v, str) and v.startswith("#/")
                else _rebase_local_refs(v, document)
            )
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_rebase_local_refs(v, document) for v in node]
    return node


def _definition(api_version: str, ref: str) -> dict[str, Any]:
    name = ref.rsplit("/", 1)[-1]
    if ref.startswith("#/"):
        return dict(swagger(api_version)["definitions"][name])
    return dict(_common_definitions()[name])


def enum_values(api_version: str, definition: str) -> tuple[str, ...]:
    """The values of a named enum definition (e.g. ConnectionCategory)."""
    return tuple(swagger(api_version)["definitions"][definition]["enum"])


def subtypes(api_version: str) -> dict[str, str]:
    """authType (lower-cased) -> subtype definition name, from `x-ms-discriminator-value`."""
    return {
        d["x-ms-discriminator-value"].lower(): name
        for name, d in swagger(api_version)["definitions"].items()
        if "x-ms-discriminator-value" in d
    }


def secret_fields(api_version: str, auth_type: str) -> tuple[str, ...]:
    """Credential field names of an authType (all of them are treated as secret in logs)."""
    name = subtypes(api_version).get(auth_type.lower())
    if name is None:
        return ()
    creds = swagger(api_version)["definitions"][name].get("properties", {}).get("credentials")
    if not creds:
        return ()
    return tuple(_definition(api_version, creds["$ref"]).get("properties", {}))


def is_date_time(value: str) -> bool:
    """RFC 3339 date-time with a zone, as swagger's `date-time` format means."""
    if not _RFC3339.match(value):
        return False
    try:
        dt.datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _format_ok(fmt: str, value: str) -> bool:
    if fmt == "date-time":
        return is_date_time(value)
    if fmt == "uuid":
        try:
            uuid.UUID(value)
        except ValueError:
            return False
        return True
    if fmt == "url":
        parsed = urlparse(value)
        return bool(parsed.scheme and parsed.netloc)
    if fmt == "arm-id":
        return value.lower().startswith("/subscriptions/")
    return True


class _Walker:
    def __init__(self, api_version: str) -> None:
        self.api_version = api_version
        self.problems: list[str] = []

    def flatten(self, schema: dict[str, Any]) -> dict[str, Any]:
        """Resolve `$ref` and merge `allOf` parts into one schema (properties united)."""
        if "$ref" in schema:
            schema = {
                **_definition(self.api_version, schema["$ref"]),
                **{k: v for k, v in schema.items() if k != "$ref"},
            }
        merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
        properties = dict(schema.get("properties", {}))
        for part in schema.get("allOf", []):
            flat = self.flatten(part)
            properties = {**flat.get("properties", {}), **properties}
            for key, value in flat.items():
                if key not in {"properties", "additionalProperties", "x-ms-discriminator-value"}:
                    merged.setdefault(key, value)
        merged["properties"] = properties
        return merged

    def check(self, path: str, schema: dict[str, Any], value: Any) -> None:
        schema = self.flatten(schema)
        kind = schema.get("type")
        if value is None:
            self.problems.append(f"{path}: must not be null")
            return
        if kind == "object" or schema.get("properties"):
            self._object(path, schema, value)
        elif kind == "array":
            if not isinstance(value, list):
                self.problems.append(f"{path}: must be an array")
                return
            for i, item in enumerate(value):
                self.check(f"{path}[{i}]", schema.get("items", {}), item)
        elif kind == "string":
            self._string(path, schema, value)
        elif kind == "boolean" and not isinstance(value, bool):
            self.problems.append(f"{path}: must be a boolean")

    def _string(self, path: str, schema: dict[str, Any], value: Any) -> None:
        if not isinstance(value, str):
            self.problems.append(f"{path}: must be a string")
            return
        if "enum" in schema and value.lower() not in {e.lower() for e in schema["enum"]}:
            self.problems.append(f"{path}: not an allowed value for api-version {self.api_version}")
        if "format" in schema and not _format_ok(schema["format"], value):
            self.problems.append(f"{path}: must have format {schema['format']}")

    def _object(self, path: str, schema: dict[str, Any], value: Any) -> None:
        if not isinstance(value, dict):
            self.problems.append(f"{path}: must be an object")
            return
        properties: dict[str, Any] = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                self.problems.append(f"{path}.{name}: required")
        extra = schema.get("additionalProperties", True)
        for name, item in value.items():
            if name in properties:
                sub = self.flatten(properties[name])
                if sub.get("readOnly"):
                    self.problems.append(f"{path}.{name}: read-only; must not be sent")
                else:
                    self.check(f"{path}.{name}", sub, item)
            elif extra is False:
                self.problems.append(f"{path}.{name}: unknown property")
            elif isinstance(extra, dict):
                self.check(f"{path}.{name}", extra, item)


def validate_put(api_version: str, body: Any) -> list[str]:
    """Problems with a PUT body (WorkspaceConnectionPropertiesV2BasicResource); empty when valid."""
    if not isinstance(body, dict):
        return ["(body): must be a JSON object"]
    properties = body.get("properties")
    if not isinstance(properties, dict):
        return ["properties: required object"]
    return _validate_envelope(api_version, body, properties)


def validate_patch(api_version: str, body: Any) -> list[str]:
    """Problems with a PATCH body (WorkspaceConnectionUpdateParameter); properties are all optional and
    null members (merge-patch removals) are allowed."""
    if not isinstance(body, dict):
        return ["(body): must be a JSON object"]
    unknown = sorted(set(body) - {"properties"})
    if unknown:
        return [f"{name}: unknown property" for name in unknown]
    properties = body.get("properties")
    if properties is None:
        return []
    if not isinstance(properties, dict):
        return ["properties: must be an object"]
    # JSON merge-patch (RFC 7396): a null member removes that member, so it is never a value to check.
    # What the patch leaves behind is checked as a whole once merged (validate_put).
    return _check_properties(api_version, _without_nulls(properties), require_auth_type=False)


def _without_nulls(node: dict[str, Any]) -> dict[str, Any]:
    return {k: _without_nulls(v) if isinstance(v, dict) else v for k, v in node.items() if v is not None}


def _validate_envelope(api_version: str, body: dict[str, Any], properties: dict[str, Any]) -> list[str]:
    walker = _Walker(api_version)
    envelope = walker.flatten({"$ref": "#/definitions/WorkspaceConnectionPropertiesV2BasicResource"})
    for name in body:
        if name == "properties":
            continue
        sub = envelope["properties"].get(name)
        if sub is None:
            walker.problems.append(f"{name}: unknown property")
        elif walker.flatten(sub).get("readOnly"):
            walker.problems.append(f"{name}: read-only; must not be sent")
    return walker.problems + _check_properties(api_version, properties, require_auth_type=True)


def _check_properties(api_version: str, properties: dict[str, Any], *, require_auth_type: bool) -> list[str]:
    walker = _Walker(api_version)
    auth_type = properties.get("authType")
    if auth_type is None and not require_auth_type:
        base = walker.flatten({"$ref": "#/definitions/WorkspaceConnectionPropertiesV2"})
        base["required"] = []
        walker.check("properties", base, _tolerate(properties))
        return walker.problems
    if not isinstance(auth_type, str):
        return ["properties.authType: required string"]
    subtype = subtypes(api_version).get(auth_type.lower())
    if subtype is None:
        return [f"properties.authType: unknown discriminator value for api-version {api_version}"]
    schema = walker.flatten({"$ref": f"#/definitions/{subtype}"})
    walker.check("properties", schema, _tolerate(properties, account_key=subtype))
    return walker.problems


def _tolerate(properties: dict[str, Any], account_key: str = "") -> dict[str, Any]:
    """Apply the documented tolerances: null metadata values, `sas` for AccountKey's `key`."""
    out = dict(properties)
    metadata = out.get("metadata")
    if isinstance(metadata, dict):
        out["metadata"] = {k: v for k, v in metadata.items() if v is not None}
    creds = out.get("credentials")
    if (
        account_key.startswith("AccountKey")
        and isinstance(creds, dict)
        and "sas" in creds
        and "key" not in creds
    ):
        out["credentials"] = {("key" if k == "sas" else k): v for k, v in creds.items()}
    return out


def normalise(properties: dict[str, Any]) -> dict[str, Any]:
    """What the service stores: the tolerances applied, AccountKey `sas` stored as `key`."""
    auth_type = str(properties.get("authType", ""))
    return _tolerate(properties, account_key="AccountKey" if auth_type.lower() == "accountkey" else "")
