"""The WorkspaceConnection spec as frozen plain data, and the parser that builds it from the raw object.

The API server's schema and CEL rules (generated from the same tables, see `crd.py`) already refuse most bad
input at `kubectl apply` time. The parser checks the same rules again because objects can predate a CRD
upgrade or come from a cluster whose CRD differs; whatever it refuses becomes `InvalidSpec` with a message
that names the field. It never sees secret values: credentials stay references here.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from wsconn.api import contract
from wsconn.api.authtypes import AUTH_TYPES, CUSTOM_KEYS_FIELD, auth_types_taking, credential_field_names

RawSpec = Mapping[str, Any]
DeletionPolicy = Literal["Delete", "Orphan"]
ADOPTION_POLICIES: Final = ("Adopt", "Refuse")
AdoptionPolicy = Literal["Adopt", "Refuse"]
DELETION_POLICIES: Final = ("Delete", "Orphan")
VALUE_FORMATS: Final = contract.property_enum("valueFormat")
PE_REQUIREMENTS: Final = contract.property_enum("peRequirement")
# The spec fields that are ARM properties of the same name, in body order. Those that only some api-versions
# have (value and valueFormat up to 2025-09-01, peRequirement and useWorkspaceManagedIdentity from 2025-12-01)
# are refused on the others: by the CRD at apply time and by the parser.
ARM_PROPERTIES: Final = (
    "category",
    "target",
    "metadata",
    "isSharedToAll",
    "sharedUserList",
    "expiryTime",
    "peRequirement",
    "useWorkspaceManagedIdentity",
    "value",
    "valueFormat",
)
# The contract says ^[a-zA-Z0-9][a-zA-Z0-9_-]{2,32}$ (3-33 characters), but the service does not enforce the
# bound: it accepted the 34-character `e2etest_wps_conn_test_513561481161` (tests/fixtures/recordings/
# azure-sdk-assets-test_alds_gen_2_crud.json and four more files). The operator keeps the character class and
# allows 3-64 characters; a name ARM refuses ends Stalled with ARM's own code and message.
CONNECTION_NAME_PATTERN: Final = r"^[a-zA-Z0-9][a-zA-Z0-9_-]{2,63}$"


@dataclass(frozen=True)
class Limits:
    """Size bounds shared by the CRD schema and the parser (they keep CEL costs and bodies bounded)."""

    target: int = 2048
    metadata_entries: int = 64
    metadata_key: int = 256
    metadata_value: int = 4096
    shared_users: int = 256
    shared_user: int = 256
    value: int = 65536
    secret_name: int = 253
    secret_key: int = 253
    literal: int = 4096


LIMITS: Final = Limits()
SUBSCRIPTION_ID_PATTERN: Final = (
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
# Kubernetes' own rules for Secret names (DNS-1123 subdomain) and data keys.
SECRET_NAME_PATTERN: Final = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"  # noqa: S105
SECRET_KEY_PATTERN: Final = r"^[-._a-zA-Z0-9]+$"  # noqa: S105
# RFC 3339 date-time, as `format: date-time` means in OpenAPI and in the API server's validator.
DATE_TIME_PATTERN: Final = r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"


@dataclass(frozen=True)
class WorkspaceRef:
    """The Azure ML workspace the connection lives in."""

    subscription_id: str
    resource_group: str
    name: str


@dataclass(frozen=True)
class SecretKeyRef:
    """One key of a Secret in the resource's own namespace."""

    name: str
    key: str


@dataclass(frozen=True)
class LiteralValue:
    """A non-secret credential given inline."""

    value: str


CredentialSource = SecretKeyRef | LiteralValue


@dataclass(frozen=True)
class ConnectionSpec:
    """A parsed, validated spec; credentials are still references."""

    workspace: WorkspaceRef
    connection_name: str
    api_version: str
    auth_type: str
    category: str | None = None
    target: str | None = None
    credentials: tuple[tuple[str, CredentialSource], ...] = ()
    custom_keys_secret: str | None = None
    metadata: tuple[tuple[str, str], ...] | None = None
    is_shared_to_all: bool | None = None
    shared_user_list: tuple[str, ...] | None = None
    expiry_time: str | None = None
    pe_requirement: str | None = None
    use_workspace_managed_identity: bool | None = None
    value: str | None = None
    value_format: str | None = None
    deletion_policy: DeletionPolicy = "Delete"
    azure_credentials: str | None = None
    """The Secret naming the Azure identity (`spec.azureCredentials.secretRef.name`); None: the namespace's
    or the operator's (core/identity.py)."""
    adoption_policy: AdoptionPolicy = "Adopt"

    def secret_names(self) -> frozenset[str]:
        """Names of every Secret this spec reads."""
        names = {src.name for _, src in self.credentials if isinstance(src, SecretKeyRef)}
        if self.custom_keys_secret is not None:
            names.add(self.custom_keys_secret)
        return frozenset(names)


@dataclass(frozen=True)
class FieldError:
    """One problem with the spec, located by its path under `spec`."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"spec.{self.path}: {self.message}"


class InvalidSpecError(ValueError):
    """The spec cannot be turned into a connection; `errors` says where and why."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__("; ".join(str(e) for e in errors))


@dataclass
class _Reader:
    """Collects every problem instead of stopping at the first, so one apply shows them all."""

    errors: list[FieldError] = field(default_factory=list)

    def fail(self, path: str, message: str) -> None:
        self.errors.append(FieldError(path, message))

    def string(
        self,
        raw: Mapping[str, Any],
        key: str,
        path: str,
        *,
        required: bool = False,
        pattern: str | None = None,
        max_length: int | None = None,
        choices: tuple[str, ...] | None = None,
    ) -> str | None:
        if key not in raw or raw[key] is None:
            if required:
                self.fail(path, "Required value")
            return None
        value = raw[key]
        if not isinstance(value, str):
            self.fail(path, f"must be a string, not {_type_name(value)}")
            return None
        if max_length is not None and len(value) > max_length:
            self.fail(path, f"must be at most {max_length} characters, not {len(value)}")
        elif choices is not None and value not in choices:
            self.fail(path, f"unsupported value {_quote(value)}; supported: {', '.join(choices)}")
        elif pattern is not None and not re.fullmatch(pattern, value):
            self.fail(path, f"{_quote(value)} does not match {pattern}")
        return value

    def mapping(
        self, raw: Mapping[str, Any], key: str, path: str, *, required: bool = False
    ) -> Mapping[str, Any] | None:
        value = raw.get(key)
        if value is None:
            if required:
                self.fail(path, "Required value")
            return None
        if not isinstance(value, Mapping):
            self.fail(path, f"must be an object, not {_type_name(value)}")
            return None
        return value


def parse_spec(raw: RawSpec, *, metadata_name: str, default_api_version: str) -> ConnectionSpec:
    """Validate `raw` (the object's `.spec`) and return it as a ConnectionSpec, or raise InvalidSpecError."""
    r = _Reader()
    if not isinstance(raw, Mapping):
        raise InvalidSpecError([FieldError("", "spec must be an object")])
    workspace = _workspace(r, raw)
    connection_name = r.string(raw, "connectionName", "connectionName", pattern=CONNECTION_NAME_PATTERN)
    if connection_name is None and not re.fullmatch(CONNECTION_NAME_PATTERN, metadata_name):
        r.fail(
            "connectionName",
            f"Required value: metadata.name {_quote(metadata_name)} is not a valid connection name "
            f"({CONNECTION_NAME_PATTERN}); set spec.connectionName",
        )
    pinned = r.string(raw, "azureApiVersion", "azureApiVersion", choices=contract.API_VERSIONS)
    api_version = pinned or default_api_version
    auth_type = r.string(raw, "authType", "authType", required=True, choices=contract.auth_types())
    category = r.string(raw, "category", "category", choices=contract.all_categories())
    if api_version in contract.API_VERSIONS:
        _check_version(r, raw, category, api_version, pinned=pinned is not None)
    credentials, custom_keys = _credentials(r, raw, auth_type)
    metadata = _metadata(r, raw)
    shared = _boolean(r, raw, "isSharedToAll")
    expiry = r.string(raw, "expiryTime", "expiryTime", pattern=DATE_TIME_PATTERN)
    if expiry is not None and re.fullmatch(DATE_TIME_PATTERN, expiry) and not is_date_time(expiry):
        r.fail("expiryTime", f"{_quote(expiry)} is not a valid date-time")
    policy = r.string(raw, "deletionPolicy", "deletionPolicy", choices=DELETION_POLICIES) or "Delete"
    adoption = r.string(raw, "adoptionPolicy", "adoptionPolicy", choices=ADOPTION_POLICIES) or "Adopt"
    spec = ConnectionSpec(
        workspace=workspace,
        connection_name=connection_name or metadata_name,
        api_version=api_version,
        auth_type=auth_type or "",
        category=category,
        target=r.string(raw, "target", "target", max_length=LIMITS.target),
        credentials=credentials,
        custom_keys_secret=custom_keys,
        metadata=metadata,
        is_shared_to_all=shared,
        shared_user_list=_shared_users(r, raw),
        expiry_time=expiry,
        pe_requirement=r.string(raw, "peRequirement", "peRequirement", choices=PE_REQUIREMENTS),
        use_workspace_managed_identity=_boolean(r, raw, "useWorkspaceManagedIdentity"),
        value=r.string(raw, "value", "value", max_length=LIMITS.value),
        value_format=r.string(raw, "valueFormat", "valueFormat", choices=VALUE_FORMATS),
        deletion_policy="Orphan" if policy == "Orphan" else "Delete",
        azure_credentials=_azure_credentials(r, raw),
        adoption_policy="Refuse" if adoption == "Refuse" else "Adopt",
    )
    if r.errors:
        raise InvalidSpecError(r.errors)
    return spec


def _azure_credentials(r: _Reader, raw: RawSpec) -> str | None:
    """`spec.azureCredentials.secretRef.name`, when set."""
    section = r.mapping(raw, "azureCredentials", "azureCredentials")
    if section is None:
        return None
    ref = r.mapping(section, "secretRef", "azureCredentials.secretRef", required=True)
    if ref is None:
        return None
    return r.string(
        ref,
        "name",
        "azureCredentials.secretRef.name",
        required=True,
        pattern=SECRET_NAME_PATTERN,
        max_length=LIMITS.secret_name,
    )


def _check_version(r: _Reader, raw: RawSpec, category: str | None, api_version: str, *, pinned: bool) -> None:
    """Refuse what the spec uses that `api_version` does not have (a category, a version-dependent field)."""
    which = api_version if pinned else f"{api_version} (the operator's default)"
    if category in contract.all_categories() and category not in contract.categories(api_version):
        r.fail("category", f"category {category} is not available in azureApiVersion {which}")
    for name in ARM_PROPERTIES:
        if raw.get(name) is not None and api_version not in contract.versions_with(name):
            r.fail(
                name,
                f"Forbidden: {name} is not available in azureApiVersion {which}; "
                f"set azureApiVersion to one of {', '.join(contract.versions_with(name))}",
            )


def _boolean(r: _Reader, raw: RawSpec, key: str) -> bool | None:
    value = raw.get(key)
    if value is not None and not isinstance(value, bool):
        r.fail(key, f"must be a boolean, not {_type_name(value)}")
        return None
    return value


def _workspace(r: _Reader, raw: RawSpec) -> WorkspaceRef:
    ws = r.mapping(raw, "workspace", "workspace", required=True)
    if ws is None:
        return WorkspaceRef("", "", "")
    group = contract.resource_group_parameter()
    return WorkspaceRef(
        subscription_id=r.string(
            ws, "subscriptionId", "workspace.subscriptionId", required=True, pattern=SUBSCRIPTION_ID_PATTERN
        )
        or "",
        resource_group=r.string(
            ws,
            "resourceGroup",
            "workspace.resourceGroup",
            required=True,
            pattern=group["pattern"],
            max_length=group["maxLength"],
        )
        or "",
        name=r.string(ws, "name", "workspace.name", required=True, pattern=contract.workspace_name_pattern())
        or "",
    )


def _credentials(
    r: _Reader, raw: RawSpec, auth_type: str | None
) -> tuple[tuple[tuple[str, CredentialSource], ...], str | None]:
    creds = r.mapping(raw, "credentials", "credentials") or {}
    auth = AUTH_TYPES.get(auth_type or "")
    known = (*credential_field_names(), CUSTOM_KEYS_FIELD)
    for name in creds:
        if name not in known:
            r.fail(f"credentials.{name}", f"unknown credential field; known fields: {', '.join(known)}")
        elif (
            auth is not None
            and auth.field(name) is None
            and not (auth.whole_secret and name == CUSTOM_KEYS_FIELD)
        ):
            users = auth_types_taking(name) if name != CUSTOM_KEYS_FIELD else ("CustomKeys",)
            r.fail(
                f"credentials.{name}",
                f"Forbidden: authType {auth.name} does not take {name} (it is for {', '.join(users)})",
            )
    if auth is None:
        return (), None
    sources: list[tuple[str, CredentialSource]] = []
    for f in auth.fields:
        if f.name not in creds:
            if f.required:
                r.fail(f"credentials.{f.name}", f"Required value: authType {auth.name} needs {f.name}")
            continue
        source = _source(r, creds[f.name], f"credentials.{f.name}", secret=f.secret)
        if source is not None:
            sources.append((f.name, source))
    custom_keys = None
    if auth.whole_secret:
        custom_keys = _custom_keys(r, creds)
    return tuple(sources), custom_keys


def _source(r: _Reader, raw: Any, path: str, *, secret: bool) -> CredentialSource | None:
    if not isinstance(raw, Mapping):
        r.fail(path, f"must be an object with secretKeyRef or value, not {_type_name(raw)}")
        return None
    has_ref, has_value = "secretKeyRef" in raw, "value" in raw
    if has_ref == has_value:
        r.fail(path, "set exactly one of secretKeyRef or value")
        return None
    if has_value:
        if secret:
            r.fail(f"{path}.value", "Forbidden: this field is a secret; reference a Secret with secretKeyRef")
            return None
        literal = r.string(raw, "value", f"{path}.value", required=True, max_length=LIMITS.literal)
        return LiteralValue(literal) if literal is not None else None
    ref = r.mapping(raw, "secretKeyRef", f"{path}.secretKeyRef", required=True)
    if ref is None:
        return None
    name = r.string(
        ref,
        "name",
        f"{path}.secretKeyRef.name",
        required=True,
        pattern=SECRET_NAME_PATTERN,
        max_length=LIMITS.secret_name,
    )
    key = r.string(
        ref,
        "key",
        f"{path}.secretKeyRef.key",
        required=True,
        pattern=SECRET_KEY_PATTERN,
        max_length=LIMITS.secret_key,
    )
    if name is None or key is None:
        return None
    return SecretKeyRef(name, key)


def _custom_keys(r: _Reader, creds: Mapping[str, Any]) -> str | None:
    if creds.get(CUSTOM_KEYS_FIELD) is None:
        r.fail(f"credentials.{CUSTOM_KEYS_FIELD}", "Required value: authType CustomKeys needs keys.secretRef")
        return None
    keys = r.mapping(creds, CUSTOM_KEYS_FIELD, f"credentials.{CUSTOM_KEYS_FIELD}")
    if keys is None:
        return None
    ref = r.mapping(keys, "secretRef", f"credentials.{CUSTOM_KEYS_FIELD}.secretRef", required=True)
    if ref is None:
        return None
    return r.string(
        ref,
        "name",
        f"credentials.{CUSTOM_KEYS_FIELD}.secretRef.name",
        required=True,
        pattern=SECRET_NAME_PATTERN,
        max_length=LIMITS.secret_name,
    )


def _metadata(r: _Reader, raw: RawSpec) -> tuple[tuple[str, str], ...] | None:
    meta = r.mapping(raw, "metadata", "metadata")
    if meta is None:
        return None
    if len(meta) > LIMITS.metadata_entries:
        r.fail("metadata", f"must have at most {LIMITS.metadata_entries} entries, not {len(meta)}")
        return None
    pairs: list[tuple[str, str]] = []
    for key, value in meta.items():
        path = f"metadata.{key}"
        if len(key) > LIMITS.metadata_key:
            r.fail("metadata", f"keys must be at most {LIMITS.metadata_key} characters")
        elif not isinstance(value, str):
            r.fail(path, f"must be a string, not {_type_name(value)}")
        elif len(value) > LIMITS.metadata_value:
            r.fail(path, f"must be at most {LIMITS.metadata_value} characters")
        else:
            pairs.append((key, value))
    return tuple(sorted(pairs))


def _shared_users(r: _Reader, raw: RawSpec) -> tuple[str, ...] | None:
    users = raw.get("sharedUserList")
    if users is None:
        return None
    if not isinstance(users, list):
        r.fail("sharedUserList", f"must be a list, not {_type_name(users)}")
        return None
    if len(users) > LIMITS.shared_users:
        r.fail("sharedUserList", f"must have at most {LIMITS.shared_users} items")
        return None
    out: list[str] = []
    for i, user in enumerate(users):
        if not isinstance(user, str) or len(user) > LIMITS.shared_user:
            r.fail(f"sharedUserList[{i}]", f"must be a string of at most {LIMITS.shared_user} characters")
        else:
            out.append(user)
    return tuple(out)


def is_date_time(value: object) -> bool:
    """Whether `value` is an RFC 3339 date-time (`format: date-time`); non-strings are the type check's job."""
    if not isinstance(value, str):
        return True
    if not re.fullmatch(DATE_TIME_PATTERN, value):
        return False
    try:
        dt.datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _type_name(value: object) -> str:
    return {bool: "boolean", int: "integer", float: "number", list: "list", dict: "object"}.get(
        type(value), type(value).__name__
    )


def _quote(value: str, limit: int = 80) -> str:
    """Quote a user value for a message, cut so that a huge input cannot flood a condition."""
    return repr(value if len(value) <= limit else value[:limit] + "...")
