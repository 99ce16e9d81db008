"""Shared data and helpers of the emulator's own tests: where the configured workspace lives, one valid
credential set per authType, and small readers of ARM answers. Plain data and functions, no fixtures."""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from azure.core.credentials import AccessToken
from azure.identity.aio import ClientSecretCredential

from wsconn_testbed.emulator import contract
from wsconn_testbed.emulator.client import EmulatorClient

SUBSCRIPTION = "00000000-1111-2222-3333-444444444444"
RESOURCE_GROUP = "rg-ml"
WORKSPACE = "ws-prod"
PROVIDER = "Microsoft.MachineLearningServices"
WS_PATH = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}/providers/{PROVIDER}/workspaces/{WORKSPACE}"
CONNECTIONS = f"{WS_PATH}/connections"
API_VERSIONS = ("2024-04-01", "2025-06-01", "2025-09-01", "2025-12-01", "2026-05-01")
"""The operator's api-versions."""
ALL_API_VERSIONS = contract.API_VERSIONS
"""Those and the recordings' own (2022-05-01, 2024-04-01-preview)."""
LATEST = API_VERSIONS[-1]
ANSWER_ORDER = [
    "authType",
    "credentials",
    "group",
    "category",
    "expiryTime",
    "target",
    "createdByWorkspaceArmId",
    "useWorkspaceManagedIdentity",
    "isSharedToAll",
    "sharedUserList",
    "peRequirement",
    "peStatus",
    "error",
    "isDefault",
    "metadata",
]
"""The properties of the service's answer, in its order (every recording from 2024-04-01-preview on)."""
CONNECTION_TYPE = f"{PROVIDER}/workspaces/connections"


@dataclass(frozen=True)
class Emulator:
    """A running emulator: its process, a client, and the file its stdout/stderr go to."""

    process: subprocess.Popen[bytes]
    client: EmulatorClient
    log_file: Path


def conn(name: str) -> str:
    """The ARM path of a connection in the configured workspace."""
    return f"{CONNECTIONS}/{name}"


# One valid example per authType: (category, credentials or None). Every secret value carries "SECRET-" so a
# test can search answers for it; none of them is a real credential.
AUTH_TYPES: dict[str, tuple[str, dict[str, Any] | None]] = {
    "None": ("ContainerRegistry", None),
    "AAD": ("ADLSGen2", None),
    "PAT": ("Git", {"pat": "SECRET-pat-7f3a"}),
    "SAS": ("AzureBlob", {"sas": "SECRET-sv=2024&sig=abc"}),
    "ApiKey": ("AzureOpenAI", {"key": "SECRET-apikey-19d2"}),
    "AccountKey": ("AzureBlob", {"key": "SECRET-accountkey-55aa"}),
    "AccessKey": ("S3", {"accessKeyId": "AKIAEXAMPLE", "secretAccessKey": "SECRET-s3-0b9e"}),
    "UsernamePassword": (
        "Salesforce",
        {"username": "svc-user", "password": "SECRET-pw-81c0", "securityToken": "SECRET-sectok-2d"},
    ),
    "ServicePrincipal": (
        "AzureOneLake",
        {
            "clientId": "0f7c1d2e-3a4b-4c5d-8e9f-a0b1c2d3e4f5",
            "clientSecret": "SECRET-sp-c4d1",
            "tenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47",
        },
    ),
    "ManagedIdentity": (
        "ContainerRegistry",
        {
            "clientId": "5b6c7d8e-9f00-4a1b-8c2d-3e4f5a6b7c8d",
            "resourceId": f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}/providers/"
            "Microsoft.ManagedIdentity/userAssignedIdentities/uami-1",
        },
    ),
    "OAuth2": (
        "Concur",
        {
            "authUrl": "https://auth.example.test/oauth2/token",
            "clientId": "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d",
            "clientSecret": "SECRET-oauth-cs",
            "developerToken": "SECRET-oauth-dev",
            "password": "SECRET-oauth-pw",
            "refreshToken": "SECRET-oauth-rt",
            "tenantId": "tenant-1",
            "username": "oauth-user",
        },
    ),
    "CustomKeys": ("CustomKeys", {"keys": {"endpoint_key": "SECRET-ck-1", "other": "SECRET-ck-2"}}),
}


def body(auth_type: str, credentials: Any = None, **properties: Any) -> dict[str, Any]:
    """A PUT body: authType, the authType's usual category, a target, optional credentials and extras."""
    category = AUTH_TYPES[auth_type][0] if auth_type in AUTH_TYPES else "Git"
    props: dict[str, Any] = {"authType": auth_type, "category": category, "target": "https://example.test/x"}
    if credentials is not None:
        props["credentials"] = copy.deepcopy(credentials)
    props.update(properties)
    return {"properties": props}


def valid_body(auth_type: str) -> dict[str, Any]:
    """A valid PUT body for an authType, with its credentials."""
    return body(auth_type, AUTH_TYPES[auth_type][1])


def error(response: httpx.Response) -> dict[str, Any]:
    """The `error` member of an ARM ErrorResponse (asserting the shape)."""
    payload = response.json()
    assert set(payload) == {"error"}, payload
    err: dict[str, Any] = payload["error"]
    assert isinstance(err.get("code"), str)
    assert isinstance(err.get("message"), str)
    return err


def code(response: httpx.Response) -> str:
    """The ARM error code of an answer."""
    return str(error(response)["code"])


def has_key(node: Any, key: str) -> bool:
    """Whether `key` is a member name anywhere in a JSON value."""
    if isinstance(node, dict):
        return key in node or any(has_key(v, key) for v in node.values())
    if isinstance(node, list):
        return any(has_key(v, key) for v in node)
    return False


def secret_values(credentials: dict[str, Any] | None) -> list[str]:
    """The SECRET-marked values of a credential set (nested maps included)."""
    found: list[str] = []
    for value in (credentials or {}).values():
        if isinstance(value, dict):
            found += secret_values(value)
        elif isinstance(value, str) and value.startswith("SECRET-"):
            found.append(value)
    return found


def azure_identity_token(info: dict[str, Any], client_id: str, secret: str) -> AccessToken:
    """A token from the real async ClientSecretCredential of azure-identity, against the emulator."""

    async def fetch() -> AccessToken:
        async with ClientSecretCredential(
            info["tenant_id"],
            client_id,
            secret,
            authority=info["authority_host"],
            connection_verify=info["trust_bundle"],
        ) as credential:
            return await credential.get_token(str(info["audience"]).rstrip("/") + "/.default")

    return asyncio.run(fetch())


def instant(text: str) -> dt.datetime:
    """An ARM timestamp as a time (strings do not compare: `...:04Z` sorts after `...:04.5Z`)."""
    return dt.datetime.fromisoformat(text)


def trust(info: dict[str, Any]) -> ssl.SSLContext:
    """An SSL context trusting the emulator's CA (from its ready-file info)."""
    return ssl.create_default_context(cafile=info["ca_file"])
