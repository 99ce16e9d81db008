"""`wsconn convert`: Azure ML CLI v2 connection YAML (`az ml connection create --file`) to manifests.

The mapping is azure-ai-ml's own (CONNECTIONS.md §8, verified there against `_to_rest_object`): the YAML
`type` selects the category and the keys it takes, `credentials.type` (or a top-level `api_key`) the authType,
and snake_case credential keys become ARM's camelCase fields. Two deliberate differences, as the operator
sends them: categories in their canonical casing (`AzureOpenAI`, not the SDK's `AzureOpenAi`) and AccountKey as
`{key}`. Unknown keys are refused, as azure-ai-ml refuses them.

Secret values never reach stdout: the Secret manifest printed there is a stub (key names, empty values);
the values go only to a file of mode 0600 under `--output-dir`. A value that is a placeholder (`<...>`,
`${{...}}`, `XXXX`, `...PlaceHolder...`) becomes a stub there too. Every result is checked with
`wsconn validate`'s own checks before it is written.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from wsconn.api.authtypes import AUTH_TYPES, is_secret_field
from wsconn.api.crd import GROUP, KIND, VERSION
from wsconn.api.spec import WorkspaceRef
from wsconn.tools.manifests import SECRET_WARNING, Document, dump, read_documents, write_private
from wsconn.tools.validate import validate

# credentials.type -> (authType, {YAML key: ARM credential field})
CREDENTIALS: Final[dict[str, tuple[str, dict[str, str]]]] = {
    "pat": ("PAT", {"pat": "pat"}),
    "sas": ("SAS", {"sas_token": "sas"}),
    "username_password": (
        "UsernamePassword",
        {"username": "username", "password": "password", "security_token": "securityToken"},
    ),
    "managed_identity": ("ManagedIdentity", {"client_id": "clientId", "resource_id": "resourceId"}),
    "service_principal": (
        "ServicePrincipal",
        {"client_id": "clientId", "client_secret": "clientSecret", "tenant_id": "tenantId"},
    ),
    "access_key": ("AccessKey", {"access_key_id": "accessKeyId", "secret_access_key": "secretAccessKey"}),
    "api_key": ("ApiKey", {"key": "key"}),
    "account_key": ("AccountKey", {"account_key": "key"}),
    "aad": ("AAD", {}),
    "none": ("None", {}),
}
BASE_CREDENTIALS: Final = (
    "pat", "sas", "username_password", "managed_identity", "service_principal", "access_key", "api_key", "none",
)  # fmt: skip
# Every type inherits these from azure-ai-ml's base schema (`target` and `credentials` included).
COMMON_KEYS: Final = frozenset(
    {"$schema", "name", "type", "target", "credentials", "is_shared", "metadata", "tags", "description", "id"}
)
API_KEY_CREDENTIALS: Final = ("api_key", "aad", "none")
_PLACEHOLDER: Final = re.compile(r"^(<.*>|\$\{\{?.*\}\}?|[xX*]{3,}|.*place\s*holder.*)$", re.IGNORECASE)


@dataclass(frozen=True)
class CliType:
    """One `type` of azure-ai-ml's connection schema and how it maps to a WorkspaceConnection."""

    name: str
    category: str
    target_key: str | None = "target"
    credentials: tuple[str, ...] = BASE_CREDENTIALS
    default_credentials: str = "none"
    api_key: str = "no"  # "no": none; "optional": ApiKey when given, else AAD; "required"
    keys: tuple[str, ...] = ()
    required: tuple[str, ...] = ()
    metadata: Callable[[Mapping[str, Any]], dict[str, str]] = field(default=lambda _: {})
    target: Callable[[Mapping[str, Any]], str | None] | None = None


def _one_lake_target(doc: Mapping[str, Any]) -> str | None:
    if doc.get("target"):
        return str(doc["target"])
    artifact = doc.get("artifact") or {}
    return f"https://{doc['endpoint']}/{doc['one_lake_workspace_name']}/{artifact.get('name')}.Lakehouse"


def _set(**pairs: Any) -> dict[str, str]:
    return {k: str(v) for k, v in pairs.items() if v is not None}


_BASE = {
    "git": "Git",
    "container_registry": "ContainerRegistry",
    "python_feed": "PythonFeed",
    "s3": "S3",
    "snowflake": "Snowflake",
    "azure_sql_db": "AzureSqlDb",
    "azure_synapse_analytics": "AzureSynapseAnalytics",
    "azure_my_sql_db": "AzureMySqlDb",
    "azure_postgres_db": "AzurePostgresDb",
    "custom": "CustomKeys",
}
TYPES: Final[dict[str, CliType]] = {
    t.name: t
    for t in (
        *(CliType(name, category) for name, category in _BASE.items()),
        CliType(
            "azure_data_lake_gen2",
            "ADLSGen2",
            credentials=(*BASE_CREDENTIALS, "aad"),
            default_credentials="aad",
        ),
        CliType(
            "azure_open_ai",
            "AzureOpenAI",
            target_key="azure_endpoint",
            api_key="optional",
            keys=("api_version", "open_ai_resource_id"),
            metadata=lambda d: _set(
                ApiType="Azure", ApiVersion=d.get("api_version"), ResourceId=d.get("open_ai_resource_id")
            ),
        ),
        CliType(
            "azure_ai_services",
            "AIServices",
            target_key="endpoint",
            api_key="optional",
            keys=("ai_services_resource_id",),
            metadata=lambda d: _set(ResourceId=d.get("ai_services_resource_id")),
        ),
        CliType("azure_ai_search", "CognitiveSearch", target_key="endpoint", api_key="optional"),
        CliType(
            "azure_content_safety",
            "CognitiveService",
            target_key="endpoint",
            api_key="optional",
            metadata=lambda _: {"Kind": "Content Safety"},
        ),
        CliType(
            "azure_speech_services",
            "CognitiveService",
            target_key="endpoint",
            api_key="optional",
            metadata=lambda _: {"Kind": "speech"},
        ),
        CliType(
            "azure_blob",
            "AzureBlob",
            target_key="url",
            credentials=("sas", "account_key", "aad"),
            default_credentials="aad",
            keys=("account_name", "container_name", "target"),
            required=("account_name", "container_name"),
            metadata=lambda d: _set(AccountName=d.get("account_name"), ContainerName=d.get("container_name")),
        ),
        CliType(
            "azure_one_lake",
            "AzureOneLake",
            target_key=None,
            credentials=("service_principal", "aad"),
            default_credentials="aad",
            keys=("endpoint", "one_lake_workspace_name", "artifact", "target"),
            target=_one_lake_target,
        ),
        CliType("api_key", "ApiKey", target_key="api_base", api_key="required", required=("api_base",)),
        CliType("open_ai", "OpenAI", target_key=None, api_key="required"),
        CliType("serp", "Serp", target_key=None, api_key="required"),
        CliType("serverless", "Serverless", target_key="endpoint", api_key="required"),
    )
}


class ConvertError(ValueError):
    """The file cannot be converted; the message says why (the type, a key, a credential)."""


@dataclass(frozen=True)
class Converted:
    """One converted connection: the WorkspaceConnection, and the Secret with values (None: no credentials).

    `stub` is the Secret with the same keys and empty values (what may be printed or committed); `placeholders`
    names the keys whose value in the file was a placeholder."""

    connection: dict[str, Any]
    secret: dict[str, Any] | None
    stub: dict[str, Any] | None
    placeholders: tuple[str, ...]
    dropped: tuple[str, ...]


def cli_type(doc: Mapping[str, Any]) -> CliType:
    """The schema type the file declares (case-transformed as azure-ai-ml does: `GitHub` -> `git_hub`)."""
    raw = doc.get("type")
    if not isinstance(raw, str) or not raw:
        raise ConvertError("no `type`: every Azure ML CLI connection file names its type")
    name = re.sub(r"(?<!^)(?=[A-Z])", "_", raw).lower() if any(c.isupper() for c in raw) else raw
    found = TYPES.get(name) or next((t for t in TYPES.values() if t.category.lower() == raw.lower()), None)
    if found is None:
        raise ConvertError(
            f"type {raw!r} is not supported: it has no category and authType the operator can express "
            f"(supported types: {', '.join(sorted(TYPES))})"
        )
    return found


def convert(doc: Any, *, workspace: WorkspaceRef, namespace: str | None = None) -> Converted:
    """One Azure ML CLI connection document as a WorkspaceConnection and its Secret."""
    if not isinstance(doc, Mapping):
        raise ConvertError("not a mapping: an Azure ML CLI connection file is a YAML mapping")
    kind = cli_type(doc)
    known = (
        COMMON_KEYS
        | set(kind.keys)
        | ({kind.target_key} if kind.target_key else set())
        | ({"api_key"} if kind.api_key != "no" else set())
    )
    unknown = sorted(str(k) for k in doc if k not in known)
    if unknown:
        raise ConvertError(
            f"type {kind.name} does not take {', '.join(unknown)} (azure-ai-ml refuses them too)"
        )
    needs_key = kind.api_key == "required" and doc.get("credentials") is None
    missing = [k for k in (*kind.required, *(["api_key"] if needs_key else [])) if not doc.get(k)]
    if kind.name == "azure_one_lake" and not doc.get("target"):
        missing += [k for k in ("endpoint", "one_lake_workspace_name", "artifact") if not doc.get(k)]
    if missing:
        raise ConvertError(f"type {kind.name} requires {', '.join(missing)}")
    name = doc.get("name")
    if not isinstance(name, str) or not name:
        raise ConvertError("no `name`: it becomes the connection's name in Azure")

    auth_type, values = _credentials(doc, kind)
    metadata = {
        **_strings(doc.get("tags"), "tags"),
        **_strings(doc.get("metadata"), "metadata"),
        **kind.metadata(doc),
    }
    target = kind.target(doc) if kind.target else doc.get(kind.target_key or "target") or doc.get("target")
    k8s_name = kubernetes_name(name)
    secret_name = f"{k8s_name}-credentials"
    spec: dict[str, Any] = {
        "workspace": {
            "subscriptionId": workspace.subscription_id,
            "resourceGroup": workspace.resource_group,
            "name": workspace.name,
        }
    }
    if k8s_name != name:
        spec["connectionName"] = name
    spec["authType"] = auth_type
    spec["category"] = kind.category
    if target is not None:
        spec["target"] = str(target)
    if metadata:
        spec["metadata"] = metadata
    spec["isSharedToAll"] = bool(doc.get("is_shared", True))
    credentials, secret_data = _references(values, secret_name)
    if credentials:
        spec["credentials"] = credentials
    meta: dict[str, Any] = {"name": k8s_name, **({"namespace": namespace} if namespace else {})}
    connection = {"apiVersion": f"{GROUP}/{VERSION}", "kind": KIND, "metadata": meta, "spec": spec}
    placeholders = tuple(k for k, v in secret_data.items() if is_placeholder(v))
    secret = stub = None
    if secret_data:
        secret_meta = {"name": secret_name, **({"namespace": namespace} if namespace else {})}
        base = {"apiVersion": "v1", "kind": "Secret", "metadata": secret_meta, "type": "Opaque"}
        secret = {**base, "stringData": {k: "" if k in placeholders else v for k, v in secret_data.items()}}
        stub = {**base, "stringData": dict.fromkeys(secret_data, "")}
    dropped = tuple(k for k in ("description",) if k in doc)
    return Converted(connection, secret, stub, placeholders, dropped)


def _credentials(doc: Mapping[str, Any], kind: CliType) -> tuple[str, dict[str, str]]:
    """The authType and {ARM field: value} from `credentials` or a top-level `api_key`."""
    creds = doc.get("credentials")
    if kind.api_key != "no" and (doc.get("api_key") or creds is None):
        key = doc.get("api_key")
        return ("ApiKey", {"key": str(key)}) if key else ("AAD", {})
    allowed = kind.credentials if kind.api_key == "no" else API_KEY_CREDENTIALS
    if creds is None:
        cred_type = kind.default_credentials
        creds = {}
    elif not isinstance(creds, Mapping):
        raise ConvertError("credentials must be a mapping")
    else:
        cred_type = str(creds.get("type") or "none")
    if cred_type not in allowed and cred_type != kind.default_credentials:
        raise ConvertError(
            f"type {kind.name} does not take credentials of type {cred_type!r} (it takes {', '.join(allowed)})"
        )
    if cred_type not in CREDENTIALS:
        raise ConvertError(f"credentials of type {cred_type!r} are not supported")
    auth_type, fields = CREDENTIALS[cred_type]
    unknown = sorted(str(k) for k in creds if k != "type" and k not in fields)
    if unknown:
        raise ConvertError(f"credentials of type {cred_type} do not take {', '.join(unknown)}")
    values = {fields[k]: str(v) for k, v in creds.items() if k in fields and v is not None}
    auth = AUTH_TYPES[auth_type]
    absent = [f.name for f in auth.fields if f.required and f.name not in values]
    if absent:
        raise ConvertError(f"credentials of type {cred_type} need {', '.join(absent)}")
    return auth_type, values


def _references(values: Mapping[str, str], secret_name: str) -> tuple[dict[str, Any], dict[str, str]]:
    """Credentials as references into one Secret (secret fields) or literals (the rest); the Secret's data."""
    credentials: dict[str, Any] = {}
    data: dict[str, str] = {}
    for name, value in values.items():
        if is_secret_field(name):
            credentials[name] = {"secretKeyRef": {"name": secret_name, "key": name}}
            data[name] = value
        else:
            credentials[name] = {"value": value}
    return credentials, data


def _strings(value: Any, key: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConvertError(f"{key} must be a mapping of strings")
    nested = sorted(str(k) for k, v in value.items() if isinstance(v, Mapping | list))
    if nested:
        raise ConvertError(f"{key} values must be strings; {', '.join(nested)} are not")
    return {str(k): str(v) for k, v in value.items() if v is not None}


def kubernetes_name(name: str) -> str:
    """A DNS-1123 subdomain for metadata.name: lower case, `_` as `-` (the Azure name goes to connectionName)."""
    cleaned = re.sub(r"[^a-z0-9.-]+", "-", name.lower()).strip("-.")
    return cleaned[:253].rstrip("-.") or "connection"


def is_placeholder(value: str) -> bool:
    """Whether a credential value in the file is a placeholder rather than a real value."""
    return not value.strip() or bool(_PLACEHOLDER.match(value.strip()))


def convert_files(
    paths: Sequence[str],
    *,
    workspace: WorkspaceRef,
    namespace: str | None,
    output_dir: Path | None,
    default_api_version: str,
    echo: Callable[[str], None],
    warn: Callable[[str], None],
) -> int:
    """The `wsconn convert` command: 0 when every file converted, 1 otherwise."""
    documents, read_errors = read_documents(paths)
    failed = bool(read_errors)
    for error in read_errors:
        warn(f"{error.source}:{error.index}: {error.message}")
    printed: list[dict[str, Any]] = []
    for doc in documents:
        if doc.body is None:
            continue
        where = f"{doc.source}:{doc.index}"
        try:
            result = convert(doc.body, workspace=workspace, namespace=namespace)
        except ConvertError as exc:
            warn(f"{where}: refused: {exc}")
            failed = True
            continue
        problems = _self_check(result, default_api_version, where)
        if problems:
            warn("\n".join(f"{where}: refused: {p}" for p in problems))
            failed = True
            continue
        for key in result.dropped:
            warn(f"{where}: {key} is not sent to Azure by az ml either; left out")
        if result.placeholders:
            warn(f"{where}: placeholder values for {', '.join(result.placeholders)}: fill them in the Secret")
        if output_dir is None:
            printed += [o for o in (result.stub, result.connection) if o is not None]
            if result.secret is not None and len(result.placeholders) < len(result.secret["stringData"]):
                warn(
                    f"{where}: credential values were not printed; --output-dir writes them to a file (mode 0600)"
                )
            continue
        name = result.connection["metadata"]["name"]
        (output_dir / f"{name}.yaml").parent.mkdir(parents=True, exist_ok=True)
        (output_dir / f"{name}.yaml").write_text(
            dump([result.connection], f"Converted from {where} by wsconn convert.")
        )
        if result.secret is not None:
            secret_path = output_dir / "secrets" / f"{result.secret['metadata']['name']}.yaml"
            write_private(secret_path, dump([result.secret], f"Converted from {where} by wsconn convert."))
            warn(f"{secret_path} {SECRET_WARNING}")
        echo(f"{where}: wrote {output_dir / f'{name}.yaml'}")
    if printed:
        echo(dump(printed, "Converted by wsconn convert; Secret values are left empty here."))
    return 1 if failed else 0


def _self_check(result: Converted, default_api_version: str, where: str) -> list[str]:
    """`wsconn validate`'s checks on the result; empty Secret values are the placeholders, reported apart."""
    docs = [Document(where, 0, result.connection)]
    if result.secret is not None:
        docs.append(Document(where, 1, result.secret))
    report = validate(docs, (), default_api_version=default_api_version)
    return [
        f"{p.field}: {p.message}" for p in report.problems if not p.message.startswith("SecretValueEmpty")
    ]


def markdown_table() -> str:
    """The type table of docs/tools.md (a test keeps the doc in step with TYPES)."""
    rows = [
        "| Azure ML CLI `type` | category | target from | authType |",
        "|---|---|---|---|",
    ]
    for t in TYPES.values():
        if t.api_key != "no":
            auth = "ApiKey with `api_key`" + (", else AAD" if t.api_key == "optional" else " (required)")
        else:
            auth = (
                "`credentials.type` ("
                + ", ".join(f"`{c}`" for c in t.credentials)
                + f"); default `{t.default_credentials}`"
            )
        target = (
            "`endpoint`, `one_lake_workspace_name`, `artifact.name`"
            if t.target
            else (f"`{t.target_key}`" if t.target_key else "(none)")
        )
        rows.append(f"| `{t.name}` | {t.category} | {target} | {auth} |")
    return "\n".join(rows) + "\n"
