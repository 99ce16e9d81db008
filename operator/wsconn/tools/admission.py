"""What the API server does with a WorkspaceConnection at `kubectl apply` time, offline.

It runs the generated CRD itself (`crd.build_crd()`, the source of `crds/`), in the API server's order:
1. strict decoding (kubectl's default `--validate=strict`): a field the schema does not know refuses the object
   before anything else, as "unknown field";
2. nulls in objects are dropped (the API server prunes them for non-nullable fields);
3. ObjectMeta checks (the name is a DNS-1123 subdomain);
4. the OpenAPI schema: types, enums, patterns, lengths, counts, required fields, `format: date-time`;
5. the CRD's own CEL rules (`x-kubernetes-validations`), evaluated with cel-python, unless step 4 found a
   blocking error (type, required, enum, too long, too many), exactly as the API server skips them
   (apiextensions-apiserver's `hasBlockingErr`). Transition rules (those reading `oldSelf`) need the stored
   object and are skipped, as on create.

Messages are the API server's text (`kubectl apply` prints them as `<field>: <message>`).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, Final

from wsconn.api.crd import build_crd

Schema = Mapping[str, Any]

# ObjectMeta's fields: what the strict decoder accepts under `metadata`.
OBJECT_META_FIELDS: Final = frozenset(
    {
        "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation",
        "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations",
        "ownerReferences", "finalizers", "managedFields",
    }
)  # fmt: skip
DNS1123_SUBDOMAIN: Final = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
DNS1123_SUBDOMAIN_MESSAGE: Final = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and "
    "must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    f"'{DNS1123_SUBDOMAIN}')"
)
RULES_NOT_CHECKED: Final = (
    "Invalid value: null: some validation rules were not checked because the object was invalid; "
    "correct the existing errors to complete validation"
)
# RFC 3339 as Go's time.Parse reads it (kube-openapi's `date-time`): upper-case T and Z only.
_RFC3339: Final = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-](\d{2}):(\d{2}))"
)
_REASONS: Final = {
    "FieldValueForbidden": "Forbidden",
    "FieldValueRequired": "Required value",
    "FieldValueDuplicate": "Duplicate value",
    "FieldValueInvalid": "Invalid value",
}


@dataclass(frozen=True)
class Finding:
    """One refusal: the field path as the API server prints it (None for the object as a whole)."""

    field: str | None
    message: str
    blocking: bool = False

    def __str__(self) -> str:
        return f"{self.field or '<nil>'}: {self.message}"


def openapi_schema() -> Schema:
    """The openAPIV3Schema of the served version of the generated CRD."""
    (version,) = [v for v in build_crd()["spec"]["versions"] if v.get("served")]
    schema: Schema = version["schema"]["openAPIV3Schema"]
    return schema


def admit(obj: Mapping[str, Any]) -> list[Finding]:
    """Everything the API server would refuse about creating `obj` (empty: it would be accepted)."""
    schema = openapi_schema()
    sent = as_sent(obj)
    unknown = list(unknown_fields(sent, schema))
    if unknown:
        return [Finding(path, f'strict decoding error: unknown field "{path}"') for path in unknown]
    pruned = drop_nulls(sent, schema)
    findings = _object_meta(pruned.get("metadata"))
    spec_schema = {**schema, "properties": {k: v for k, v in schema["properties"].items() if k != "status"}}
    findings += schema_findings(pruned, spec_schema, "")
    if any(f.blocking for f in findings):
        return [*findings, Finding(None, RULES_NOT_CHECKED)]
    return findings + cel_findings(pruned, spec_schema)


def as_sent(value: Any) -> Any:
    """`value` as kubectl sends it: YAML turned into JSON, where a whole float (`5.0`) is an integer."""
    if isinstance(value, Mapping):
        return {str(k): as_sent(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_sent(v) for v in value]
    if isinstance(value, float) and value.is_integer() and -(2**63) <= value < 2**63:
        return int(value)
    return value


def unknown_fields(value: Any, schema: Schema, path: str = "") -> Iterator[str]:
    """Paths of fields the schema does not declare (what pruning would drop); ObjectMeta at the root."""
    if isinstance(value, list):
        items = schema.get("items") or {}
        for i, item in enumerate(value):
            yield from unknown_fields(item, items, f"{path}[{i}]")
        return
    if not isinstance(value, Mapping) or schema.get("x-kubernetes-preserve-unknown-fields"):
        return
    properties = schema.get("properties") or {}
    additional = schema.get("additionalProperties")
    for key, child in value.items():
        child_path = f"{path}.{key}" if path else str(key)
        if path == "" and key == "metadata":
            yield from (f"metadata.{k}" for k in (child or {}) if k not in OBJECT_META_FIELDS)
        elif key in properties:
            yield from unknown_fields(child, properties[key], child_path)
        elif isinstance(additional, Mapping):
            yield from unknown_fields(child, additional, child_path)
        else:
            yield child_path


def drop_nulls(value: Any, schema: Schema) -> Any:
    """`value` without the nulls the API server prunes: object fields whose schema is not nullable."""
    if isinstance(value, list):
        return [drop_nulls(item, schema.get("items") or {}) for item in value]
    if not isinstance(value, Mapping):
        return value
    properties = schema.get("properties") or {}
    additional = schema.get("additionalProperties")
    out = {}
    for key, child in value.items():
        child_schema = properties.get(key, additional if isinstance(additional, Mapping) else {})
        if child is None and not child_schema.get("nullable"):
            continue
        out[key] = drop_nulls(child, child_schema)
    return out


def _object_meta(meta: Any) -> list[Finding]:
    if not isinstance(meta, Mapping) or not meta.get("name"):
        return [Finding("metadata.name", "Required value: name or generateName is required", blocking=True)]
    name = meta["name"]
    if not isinstance(name, str):
        return [Finding("metadata.name", f"Invalid value: {_render(name)}: must be a string", blocking=True)]
    problems = []
    if len(name) > 253:
        problems.append("must be no more than 253 characters")
    if not re.fullmatch(DNS1123_SUBDOMAIN, name):
        problems.append(DNS1123_SUBDOMAIN_MESSAGE)
    return [Finding("metadata.name", f"Invalid value: {_render(name)}: {p}") for p in problems]


def schema_findings(value: Any, schema: Schema, path: str) -> list[Finding]:
    """What the OpenAPI schema refuses in `value` at `path`, in the API server's words."""
    out: list[Finding] = []
    expected = schema.get("type")
    actual = json_type(value)
    if schema.get("format") and expected == "string" and not isinstance(value, str | list):
        # kube-openapi checks a formatted field's type as the format, naming Go's type of the value, and
        # lets an array through (its format check looks at strings only).
        go_type = {"integer": "int64", "number": "float64"}.get(actual, "")
        return [
            Finding(
                path,
                f'Invalid value: "{go_type}": {path} in body must be of type {schema["format"]}: "{go_type}"',
                blocking=True,
            )
        ]
    if schema.get("format") and expected == "string" and isinstance(value, list):
        return out
    if expected and not _is_type(value, expected):
        out.append(
            Finding(
                path,
                f'Invalid value: "{actual}": {path} in body must be of type {expected}: "{actual}"',
                blocking=True,
            )
        )
        if "enum" in schema and value not in schema["enum"]:
            out.append(_unsupported(path, value, schema["enum"]))
        return out
    if isinstance(value, str):
        out += _string_findings(value, schema, path)
    elif isinstance(value, Mapping):
        out += _object_findings(value, schema, path)
    elif isinstance(value, list):
        limit = schema.get("maxItems")
        if limit is not None and len(value) > limit:
            out.append(
                Finding(path, f"Too many: {len(value)}: must have at most {limit} items", blocking=True)
            )
        for i, item in enumerate(value):
            out += schema_findings(item, schema.get("items") or {}, f"{path}[{i}]")
    if "enum" in schema and not isinstance(value, str) and value not in schema["enum"]:
        out.append(_unsupported(path, value, schema["enum"]))
    return out


def _string_findings(value: str, schema: Schema, path: str) -> list[Finding]:
    out = []
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        out.append(
            Finding(path, f"Too long: may not be more than {schema['maxLength']} bytes", blocking=True)
        )
    if "minLength" in schema and len(value) < schema["minLength"]:
        out.append(
            Finding(
                path,
                f"Invalid value: {_render(value)}: {path} in body should be at least "
                f"{schema['minLength']} chars long",
            )
        )
    if "pattern" in schema and not _re2_search(schema["pattern"], value):
        out.append(
            Finding(
                path, f"Invalid value: {_render(value)}: {path} in body should match '{schema['pattern']}'"
            )
        )
    if schema.get("format") == "date-time" and not is_rfc3339(value):
        out.append(
            Finding(
                path,
                f"Invalid value: {_render(value)}: {path} in body must be of type date-time: {_render(value)}",
                blocking=True,  # the API server reports a format as a type: "must be of type date-time"
            )
        )
    if "enum" in schema and value not in schema["enum"]:
        out.append(_unsupported(path, value, schema["enum"]))
    return out


def _object_findings(value: Mapping[str, Any], schema: Schema, path: str) -> list[Finding]:
    out = []
    prefix = f"{path}." if path else ""
    out += [
        Finding(f"{prefix}{name}", "Required value", blocking=True)
        for name in schema.get("required", ())
        if name not in value
    ]
    limit = schema.get("maxProperties")
    if limit is not None and len(value) > limit:
        out.append(Finding(path, f"Too many: {len(value)}: must have at most {limit} items", blocking=True))
    properties = schema.get("properties") or {}
    additional = schema.get("additionalProperties")
    for key, child in value.items():
        if key in properties:
            out += schema_findings(child, properties[key], f"{prefix}{key}")
        elif isinstance(additional, Mapping):
            out += schema_findings(child, additional, f"{prefix}{key}")
    return out


def _unsupported(path: str, value: Any, allowed: list[Any]) -> Finding:
    supported = ", ".join(_render(v) for v in allowed)
    return Finding(path, f"Unsupported value: {_render(value)}: supported values: {supported}", blocking=True)


def cel_findings(obj: Mapping[str, Any], schema: Schema) -> list[Finding]:
    """The CRD's CEL rules that `obj` breaks (creation: transition rules skipped)."""
    out: list[Finding] = []
    for path, node, value in _nodes(obj, schema, ""):
        for rule in node.get("x-kubernetes-validations", ()):
            if "oldSelf" in rule["rule"]:
                continue
            verdict = _evaluate(rule["rule"], value)
            if verdict is True:
                continue
            field = path + rule.get("fieldPath", "")
            field = field.removeprefix(".")
            if verdict is not False:
                out.append(Finding(field or None, f'Invalid value: "object": {verdict}'))
                continue
            message = _message(rule, value)
            out.append(
                Finding(field or None, f"{_REASONS.get(rule.get('reason', ''), 'Invalid value')}: {message}")
            )
    return out


def _nodes(value: Any, schema: Schema, path: str) -> Iterator[tuple[str, Schema, Any]]:
    """(path, schema, value) for every value present, parents before children."""
    yield path, schema, value
    if isinstance(value, Mapping):
        properties = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        for key, child in value.items():
            child_schema = properties.get(key, additional if isinstance(additional, Mapping) else None)
            if child_schema is not None:
                yield from _nodes(child, child_schema, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _nodes(item, schema.get("items") or {}, f"{path}[{i}]")


@cache
def _program(expression: str) -> Any:
    import celpy

    env = celpy.Environment()
    return env.program(env.compile(expression))


def _evaluate(expression: str, value: Any) -> bool | str:
    """True or False, or the text of an evaluation error."""
    from celpy import celtypes
    from celpy.evaluation import CELEvalError

    try:
        result = _program(expression).evaluate({"self": _cel(value)})
    except CELEvalError as exc:
        return f"rule {expression!r}: evaluation error: {exc.args[0] if exc.args else exc}"
    if isinstance(result, celtypes.BoolType):
        return bool(result)
    if isinstance(result, CELEvalError):
        return f"rule {expression!r}: evaluation error: {result.args[0] if result.args else result}"
    return f"rule {expression!r}: does not evaluate to a boolean"


def _message(rule: Mapping[str, Any], value: Any) -> str:
    expression = rule.get("messageExpression")
    if expression:
        try:
            result = _program(expression).evaluate({"self": _cel(value)})
        except Exception:  # the API server falls back to `message` when the expression fails
            result = None
        # cel-python answers a concatenation as a plain str, a literal as its StringType (a str subclass).
        if isinstance(result, str) and result.strip():
            return str(result)
    return str(rule.get("message") or f"failed rule: {rule['rule']}")


def _cel(value: Any) -> Any:
    from celpy.adapter import json_to_cel

    return json_to_cel(value)


def json_type(value: Any) -> str:
    """The JSON type name of a value, as the API server names it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def _is_type(value: Any, expected: str) -> bool:
    actual = json_type(value)
    return actual == expected or (expected == "number" and actual == "integer")


def is_rfc3339(value: str) -> bool:
    """Whether `value` is a date-time as the API server's `format: date-time` accepts it."""
    match = _RFC3339.fullmatch(value)
    if match is None:
        return False
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    if match.group(9) is not None and (int(match.group(9)) > 23 or int(match.group(10)) > 59):
        return False
    try:
        dt.datetime(year, month, day, hour, minute, second)  # only the ranges are checked
    except ValueError:
        return False
    return True


def _re2_search(pattern: str, value: str) -> bool:
    """OpenAPI `pattern` semantics (unanchored search), with RE2 like the API server."""
    import re2  # type: ignore[import-untyped]

    return re2.search(pattern, value) is not None


def _render(value: Any) -> str:
    """A value as the API server shows it in a message: strings quoted as Go quotes them, the rest as JSON."""
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e21 else repr(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


_ESCAPES: Final = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def go_quote(text: str) -> str:
    """Go's strconv.Quote: printable characters kept, the rest escaped (\\x, \\u, \\U)."""
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch.isprintable():
            out.append(ch)
        elif ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif code < 0x80:
            out.append(f"\\x{code:02x}")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)
