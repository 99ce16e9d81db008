"""The swagger subsets (2024-04-01, 2025-06-01) read as a request schema: an independent reading of the
contract, walked directly (`$ref`, `allOf`, the `authType` discriminator, enums, formats,
`additionalProperties`, `readOnly`), so a mistake in the operator's JSON-Schema reading is caught here.

Enum values (authType, category) match case-insensitively, as the service does (CONNECTIONS.md section 6).
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

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_CONTRACT = "wsconn.arm.contract"


@cache
def document(version: str) -> dict[str, Any]:
    """The pinned swagger subset of a contract version."""
    text = resources.files(_CONTRACT).joinpath(version, "workspaceRP.connections-subset.json").read_text()
    data: dict[str, Any] = json.loads(text)
    return data


@cache
def _common_definitions() -> dict[str, Any]:
    root = resources.files(_CONTRACT).joinpath("common-types", "resource-management", "v3")
    data: dict[str, Any] = json.loads(root.joinpath("types.subset.json").read_text())
    # Local references inside common-types (e.g. Resource.systemData -> #/definitions/SystemData) point into
    # common-types, not into the api-version's swagger: make them non-local so `_definition` routes them here.
    return dict(_rebase_local_refs(data["definitions"], "types.json"))


def _rebase_local_refs(node: Any, document_name: str) -> Any:
    if isinstance(node, dict):
        return {
            k: (
                document_name + v
                if k == "$ref" and isinstance(v, str) and v.startswith("#/")
                else _rebase_local_refs(v, document_name)
            )
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_rebase_local_refs(v, document_name) for v in node]
    return node


def is_date_time(value: str) -> bool:
    """RFC 3339 date-time with a zone, as swagger's `date-time` format means."""
    if not _RFC3339.match(value):
        return False
    try:
        dt.datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def format_ok(fmt: str, value: str) -> bool:
    """Whether a string satisfies a swagger `format`."""
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


@cache
def formats(version: str) -> dict[str, dict[str, str]]:
    """definition name -> {property: format}, for every definition of a swagger subset (allOf included)."""
    reader = SwaggerSchema(version)
    found: dict[str, dict[str, str]] = {}
    for name in document(version)["definitions"]:
        flat = reader.flatten({"$ref": f"#/definitions/{name}"})
        props = {
            prop: reader.flatten(sub)["format"]
            for prop, sub in flat.get("properties", {}).items()
            if "format" in reader.flatten(sub)
        }
        if props:
            found[name] = props
    return found


class SwaggerSchema:
    """The request schema of one swagger subset."""

    def __init__(self, version: str) -> None:
        self.version = version

    def _definition(self, ref: str) -> dict[str, Any]:
        name = ref.rsplit("/", 1)[-1]
        if ref.startswith("#/"):
            return dict(document(self.version)["definitions"][name])
        return dict(_common_definitions()[name])

    def flatten(self, schema: dict[str, Any]) -> dict[str, Any]:
        """Resolve `$ref` and merge `allOf` parts into one schema (properties united)."""
        if "$ref" in schema:
            schema = {**self._definition(schema["$ref"]), **{k: v for k, v in schema.items() if k != "$ref"}}
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

    def _subtypes(self) -> dict[str, str]:
        """authType (lower-cased) -> subtype definition name, from `x-ms-discriminator-value`."""
        return {
            d["x-ms-discriminator-value"].lower(): name
            for name, d in document(self.version)["definitions"].items()
            if "x-ms-discriminator-value" in d
        }

    def auth_types(self) -> dict[str, str]:
        """authType (lower-cased) -> its canonical spelling."""
        return {
            d["x-ms-discriminator-value"].lower(): d["x-ms-discriminator-value"]
            for d in document(self.version)["definitions"].values()
            if "x-ms-discriminator-value" in d
        }

    def categories(self) -> tuple[str, ...]:
        """The ConnectionCategory enum."""
        return tuple(document(self.version)["definitions"]["ConnectionCategory"]["enum"])

    def _subtype(self, auth_type: str) -> dict[str, Any] | None:
        name = self._subtypes().get(auth_type.lower())
        return None if name is None else self.flatten({"$ref": f"#/definitions/{name}"})

    def credential_fields(self, auth_type: str) -> tuple[str, ...] | None:
        """Credential field names of an authType; None when its subtype has no `credentials`."""
        subtype = self._subtype(auth_type)
        creds = (subtype or {}).get("properties", {}).get("credentials")
        if not creds:
            return None
        return tuple(self.flatten(creds).get("properties", {}))

    def writable(self, auth_type: str) -> frozenset[str]:
        """The properties a PUT of this authType may set (what the service stores)."""
        subtype = self._subtype(auth_type) or {}
        return frozenset(
            name
            for name, sub in subtype.get("properties", {}).items()
            if not self.flatten(sub).get("readOnly")
        )

    def envelope(self) -> dict[str, bool]:
        """Top-level member names of the PUT body -> whether they are read-only."""
        flat = self.flatten({"$ref": "#/definitions/WorkspaceConnectionPropertiesV2BasicResource"})
        return {name: bool(self.flatten(sub).get("readOnly")) for name, sub in flat["properties"].items()}

    def check_properties(self, properties: dict[str, Any], *, require_auth_type: bool) -> list[str]:
        """Problems with `properties`: the authType's subtype, or the base schema for a partial PATCH."""
        walker = _Walker(self)
        auth_type = properties.get("authType")
        if auth_type is None and not require_auth_type:
            base = self.flatten({"$ref": "#/definitions/WorkspaceConnectionPropertiesV2"})
            base["required"] = []
            walker.check("properties", base, properties)
            return walker.problems
        if not isinstance(auth_type, str):
            return ["properties.authType: required string"]
        subtype = self._subtype(auth_type)
        if subtype is None:
            return [f"properties.authType: unknown discriminator value for api-version {self.version}"]
        walker.check("properties", subtype, properties)
        return walker.problems


class _Walker:
    def __init__(self, schema: SwaggerSchema) -> None:
        self.schema = schema
        self.problems: list[str] = []

    def check(self, path: str, schema: dict[str, Any], value: Any) -> None:
        schema = self.schema.flatten(schema)
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
            self.problems.append(f"{path}: not an allowed value for api-version {self.schema.version}")
        if "format" in schema and not format_ok(schema["format"], value):
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
                sub = self.schema.flatten(properties[name])
                if sub.get("readOnly"):
                    self.problems.append(f"{path}.{name}: read-only; must not be sent")
                else:
                    self.check(f"{path}.{name}", sub, item)
            elif extra is False:
                self.problems.append(f"{path}.{name}: unknown property")
            elif isinstance(extra, dict):
                self.check(f"{path}.{name}", extra, item)
