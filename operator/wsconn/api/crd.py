"""The WorkspaceConnection CRD, generated from the contract and the authType table.

`hack/gen-crd` writes it to `crds/` and to the Helm chart; a test regenerates it and fails on any
difference, so the CRD, the parser (`spec.py`), the body builder and the docs cannot drift apart.

What the API server refuses, at `kubectl apply` time:
- shape and enums: authType, category (any supported api-version), azureApiVersion, deletionPolicy, patterns
  for names, `format: date-time` for expiryTime, string-only metadata, size bounds;
- per credential field: exactly one of secretKeyRef or value; no literal value for a secret field; the field
  must belong to the authType; each authType's required fields present;
- a category that the chosen azureApiVersion does not have, and a field it does not have (value and
  valueFormat up to 2025-09-01, peRequirement and useWorkspaceManagedIdentity from 2025-12-01); an unset
  azureApiVersion is judged as the built-in default (the operator's own check uses its configured default);
- a changed connection name (effective: spec.connectionName, else metadata.name) or workspace.
"""

from __future__ import annotations

from typing import Any, Final

from wsconn.api import contract
from wsconn.api import status as status_model
from wsconn.api.authtypes import (
    AUTH_TYPES,
    CUSTOM_KEYS_FIELD,
    auth_types_taking,
    credential_field_names,
    is_secret_field,
)
from wsconn.api.spec import (
    ADOPTION_POLICIES,
    ARM_PROPERTIES,
    CONNECTION_NAME_PATTERN,
    DELETION_POLICIES,
    LIMITS,
    PE_REQUIREMENTS,
    SECRET_KEY_PATTERN,
    SECRET_NAME_PATTERN,
    SUBSCRIPTION_ID_PATTERN,
    VALUE_FORMATS,
)

GROUP: Final = "azureml.dev"
VERSION: Final = "v1alpha1"
KIND: Final = "WorkspaceConnection"
PLURAL: Final = "workspaceconnections"
SINGULAR: Final = "workspaceconnection"
SHORT_NAMES: Final = ("amlconn",)
CRD_NAME: Final = f"{PLURAL}.{GROUP}"
CONDITION_TYPES: Final = ("Ready", "Reconciling", "Stalled")

Schema = dict[str, Any]


def _string(description: str, **extra: Any) -> Schema:
    return {"type": "string", "description": description, **extra}


def _rule(rule: str, message: str, *, field_path: str | None = None, reason: str | None = None) -> Schema:
    out: Schema = {"rule": rule, "message": message}
    if field_path:
        out["fieldPath"] = field_path
    if reason:
        out["reason"] = reason
    return out


def _cel_list(values: tuple[str, ...]) -> str:
    return "[" + ", ".join(f"'{v}'" for v in values) + "]"


def _secret_key_ref() -> Schema:
    return {
        "type": "object",
        "description": "A key of a Secret in this resource's namespace.",
        "required": ["name", "key"],
        "properties": {
            "name": _string("Secret name.", pattern=SECRET_NAME_PATTERN, maxLength=LIMITS.secret_name),
            "key": _string(
                "Key in the Secret's data.", pattern=SECRET_KEY_PATTERN, maxLength=LIMITS.secret_key
            ),
        },
    }


def _credential_field(name: str) -> Schema:
    secret = is_secret_field(name)
    users = ", ".join(auth_types_taking(name))
    rules = [_rule("has(self.secretKeyRef) != has(self.value)", "set exactly one of secretKeyRef or value")]
    if secret:
        rules.append(
            _rule(
                "!has(self.value)",
                f"{name} is a secret: reference a Secret with secretKeyRef instead of a literal value",
                field_path=".value",
                reason="FieldValueForbidden",
            )
        )
    return {
        "type": "object",
        "description": f"{name} ({'secret; ' if secret else ''}used by authType {users}).",
        "properties": {
            "secretKeyRef": _secret_key_ref(),
            "value": _string(
                "Literal value; only for fields that are not secrets.", maxLength=LIMITS.literal
            ),
        },
        "x-kubernetes-validations": rules,
    }


def _credentials() -> Schema:
    properties: Schema = {name: _credential_field(name) for name in credential_field_names()}
    properties[CUSTOM_KEYS_FIELD] = {
        "type": "object",
        "description": "CustomKeys only: every data key of the Secret becomes a key of the connection.",
        "required": ["secretRef"],
        "properties": {
            "secretRef": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": _string("Secret name.", pattern=SECRET_NAME_PATTERN, maxLength=LIMITS.secret_name)
                },
            }
        },
    }
    return {
        "type": "object",
        "description": "Credentials; which fields are allowed depends on authType (see docs/crd.md).",
        "properties": properties,
    }


def _credential_rules() -> list[Schema]:
    """One rule per field (does it belong to the authType?) and one for the authTypes' required fields."""
    rules: list[Schema] = []
    for name in (*credential_field_names(), CUSTOM_KEYS_FIELD):
        users = auth_types_taking(name) if name != CUSTOM_KEYS_FIELD else ("CustomKeys",)
        rules.append(
            _rule(
                f"!has(self.credentials) || !has(self.credentials.{name}) || self.authType in {_cel_list(users)}",
                f"credentials.{name} is only valid with authType {' or '.join(users)}",
                field_path=f".credentials.{name}",
                reason="FieldValueForbidden",
            )
        )
    return [*rules, _required_rule()]


def _required_rule() -> Schema:
    """Are the authType's required fields there? One rule for every authType, not one each: a spec has one
    authType, so at most one of them could fail, and the API server evaluates every rule on every write
    (issue 16: 4.4 ms of CEL per create). Its error reads as each authType's own did."""
    required: dict[str, list[str]] = {}
    for auth in AUTH_TYPES.values():
        fields = [f.name for f in auth.fields if f.required] + (
            [CUSTOM_KEYS_FIELD] if auth.whole_secret else []
        )
        if fields:
            required[auth.name] = fields
    chain = "".join(
        f"self.authType == '{auth}' ? {' && '.join(f'has(self.credentials.{n})' for n in fields)} : "
        for auth, fields in required.items()
    )
    listed = ", ".join(f"'{auth}': '{', '.join(fields)}'" for auth, fields in required.items())
    return {
        **_rule(
            f"!(self.authType in {_cel_list(tuple(required))}) || (has(self.credentials) && ({chain}true))",
            "credentials lacks a field the authType requires (docs/crd.md lists them)",
            field_path=".credentials",
            reason="FieldValueRequired",
        ),
        "messageExpression": f"'authType ' + self.authType + ' requires credentials ' + {{{listed}}}[self.authType]",
    }


# The api-version a spec is sent with, as far as the API server can tell: an unset azureApiVersion is the
# operator's built-in default (an operator configured with another default re-checks with that one).
_EFFECTIVE_VERSION: Final = (
    f"(has(self.azureApiVersion) ? self.azureApiVersion : '{contract.DEFAULT_API_VERSION}')"
)


def _category_rules() -> list[Schema]:
    """The categories missing from some api-versions, in one rule: a spec has one category and one api-version,
    so at most one per-version rule could fail, and one rule costs the API server one evaluation per write."""
    every = contract.all_categories()
    lacking = {
        version: missing
        for version in contract.API_VERSIONS
        if (missing := tuple(c for c in every if c not in contract.categories(version)))
    }
    if not lacking:
        return []
    table = "{" + ", ".join(f"'{v}': {_cel_list(m)}" for v, m in lacking.items()) + "}"
    return [
        {
            **_rule(
                f"!has(self.category) || !({_EFFECTIVE_VERSION} in {table})"
                f" || !(self.category in {table}[{_EFFECTIVE_VERSION}])",
                "category is not available in this azureApiVersion (docs/crd.md lists the versions)",
                field_path=".category",
                reason="FieldValueInvalid",
            ),
            "messageExpression": f"'category ' + self.category + ' is not available in azureApiVersion ' + "
            f"{_EFFECTIVE_VERSION}",
        }
    ]


def _versioned_field_rules() -> list[Schema]:
    """One rule per field that only some api-versions have, naming the field and the version."""
    rules: list[Schema] = []
    for name in ARM_PROPERTIES:
        having = contract.versions_with(name)
        lacking = tuple(v for v in contract.API_VERSIONS if v not in having)
        if not lacking:
            continue
        rules.append(
            {
                **_rule(
                    f"!has(self.{name}) || !({_EFFECTIVE_VERSION} in {_cel_list(lacking)})",
                    f"{name} is not available in azureApiVersion {', '.join(lacking)}; "
                    f"set azureApiVersion to one of {', '.join(having)}",
                    field_path=f".{name}",
                    reason="FieldValueForbidden",
                ),
                "messageExpression": f"'{name} is not available in azureApiVersion ' + {_EFFECTIVE_VERSION}"
                + f" + '; set azureApiVersion to one of {', '.join(having)}'",
            }
        )
    return rules


def spec_schema() -> Schema:
    """The openAPIV3Schema of `.spec`."""
    group = contract.resource_group_parameter()
    return {
        "type": "object",
        "description": "The desired Azure ML workspace connection.",
        "required": ["workspace", "authType"],
        "properties": {
            "workspace": {
                "type": "object",
                "description": "Where the connection lives. Immutable.",
                "required": ["subscriptionId", "resourceGroup", "name"],
                "properties": {
                    "subscriptionId": _string(
                        "Azure subscription ID (a GUID).", pattern=SUBSCRIPTION_ID_PATTERN
                    ),
                    "resourceGroup": _string(
                        "Resource group name.",
                        pattern=group["pattern"],
                        minLength=group["minLength"],
                        maxLength=group["maxLength"],
                    ),
                    "name": _string("Workspace name.", pattern=contract.workspace_name_pattern()),
                },
                "x-kubernetes-validations": [_rule("self == oldSelf", "workspace is immutable")],
            },
            "connectionName": _string(
                "Name of the connection in Azure (3-64 characters); defaults to metadata.name. Immutable.",
                pattern=CONNECTION_NAME_PATTERN,
            ),
            "azureApiVersion": _string(
                "ARM api-version to use; the operator's default when unset.", enum=list(contract.API_VERSIONS)
            ),
            "authType": _string("How the connection authenticates.", enum=list(contract.auth_types())),
            "category": _string(
                "Connection category; must exist in azureApiVersion.", enum=list(contract.all_categories())
            ),
            "target": _string(
                "Connection target (URL, host or other, per category).", maxLength=LIMITS.target
            ),
            "credentials": _credentials(),
            "metadata": {
                "type": "object",
                "description": "String-to-string metadata (ApiType, ApiVersion, Kind, ResourceId...).",
                "maxProperties": LIMITS.metadata_entries,
                "additionalProperties": {"type": "string", "maxLength": LIMITS.metadata_value},
            },
            "isSharedToAll": {"type": "boolean", "description": "Share with every workspace user."},
            "sharedUserList": {
                "type": "array",
                "description": "Users the connection is shared with.",
                "maxItems": LIMITS.shared_users,
                "items": {"type": "string", "maxLength": LIMITS.shared_user},
            },
            "expiryTime": _string("When the credentials expire (RFC 3339).", format="date-time"),
            "peRequirement": _string(
                f"Private endpoint requirement ({_versions('peRequirement')}).", enum=list(PE_REQUIREMENTS)
            ),
            "useWorkspaceManagedIdentity": {
                "type": "boolean",
                "description": "Use the workspace's managed identity "
                f"({_versions('useWorkspaceManagedIdentity')}).",
            },
            "value": _string(
                f"Legacy ARM value field, write-only ({_versions('value')}).", maxLength=LIMITS.value
            ),
            "valueFormat": _string(
                f"Format of value, write-only ({_versions('valueFormat')}).", enum=list(VALUE_FORMATS)
            ),
            "deletionPolicy": _string(
                "Delete: delete the connection in Azure with the resource. Orphan: leave it.",
                enum=list(DELETION_POLICIES),
                default="Delete",
            ),
            "azureCredentials": {
                "type": "object",
                "description": "The Azure identity that writes this connection: a Secret in this resource's "
                "namespace holding AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET, "
                "AZURE_CLIENT_CERTIFICATE or AZURE_USE_WORKLOAD_IDENTITY. Unset: the namespace's "
                "wsconn-azure-credentials Secret, else the operator's identity where allowed.",
                "required": ["secretRef"],
                "properties": {
                    "secretRef": {
                        "type": "object",
                        "required": ["name"],
                        "properties": {
                            "name": _string(
                                "Secret name.", pattern=SECRET_NAME_PATTERN, maxLength=LIMITS.secret_name
                            )
                        },
                    }
                },
            },
            "adoptionPolicy": _string(
                "Adopt: take over a connection that already exists in Azure. Refuse: leave it alone "
                "(Stalled, AlreadyExists; deleting the resource then deletes nothing).",
                enum=list(ADOPTION_POLICIES),
                default="Adopt",
            ),
        },
        "x-kubernetes-validations": _credential_rules() + _category_rules() + _versioned_field_rules(),
    }


def _versions(name: str) -> str:
    """Which api-versions have a field, for its description."""
    having = contract.versions_with(name)
    if having[-1] == contract.API_VERSIONS[-1]:
        return f"azureApiVersion {having[0]} and later"
    if having[0] == contract.API_VERSIONS[0]:
        return f"azureApiVersion {having[-1]} and earlier"
    return f"azureApiVersion {', '.join(having)}"


def status_schema() -> Schema:
    """The openAPIV3Schema of `.status` (kstatus conditions plus what was applied)."""
    condition = {
        "type": "object",
        "required": ["type", "status"],
        "properties": {
            "type": _string("Ready, Reconciling or Stalled."),
            "status": _string("True, False or Unknown.", enum=["True", "False", "Unknown"]),
            "reason": _string("A stable reason from docs/reasons.md."),
            "message": _string("What happened, for people."),
            "observedGeneration": {"type": "integer", "format": "int64"},
            "lastTransitionTime": _string("When status last changed.", format="date-time"),
        },
    }
    return {
        "type": "object",
        # A new object reads back with observedGeneration 0, so kstatus (Flux, Argo CD) reports it
        # InProgress until the operator has looked at it, instead of Current with no status at all.
        "default": {"observedGeneration": 0},
        "properties": {
            "observedGeneration": {"type": "integer", "format": "int64"},
            "observedGenerationTime": _string(
                "When the operator first saw observedGeneration; the missing-Secret grace counts from it.",
                format="date-time",
            ),
            "conditions": {
                "type": "array",
                "items": condition,
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["type"],
            },
            "id": _string("ARM resource ID of the connection."),
            "group": _string("Connection group, derived by Azure from the category."),
            "azureApiVersion": _string("The api-version of the last apply."),
            "appliedFingerprint": _string(
                "sha256 of the applied non-secret body and the resource versions of the Secrets used."
            ),
            "rejectedFingerprint": _string(
                "Fingerprint of a body Azure refused; not retried until it changes."
            ),
            "secretVersions": {
                "type": "object",
                "description": "resourceVersion of each Secret used in the last apply.",
                "additionalProperties": {"type": "string"},
            },
            "lastAppliedTime": _string("When the connection was last written to Azure.", format="date-time"),
            "lastCheckedTime": _string(
                "When Azure was last read (a PUT or a drift check); a clean check is written at most hourly.",
                format="date-time",
            ),
            "azureIdentity": {
                "type": "object",
                "description": "The Azure identity the last pass used (never a secret).",
                "properties": {
                    "source": _string(
                        "Resource (spec.azureCredentials), Namespace (wsconn-azure-credentials) or Operator.",
                        enum=["Resource", "Namespace", "Operator"],
                    ),
                    "tenantId": _string("Entra tenant of the identity."),
                    "clientId": _string("Client (application) id of the identity."),
                },
            },
            status_model.FRAMEWORK_FIELD: {
                "type": "object",
                "description": "The operator framework's own records (handler progress, last handled spec).",
                "x-kubernetes-preserve-unknown-fields": True,
            },
            "adopted": {
                "type": "boolean",
                "description": "The connection existed in Azure before this resource first wrote it.",
            },
            "lastHandledReconcileAt": _string(
                "The value of the azureml.dev/reconcile-requested-at annotation last handled."
            ),
        },
    }


def _condition_column(name: str, path: str) -> Schema:
    return {"name": name, "type": "string", "jsonPath": f'.status.conditions[?(@.type=="Ready")].{path}'}


def build_crd() -> Schema:
    """The whole CustomResourceDefinition as a dict."""
    name_rule = CONNECTION_NAME_PATTERN
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": CRD_NAME},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": KIND,
                "plural": PLURAL,
                "singular": SINGULAR,
                "shortNames": list(SHORT_NAMES),
                "listKind": f"{KIND}List",
                "categories": ["azureml"],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [
                        _condition_column("Ready", "status"),
                        _condition_column("Reason", "reason"),
                        {"name": "Category", "type": "string", "jsonPath": ".spec.category"},
                        {"name": "AuthType", "type": "string", "jsonPath": ".spec.authType"},
                        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                    ],
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": "An Azure Machine Learning workspace connection.",
                            "required": ["spec"],
                            "properties": {
                                "apiVersion": {"type": "string"},
                                "kind": {"type": "string"},
                                "metadata": {"type": "object"},
                                "spec": spec_schema(),
                                "status": status_schema(),
                            },
                            "x-kubernetes-validations": [
                                _rule(
                                    f"has(self.spec.connectionName) || self.metadata.name.matches('{name_rule}')",
                                    f"metadata.name is not a valid connection name ({name_rule}): "
                                    "set spec.connectionName",
                                    field_path=".spec.connectionName",
                                    reason="FieldValueRequired",
                                ),
                                _rule(
                                    "(has(self.spec.connectionName) ? self.spec.connectionName : self.metadata.name)"
                                    " == (has(oldSelf.spec.connectionName) ? oldSelf.spec.connectionName"
                                    " : oldSelf.metadata.name)",
                                    "connectionName is immutable",
                                    field_path=".spec.connectionName",
                                    reason="FieldValueInvalid",
                                ),
                            ],
                        }
                    },
                }
            ],
        },
    }


GENERATED_HEADER: Final = "# Generated by hack/gen-crd from operator/wsconn/api/; do not edit by hand.\n"


def render_yaml() -> str:
    """The CRD as the YAML text checked into crds/ and the Helm chart."""
    import yaml

    return GENERATED_HEADER + yaml.safe_dump(build_crd(), sort_keys=False, width=120, allow_unicode=True)
