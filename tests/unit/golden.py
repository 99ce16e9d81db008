"""Golden ARM request bodies, one (or more) per authType, written out by hand.

Each case is a raw `.spec` (as `kubectl apply` would store it), the Secrets it reads and the exact
`WorkspaceConnectionPropertiesV2BasicResource` body the operator must PUT. The bodies come from docs/design.md §2
(the authType table), CONNECTIONS.md §4-§6 (body shape, AccountKey as `{key}`, categories per api-version)
and NEWER-VERSIONS.md §3 (what 2025-09-01, 2025-12-01 and 2026-05-01 add and drop), not from the code under
test. Every authType has a body on every supported api-version; a case that uses something only some
versions have says which. Every Secret value holds the marker `SECRET` so tests can check that no such value
leaks into anything meant to be safe to hash, log or store.

Used by tests/unit (bodies, fingerprints) and tests/contract (bodies vs the swagger subsets).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

API_VERSIONS = ("2024-04-01", "2025-06-01", "2025-09-01", "2025-12-01", "2026-05-01")
# NEWER-VERSIONS.md §3: value/valueFormat exist up to 2025-09-01, peRequirement and
# useWorkspaceManagedIdentity from 2025-12-01; CONNECTIONS.md §6: three categories are new in 2025-06-01.
WITH_VALUE = API_VERSIONS[:3]
WITH_PE_REQUIREMENT = API_VERSIONS[3:]
FROM_2025_06 = API_VERSIONS[1:]

SUBSCRIPTION = "00000000-1111-2222-3333-444444444444"
WORKSPACE: dict[str, str] = {"subscriptionId": SUBSCRIPTION, "resourceGroup": "rg-ml", "name": "ws-prod"}
METADATA_NAME = "team-conn"


@dataclass(frozen=True)
class Golden:
    """A spec, the Secrets it reads, and the body that must be sent for it."""

    id: str
    spec: dict[str, Any]
    body: dict[str, Any]
    secrets: dict[str, dict[str, bytes]] = field(default_factory=dict)
    api_versions: tuple[str, ...] = API_VERSIONS

    def raw(self, api_version: str) -> dict[str, Any]:
        """The raw spec pinned to `api_version`."""
        return {"workspace": dict(WORKSPACE), "azureApiVersion": api_version, **self.spec}

    def secret_values(self) -> list[str]:
        """Every value stored in the Secrets this case reads."""
        return [v.decode() for data in self.secrets.values() for v in data.values()]


def ref(name: str, key: str) -> dict[str, Any]:
    return {"secretKeyRef": {"name": name, "key": key}}


def lit(value: str) -> dict[str, Any]:
    return {"value": value}


GOLDEN: tuple[Golden, ...] = (
    Golden(
        "None",
        spec={
            "authType": "None",
            "category": "PythonFeed",
            "target": "https://pypi.example.com/simple/",
            "isSharedToAll": True,
        },
        body={
            "properties": {
                "authType": "None",
                "category": "PythonFeed",
                "target": "https://pypi.example.com/simple/",
                "isSharedToAll": True,
            }
        },
    ),
    Golden(
        "AAD",
        spec={
            "authType": "AAD",
            "category": "ADLSGen2",
            "target": "https://datalake.dfs.core.windows.net/",
            "metadata": {"AccountName": "datalake"},
        },
        body={
            "properties": {
                "authType": "AAD",
                "category": "ADLSGen2",
                "target": "https://datalake.dfs.core.windows.net/",
                "metadata": {"AccountName": "datalake"},
            }
        },
    ),
    Golden(
        "PAT",
        spec={
            "authType": "PAT",
            "category": "Git",
            "target": "https://github.com/contoso/models",
            "credentials": {"pat": ref("git-token", "pat")},
        },
        secrets={"git-token": {"pat": b"ghp-SECRET-pat"}},
        body={
            "properties": {
                "authType": "PAT",
                "category": "Git",
                "target": "https://github.com/contoso/models",
                "credentials": {"pat": "ghp-SECRET-pat"},
            }
        },
    ),
    Golden(
        "SAS",
        spec={
            "authType": "SAS",
            "category": "AzureBlob",
            "target": "https://contoso.blob.core.windows.net/data",
            "credentials": {"sas": ref("blob-sas", "token")},
            "metadata": {"AccountName": "contoso", "ContainerName": "data"},
        },
        secrets={"blob-sas": {"token": b"sv=2024-08-04&sig=SECRET-sas"}},
        body={
            "properties": {
                "authType": "SAS",
                "category": "AzureBlob",
                "target": "https://contoso.blob.core.windows.net/data",
                "credentials": {"sas": "sv=2024-08-04&sig=SECRET-sas"},
                "metadata": {"AccountName": "contoso", "ContainerName": "data"},
            }
        },
    ),
    Golden(
        # docs/design.md §2's example, every optional field of the api-versions that have value/valueFormat set.
        "ApiKey",
        spec={
            "connectionName": "team-openai",
            "authType": "ApiKey",
            "category": "AzureOpenAI",
            "target": "https://contoso.openai.azure.com/",
            "credentials": {"key": ref("openai", "api-key")},
            "metadata": {"ApiType": "Azure", "ApiVersion": "2024-10-21"},
            "isSharedToAll": True,
            "sharedUserList": [],
            "expiryTime": "2027-01-01T00:00:00Z",
            "value": "",
            "valueFormat": "JSON",
            "deletionPolicy": "Delete",
        },
        secrets={"openai": {"api-key": b"sk-SECRET-openai"}},
        body={
            "properties": {
                "authType": "ApiKey",
                "category": "AzureOpenAI",
                "target": "https://contoso.openai.azure.com/",
                "credentials": {"key": "sk-SECRET-openai"},
                "metadata": {"ApiType": "Azure", "ApiVersion": "2024-10-21"},
                "isSharedToAll": True,
                "sharedUserList": [],
                "expiryTime": "2027-01-01T00:00:00Z",
                "value": "",
                "valueFormat": "JSON",
            }
        },
        api_versions=WITH_VALUE,
    ),
    Golden(
        # docs/design.md §2's example on the api-versions from 2025-12-01: every optional field they have set.
        "ApiKey-2025-12",
        spec={
            "connectionName": "team-openai",
            "authType": "ApiKey",
            "category": "AzureOpenAI",
            "target": "https://contoso.openai.azure.com/",
            "credentials": {"key": ref("openai", "api-key")},
            "metadata": {"ApiType": "Azure", "ApiVersion": "2024-10-21"},
            "isSharedToAll": True,
            "sharedUserList": ["alice@contoso.com"],
            "expiryTime": "2027-01-01T00:00:00Z",
            "peRequirement": "NotRequired",
            "useWorkspaceManagedIdentity": False,
            "deletionPolicy": "Delete",
        },
        secrets={"openai": {"api-key": b"sk-SECRET-openai"}},
        body={
            "properties": {
                "authType": "ApiKey",
                "category": "AzureOpenAI",
                "target": "https://contoso.openai.azure.com/",
                "credentials": {"key": "sk-SECRET-openai"},
                "metadata": {"ApiType": "Azure", "ApiVersion": "2024-10-21"},
                "isSharedToAll": True,
                "sharedUserList": ["alice@contoso.com"],
                "expiryTime": "2027-01-01T00:00:00Z",
                "peRequirement": "NotRequired",
                "useWorkspaceManagedIdentity": False,
            }
        },
        api_versions=WITH_PE_REQUIREMENT,
    ),
    Golden(
        # CONNECTIONS.md §5: the current contract is WorkspaceConnectionAccountKey {key}, not {sas}.
        "AccountKey",
        spec={
            "authType": "AccountKey",
            "category": "AzureBlob",
            "target": "https://contoso.blob.core.windows.net/raw",
            "credentials": {"key": ref("storage", "account-key")},
            "metadata": {"AccountName": "contoso", "ContainerName": "raw"},
        },
        secrets={"storage": {"account-key": b"SECRET-account-key=="}},
        body={
            "properties": {
                "authType": "AccountKey",
                "category": "AzureBlob",
                "target": "https://contoso.blob.core.windows.net/raw",
                "credentials": {"key": "SECRET-account-key=="},
                "metadata": {"AccountName": "contoso", "ContainerName": "raw"},
            }
        },
    ),
    Golden(
        "AccessKey",
        spec={
            "authType": "AccessKey",
            "category": "S3",
            "target": "https://s3.amazonaws.com/contoso-bucket",
            "credentials": {
                "accessKeyId": lit("AKIAEXAMPLE"),
                "secretAccessKey": ref("aws", "secret-access-key"),
            },
        },
        secrets={"aws": {"secret-access-key": b"SECRET-aws-secret-access-key"}},
        body={
            "properties": {
                "authType": "AccessKey",
                "category": "S3",
                "target": "https://s3.amazonaws.com/contoso-bucket",
                "credentials": {
                    "accessKeyId": "AKIAEXAMPLE",
                    "secretAccessKey": "SECRET-aws-secret-access-key",
                },
            }
        },
    ),
    Golden(
        "UsernamePassword",
        spec={
            "authType": "UsernamePassword",
            "category": "Snowflake",
            "target": "contoso.snowflakecomputing.com",
            "credentials": {
                "username": lit("svc-ml"),
                "password": ref("snowflake", "password"),
                "securityToken": ref("snowflake", "token"),
            },
        },
        secrets={"snowflake": {"password": b"SECRET-sf-password", "token": b"SECRET-sf-token"}},
        body={
            "properties": {
                "authType": "UsernamePassword",
                "category": "Snowflake",
                "target": "contoso.snowflakecomputing.com",
                "credentials": {
                    "username": "svc-ml",
                    "password": "SECRET-sf-password",
                    "securityToken": "SECRET-sf-token",
                },
            }
        },
    ),
    Golden(
        # A non-secret field may come from a Secret too (tenantId here).
        "ServicePrincipal",
        spec={
            "authType": "ServicePrincipal",
            "category": "ADLSGen2",
            "target": "https://lake.dfs.core.windows.net/",
            "credentials": {
                "clientId": lit("11111111-2222-3333-4444-555555555555"),
                "clientSecret": ref("sp", "client-secret"),
                "tenantId": ref("sp", "tenant-id"),
            },
        },
        secrets={"sp": {"client-secret": b"SECRET-sp-client-secret", "tenant-id": b"SECRET-tenant-66666666"}},
        body={
            "properties": {
                "authType": "ServicePrincipal",
                "category": "ADLSGen2",
                "target": "https://lake.dfs.core.windows.net/",
                "credentials": {
                    "clientId": "11111111-2222-3333-4444-555555555555",
                    "clientSecret": "SECRET-sp-client-secret",
                    "tenantId": "SECRET-tenant-66666666",
                },
            }
        },
    ),
    Golden(
        "ManagedIdentity",
        spec={
            "authType": "ManagedIdentity",
            "category": "ContainerRegistry",
            "target": "contoso.azurecr.io",
            "credentials": {
                "clientId": lit("22222222-3333-4444-5555-666666666666"),
                "resourceId": lit(
                    f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-ml/providers/"
                    "Microsoft.ManagedIdentity/userAssignedIdentities/ml-id"
                ),
            },
        },
        body={
            "properties": {
                "authType": "ManagedIdentity",
                "category": "ContainerRegistry",
                "target": "contoso.azurecr.io",
                "credentials": {
                    "clientId": "22222222-3333-4444-5555-666666666666",
                    "resourceId": f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-ml/providers/"
                    "Microsoft.ManagedIdentity/userAssignedIdentities/ml-id",
                },
            }
        },
    ),
    Golden(
        "OAuth2",
        spec={
            "authType": "OAuth2",
            "category": "Concur",
            "target": "https://us.api.concursolutions.com",
            "credentials": {
                "clientId": lit("33333333-4444-5555-6666-777777777777"),
                "clientSecret": ref("concur", "client-secret"),
                "authUrl": lit("https://us.api.concursolutions.com/oauth2/v0/token"),
                "tenantId": lit("contoso"),
                "username": lit("svc-concur"),
                "password": ref("concur", "password"),
                "refreshToken": ref("concur", "refresh-token"),
                "developerToken": ref("concur", "developer-token"),
            },
        },
        secrets={
            "concur": {
                "client-secret": b"SECRET-oauth-client-secret",
                "password": b"SECRET-oauth-password",
                "refresh-token": b"SECRET-oauth-refresh",
                "developer-token": b"SECRET-oauth-developer",
            }
        },
        body={
            "properties": {
                "authType": "OAuth2",
                "category": "Concur",
                "target": "https://us.api.concursolutions.com",
                "credentials": {
                    "clientId": "33333333-4444-5555-6666-777777777777",
                    "clientSecret": "SECRET-oauth-client-secret",
                    "authUrl": "https://us.api.concursolutions.com/oauth2/v0/token",
                    "tenantId": "contoso",
                    "username": "svc-concur",
                    "password": "SECRET-oauth-password",
                    "refreshToken": "SECRET-oauth-refresh",
                    "developerToken": "SECRET-oauth-developer",
                },
            }
        },
    ),
    Golden(
        # Every data key of the Secret becomes a key of the connection.
        "CustomKeys",
        spec={
            "authType": "CustomKeys",
            "category": "CustomKeys",
            "target": "https://api.example.com",
            "credentials": {"keys": {"secretRef": {"name": "custom-keys"}}},
            "metadata": {"ApiVersion": "v1"},
        },
        secrets={
            "custom-keys": {
                "x-api-key": b"SECRET-custom-1",
                "x-tenant": b"SECRET-custom-2",
                "endpoint_token": b"SECRET-custom-3",
            }
        },
        body={
            "properties": {
                "authType": "CustomKeys",
                "category": "CustomKeys",
                "target": "https://api.example.com",
                "credentials": {
                    "keys": {
                        "x-api-key": "SECRET-custom-1",
                        "x-tenant": "SECRET-custom-2",
                        "endpoint_token": "SECRET-custom-3",
                    }
                },
                "metadata": {"ApiVersion": "v1"},
            }
        },
    ),
    # The three categories new in 2025-06-01 (CONNECTIONS.md §6).
    Golden(
        "ApiKey-Pinecone",
        spec={
            "authType": "ApiKey",
            "category": "Pinecone",
            "target": "https://index-contoso.svc.pinecone.io",
            "credentials": {"key": ref("pinecone", "api-key")},
        },
        secrets={"pinecone": {"api-key": b"pc-SECRET-key"}},
        body={
            "properties": {
                "authType": "ApiKey",
                "category": "Pinecone",
                "target": "https://index-contoso.svc.pinecone.io",
                "credentials": {"key": "pc-SECRET-key"},
            }
        },
        api_versions=FROM_2025_06,
    ),
    Golden(
        "UsernamePassword-Elasticsearch",
        spec={
            "authType": "UsernamePassword",
            "category": "Elasticsearch",
            "target": "https://search.contoso.com:9200",
            "credentials": {"username": lit("elastic"), "password": ref("elastic", "password")},
        },
        secrets={"elastic": {"password": b"SECRET-elastic-password"}},
        body={
            "properties": {
                "authType": "UsernamePassword",
                "category": "Elasticsearch",
                "target": "https://search.contoso.com:9200",
                "credentials": {"username": "elastic", "password": "SECRET-elastic-password"},
            }
        },
        api_versions=FROM_2025_06,
    ),
    Golden(
        "AAD-ManagedOnlineEndpoint",
        spec={
            "authType": "AAD",
            "category": "ManagedOnlineEndpoint",
            "target": "https://endpoint.westeurope.inference.ml.azure.com/score",
            "isSharedToAll": False,
        },
        body={
            "properties": {
                "authType": "AAD",
                "category": "ManagedOnlineEndpoint",
                "target": "https://endpoint.westeurope.inference.ml.azure.com/score",
                "isSharedToAll": False,
            }
        },
        api_versions=FROM_2025_06,
    ),
    # Categories new in 2025-12-01 (NEWER-VERSIONS.md §3), with the fields only those versions have.
    Golden(
        "AAD-AzureKeyVault",
        spec={
            "authType": "AAD",
            "category": "AzureKeyVault",
            "target": "https://contoso-kv.vault.azure.net/",
            "useWorkspaceManagedIdentity": True,
            "peRequirement": "Required",
        },
        body={
            "properties": {
                "authType": "AAD",
                "category": "AzureKeyVault",
                "target": "https://contoso-kv.vault.azure.net/",
                "peRequirement": "Required",
                "useWorkspaceManagedIdentity": True,
            }
        },
        api_versions=WITH_PE_REQUIREMENT,
    ),
    Golden(
        "ApiKey-ModelGateway",
        spec={
            "authType": "ApiKey",
            "category": "ModelGateway",
            "target": "https://gateway.contoso.com/v1",
            "credentials": {"key": ref("gateway", "api-key")},
            "metadata": {"deploymentInPath": "true"},
        },
        secrets={"gateway": {"api-key": b"gw-SECRET-key"}},
        body={
            "properties": {
                "authType": "ApiKey",
                "category": "ModelGateway",
                "target": "https://gateway.contoso.com/v1",
                "credentials": {"key": "gw-SECRET-key"},
                "metadata": {"deploymentInPath": "true"},
            }
        },
        api_versions=WITH_PE_REQUIREMENT,
    ),
)

CASES: tuple[tuple[Golden, str], ...] = tuple((g, v) for g in GOLDEN for v in g.api_versions)
CASE_IDS: tuple[str, ...] = tuple(f"{g.id}@{v}" for g, v in CASES)
