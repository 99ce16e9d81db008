"""Request-body validation against the pinned ARM contract, before anything is sent.

The contract of each api-version is turned into plain JSON Schema per (api-version, authType), from the file
the operator follows for that version (`contract.source`):
- swagger subsets (2024-04-01, 2025-06-01): `$ref`s are inlined, the `authType` discriminator selects the
  subtype (jsonschema has no discriminator), read-only properties are refused in a request, and
  `additionalProperties: false` is kept exactly where the contract sets it. The contract's string formats
  (date-time, uuid, url, arm-id) are checked too.
- bicep-types subsets (2025-09-01 and later): the discriminated `WorkspaceConnectionPropertiesV2` type's base
  properties plus the authType's element; read-only flags are refused, required flags required, string
  unions become enums (their plain-string member, bicep's mark of an extensible enum, is left out as swagger's
  `modelAsString` is), patterns and lengths are kept. bicep-types carry no string formats and never close an
  object, so neither is checked on these versions (the parser still checks expiryTime's date-time).
On every version the server-owned properties (`contract.SERVER_OWNED`) are refused, and so is a property
that another supported api-version defines but this one does not (`value` on 2025-12-01).
Either way ARM never sees a body it would refuse for a reason the contract states. Error messages name the
JSON path and the rule, never the offending value: the value may be a secret.
"""

from __future__ import annotations

import uuid
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import jsonschema

from wsconn.api import contract
from wsconn.api.spec import is_date_time

Schema = dict[str, Any]
_FORMATS = jsonschema.FormatChecker(formats=())
_FORMATS.checks("date-time")(is_date_time)


@_FORMATS.checks("uuid")
def _is_uuid(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


@_FORMATS.checks("url")
def _is_url(value: object) -> bool:
    if not isinstance(value, str):
        return True
    parsed = urlsplit(value)
    return bool(parsed.scheme and parsed.netloc)


@_FORMATS.checks("arm-id")
def _is_arm_id(value: object) -> bool:
    return not isinstance(value, str) or value.lower().startswith("/subscriptions/")


class BodyInvalidError(ValueError):
    """The body does not satisfy the contract; `problems` are secret-free descriptions."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))

    def in_spec_terms(self) -> str:
        """The problems with body paths as the spec's field paths (spec fields carry ARM's names)."""
        return "; ".join(
            "spec." + p.removeprefix("properties.") if p.startswith("properties.") else p
            for p in self.problems
        )


_READ_ONLY: Schema = {"not": {}, "description": "read-only; must not be sent"}


def _resolve(node: Any, definitions: Schema) -> Any:
    if isinstance(node, list):
        return [_resolve(item, definitions) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = node["$ref"].rsplit("/", 1)[-1]
        merged = {k: v for k, v in node.items() if k != "$ref"}
        return {**_resolve(definitions[target], definitions), **_resolve(merged, definitions)}
    return {
        key: _resolve(value, definitions)
        for key, value in node.items()
        if not key.startswith("x-ms-") and key not in {"discriminator", "example"}
    }


def _request_properties(schema: Schema) -> Schema:
    """Forbid read-only properties (a request never carries them) and drop swagger-only keys."""
    props = {k: (_READ_ONLY if v.get("readOnly") else v) for k, v in schema.get("properties", {}).items()}
    out = {k: v for k, v in schema.items() if k not in {"properties", "allOf", "description"}}
    out["properties"] = props
    return out


@cache
def request_schema(api_version: str, auth_type: str) -> Schema:
    """JSON Schema of a PUT body for `auth_type` on `api_version`."""
    properties = (
        _swagger_properties(api_version, auth_type)
        if contract.source(api_version) == "swagger"
        else _bicep_properties(api_version, auth_type)
    )
    for name in contract.SERVER_OWNED:
        if properties["properties"].get(name) is not _READ_ONLY:
            properties["properties"][name] = {"not": {}, "description": "server-owned; must not be sent"}
    # A property another supported api-version defines but this one does not (value on 2025-12-01,
    # peRequirement on 2025-06-01) is known not to belong here, even where the contract leaves objects open.
    for other in contract.API_VERSIONS:
        for name in contract.version(other).writable():
            properties["properties"].setdefault(
                name, {"not": {}, "description": f"not in api-version {api_version}; must not be sent"}
            )
    return {
        "type": "object",
        "required": ["properties"],
        "properties": {"properties": properties},
        "additionalProperties": False,
    }


def _swagger_properties(api_version: str, auth_type: str) -> Schema:
    definitions = contract.swagger(api_version)["definitions"]
    subtype_name = next(
        (
            name
            for name, d in definitions.items()
            if d.get("x-ms-discriminator-value") == auth_type
            and {"$ref": "#/definitions/WorkspaceConnectionPropertiesV2"} in d.get("allOf", [])
        ),
        None,
    )
    if subtype_name is None:
        raise KeyError(f"authType {auth_type!r} has no subtype in api-version {api_version}")
    base = _resolve(definitions["WorkspaceConnectionPropertiesV2"], definitions)
    subtype = _resolve(definitions[subtype_name], definitions)
    properties = _request_properties(base)
    properties["properties"].update(_request_properties(subtype)["properties"])
    properties["properties"]["authType"] = {"const": auth_type}
    if "additionalProperties" in subtype:
        properties["additionalProperties"] = subtype["additionalProperties"]
    return properties


def _bicep_properties(api_version: str, auth_type: str) -> Schema:
    types = contract.bicep_types(api_version)
    discriminated = contract.bicep_properties_type(types)
    element = discriminated["elements"].get(auth_type)
    if element is None:
        raise KeyError(f"authType {auth_type!r} has no subtype in api-version {api_version}")
    merged = {**discriminated["baseProperties"], **contract.bicep_ref(types, element)["properties"]}
    schema = _bicep_object(types, {"$type": "ObjectType", "properties": merged})
    schema["properties"]["authType"] = {"const": auth_type}
    return schema


def _bicep_object(types: tuple[Schema, ...], node: Schema) -> Schema:
    properties: Schema = {}
    required: list[str] = []
    for name, prop in node.get("properties", {}).items():
        if prop["flags"] & contract.BICEP_READ_ONLY:
            properties[name] = _READ_ONLY
            continue
        properties[name] = _bicep_schema(types, contract.bicep_ref(types, prop["type"]))
        if prop["flags"] & contract.BICEP_REQUIRED:
            required.append(name)
    out: Schema = {"type": "object", "properties": properties}
    if required:
        out["required"] = required
    if "additionalProperties" in node:
        out["additionalProperties"] = _bicep_schema(
            types, contract.bicep_ref(types, node["additionalProperties"])
        )
    return out


def _bicep_schema(types: tuple[Schema, ...], node: Schema) -> Schema:
    kind = node["$type"]
    if kind == "ObjectType":
        return _bicep_object(types, node)
    if kind in {"StringLiteralType", "UnionType"}:
        return {"type": "string", "enum": list(contract.bicep_string_values(types, node))}
    if kind == "StringType":
        bounds: Schema = {k: node[k] for k in ("pattern", "minLength", "maxLength") if k in node}
        return {"type": "string", **bounds}
    if kind == "BooleanType":
        return {"type": "boolean"}
    if kind == "ArrayType":
        return {"type": "array", "items": _bicep_schema(types, contract.bicep_ref(types, node["itemType"]))}
    raise ValueError(f"bicep type {kind} is not used by workspace connections")


def validate_body(body: Schema, api_version: str) -> None:
    """Raise BodyInvalidError unless `body` is a valid PUT body for `api_version`."""
    if api_version not in contract.API_VERSIONS:
        raise BodyInvalidError([f"(api-version): unsupported api-version {api_version!r}"])
    properties = body.get("properties") if isinstance(body, dict) else None
    if not isinstance(properties, dict):
        raise BodyInvalidError(["properties: must be an object"])
    auth_type = properties.get("authType")
    if not isinstance(auth_type, str):
        raise BodyInvalidError(["properties.authType: required"])
    try:
        schema = request_schema(api_version, auth_type)
    except KeyError as exc:
        raise BodyInvalidError([f"properties.authType: {exc.args[0]}"]) from None
    validator = jsonschema.Draft4Validator(schema, format_checker=_FORMATS)
    problems = sorted(_describe(e) for e in validator.iter_errors(body))
    if problems:
        raise BodyInvalidError(problems)


def _describe(error: jsonschema.ValidationError) -> str:
    path = ".".join(str(p) for p in error.absolute_path) or "(body)"
    rule = error.validator
    expected: Any = error.validator_value
    instance: Any = error.instance
    schema: Any = error.schema
    if rule == "enum":
        shown = ", ".join(map(str, expected[:8])) + (", ..." if len(expected) > 8 else "")
        return f"{path}: not one of the allowed values ({shown})"
    if rule == "additionalProperties":
        extra = sorted(set(instance) - set(schema.get("properties", {})))
        return f"{path}: unexpected properties {', '.join(extra)}"
    if rule == "required":
        missing = [r for r in expected if r not in instance]
        return f"{path}: missing {', '.join(missing)}"
    if rule == "not":
        return f"{path}: {schema.get('description', 'must not be sent')}"
    if rule in {"type", "format", "const"}:
        return f"{path}: must be {rule} {expected}"
    return f"{path}: fails {rule}"
