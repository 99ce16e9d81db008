"""The bicep-types subsets (2025-09-01, 2025-12-01, 2026-05-01) read as a request schema.

No swagger subset is pinned for these versions (NEWER-VERSIONS.md); their `bicep-types.connections-subset.json`
is the machine-readable reading of the upstream specs. This module walks it from the resource type
`Microsoft.MachineLearningServices/workspaces/connections@<version>`: object types with their property flags
(Required 1, ReadOnly 2), the `authType`-discriminated properties, unions of string literals (the enums),
string patterns and lengths, arrays, booleans and `additionalProperties` maps.

Three readings are decisions (docs/emulator.md, Decisions):
- an object type without `additionalProperties` is closed (bicep-types do not keep swagger's open objects), so
  `value`/`valueFormat` are refused where the version has no such property;
- a union of literals and `string` is checked against its literals (the enums are `modelAsString`, but the
  emulator refuses what the version does not list, as it does for the swagger versions);
- bicep-types carry no swagger `format`; a property whose object type has a swagger definition of the same
  name in the newest pinned swagger (2025-06-01) keeps that definition's format (date-time, uuid, url).
`error` and `peStatus` are writable by their flags but are the service's status: they are refused as read-only.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from typing import Any

from wsconn_testbed.emulator import swagger

_CONTRACT = "wsconn.arm.contract"
_REQUIRED, _READ_ONLY = 1, 2
SERVER_OWNED = frozenset({"error", "peStatus"})
"""Writable by their bicep flags, but owned by the service (it answers `error: null`, `peStatus` NotApplicable)."""
FORMATS_FROM = "2025-06-01"
"""The swagger whose definitions lend their formats to same-named bicep object types."""


@cache
def types(version: str) -> list[dict[str, Any]]:
    """The pinned bicep-types subset of a contract version (`$ref: '#/N'` indexes this list)."""
    text = resources.files(_CONTRACT).joinpath(version, "bicep-types.connections-subset.json").read_text()
    data: list[dict[str, Any]] = json.loads(text)["types"]
    return data


class BicepSchema:
    """The request schema of one bicep-types subset."""

    def __init__(self, version: str) -> None:
        self.version = version
        self.types = types(version)

    def resolve(self, ref: dict[str, Any]) -> dict[str, Any]:
        """The type a `{"$ref": "#/N"}` points to."""
        return self.types[int(ref["$ref"].removeprefix("#/"))]

    def _body(self) -> dict[str, Any]:
        name = f"Microsoft.MachineLearningServices/workspaces/connections@{self.version}"
        [resource] = [t for t in self.types if t["$type"] == "ResourceType" and t["name"] == name]
        return self.resolve(resource["body"])

    def _properties_type(self) -> dict[str, Any]:
        return self.resolve(self._body()["properties"]["properties"]["type"])

    def _elements(self) -> dict[str, dict[str, Any]]:
        """authType (lower-cased) -> its element object type."""
        return {k.lower(): self.resolve(v) for k, v in self._properties_type()["elements"].items()}

    def auth_types(self) -> dict[str, str]:
        """authType (lower-cased) -> its canonical spelling."""
        return {k.lower(): k for k in self._properties_type()["elements"]}

    def categories(self) -> tuple[str, ...]:
        """The ConnectionCategory literals."""
        union = self.resolve(self._properties_type()["baseProperties"]["category"]["type"])
        return tuple(self.literals(union))

    def literals(self, union: dict[str, Any]) -> list[str]:
        """The string literals of a union (an enum)."""
        found = (self.resolve(e) for e in union["elements"])
        return [t["value"] for t in found if t["$type"] == "StringLiteralType"]

    def _merged(self, auth_type: str) -> dict[str, Any] | None:
        """The properties of an authType: the base properties and its element's, with their flags."""
        element = self._elements().get(auth_type.lower())
        if element is None:
            return None
        return {**self._properties_type()["baseProperties"], **element["properties"]}

    def read_only(self, name: str, prop: dict[str, Any]) -> bool:
        """Whether a property may not be sent (its ReadOnly flag, or owned by the service)."""
        return bool(prop["flags"] & _READ_ONLY) or name in SERVER_OWNED

    def credential_fields(self, auth_type: str) -> tuple[str, ...] | None:
        """Credential field names of an authType; None when it has no `credentials`."""
        creds = (self._merged(auth_type) or {}).get("credentials")
        if creds is None:
            return None
        return tuple(self.resolve(creds["type"]).get("properties", {}))

    def writable(self, auth_type: str) -> frozenset[str]:
        """The properties a PUT of this authType may set."""
        merged = self._merged(auth_type) or {}
        return frozenset(name for name, prop in merged.items() if not self.read_only(name, prop))

    def envelope(self) -> dict[str, bool]:
        """Top-level member names of the PUT body -> whether they are read-only."""
        return {name: bool(prop["flags"] & _READ_ONLY) for name, prop in self._body()["properties"].items()}

    def check_properties(self, properties: dict[str, Any], *, require_auth_type: bool) -> list[str]:
        """Problems with `properties`: the authType's element, or the base properties for a partial PATCH."""
        walker = _Walker(self)
        auth_type = properties.get("authType")
        if auth_type is None and not require_auth_type:
            base = {
                n: {**p, "flags": p["flags"] & ~_REQUIRED}
                for n, p in self._properties_type()["baseProperties"].items()
            }
            walker.object_members("properties", "WorkspaceConnectionPropertiesV2", base, None, properties)
            return walker.problems
        if not isinstance(auth_type, str):
            return ["properties.authType: required string"]
        merged = self._merged(auth_type)
        if merged is None:
            return [f"properties.authType: unknown discriminator value for api-version {self.version}"]
        walker.object_members("properties", "WorkspaceConnectionPropertiesV2", merged, None, properties)
        return walker.problems


class _Walker:
    def __init__(self, schema: BicepSchema) -> None:
        self.schema = schema
        self.problems: list[str] = []
        self.formats = swagger.formats(FORMATS_FROM)

    def check(self, path: str, kind: dict[str, Any], value: Any, fmt: str = "") -> None:
        if value is None:
            self.problems.append(f"{path}: must not be null")
            return
        tag = kind["$type"]
        if tag == "ObjectType":
            if not isinstance(value, dict):
                self.problems.append(f"{path}: must be an object")
                return
            extra = kind.get("additionalProperties")
            self.object_members(path, kind.get("name", ""), kind.get("properties", {}), extra, value)
        elif tag == "ArrayType":
            if not isinstance(value, list):
                self.problems.append(f"{path}: must be an array")
                return
            for i, item in enumerate(value):
                self.check(f"{path}[{i}]", self.schema.resolve(kind["itemType"]), item)
        elif tag == "BooleanType":
            if not isinstance(value, bool):
                self.problems.append(f"{path}: must be a boolean")
        elif tag in ("StringType", "StringLiteralType", "UnionType"):
            self._string(path, kind, value, fmt)
        elif tag == "IntegerType" and (not isinstance(value, int) or isinstance(value, bool)):
            self.problems.append(f"{path}: must be an integer")

    def object_members(
        self,
        path: str,
        type_name: str,
        properties: dict[str, Any],
        extra: dict[str, Any] | None,
        value: dict[str, Any],
    ) -> None:
        """Check an object's members against its properties (flags) and `additionalProperties`."""
        for name, prop in properties.items():
            if prop["flags"] & _REQUIRED and name not in value:
                self.problems.append(f"{path}.{name}: required")
        formats = self.formats.get(type_name, {})
        for name, item in value.items():
            prop = properties.get(name)
            if prop is not None:
                if self.schema.read_only(name, prop):
                    self.problems.append(f"{path}.{name}: read-only; must not be sent")
                else:
                    self.check(
                        f"{path}.{name}", self.schema.resolve(prop["type"]), item, formats.get(name, "")
                    )
            elif extra is not None:
                self.check(f"{path}.{name}", self.schema.resolve(extra), item)
            else:
                self.problems.append(f"{path}.{name}: unknown property")

    def _string(self, path: str, kind: dict[str, Any], value: Any, fmt: str) -> None:
        if not isinstance(value, str):
            self.problems.append(f"{path}: must be a string")
            return
        tag = kind["$type"]
        allowed = (
            [kind["value"]]
            if tag == "StringLiteralType"
            else self.schema.literals(kind)
            if tag == "UnionType"
            else []
        )
        if allowed and value.lower() not in {a.lower() for a in allowed}:
            self.problems.append(f"{path}: not an allowed value for api-version {self.schema.version}")
        pattern = kind.get("pattern")
        if pattern and not re.search(pattern, value):
            self.problems.append(f"{path}: must match {pattern}")
        if len(value) < kind.get("minLength", 0) or len(value) > kind.get("maxLength", len(value)):
            self.problems.append(f"{path}: length out of range")
        if fmt and not swagger.format_ok(fmt, value):
            self.problems.append(f"{path}: must have format {fmt}")
