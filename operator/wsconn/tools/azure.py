"""ARM access for the tools, built exactly as the operator builds its own: the same client, token auth,
client-side buckets and DefaultAzureCredential from the environment (docs/design.md §4), pointed by the same settings
(`AZURE_RESOURCE_MANAGER_ENDPOINT`, `AZURE_RESOURCE_MANAGER_AUDIENCE`)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from wsconn.api.spec import WorkspaceRef
from wsconn.arm.auth import BearerTokenAuth
from wsconn.arm.client import ArmClient
from wsconn.arm.principals import Principals
from wsconn.arm.throttle import Throttle
from wsconn.core.ids import PROVIDER
from wsconn.runtime import credential
from wsconn.settings import Settings


@asynccontextmanager
async def arm_client(settings: Settings) -> AsyncIterator[ArmClient]:
    """An ArmClient with the operator's identity (DefaultAzureCredential), closed afterwards."""
    token_credential = credential()
    arm = _client(settings, BearerTokenAuth(token_credential, settings.scope))
    try:
        yield arm
    finally:
        await arm.aclose()
        await token_credential.close()


@asynccontextmanager
async def principals(settings: Settings) -> AsyncIterator[Principals]:
    """ARM as any identity a resource resolves to (the operator's own, or a credential Secret's), signed as
    the operator signs its passes; every credential and the client are closed afterwards."""
    token_credential = credential()
    auth = BearerTokenAuth(token_credential, settings.scope)
    arm = _client(settings, auth)
    signing = Principals(arm, auth, settings.scope)
    try:
        yield signing
    finally:
        await signing.aclose()
        await arm.aclose()
        await token_credential.close()


def _client(settings: Settings, auth: BearerTokenAuth) -> ArmClient:
    return ArmClient(
        endpoint=settings.arm_endpoint,
        auth=auth,
        throttle=Throttle(settings.limits),
        concurrency=settings.arm_concurrency,
        timeout=settings.arm_timeout,
    )


def workspace_id(workspace: WorkspaceRef) -> str:
    """The workspace's ARM ID."""
    return (
        f"/subscriptions/{workspace.subscription_id}/resourceGroups/{workspace.resource_group}"
        f"/providers/{PROVIDER}/workspaces/{workspace.name}"
    )


async def list_connections(arm: ArmClient, workspace: WorkspaceRef, api_version: str) -> list[dict[str, Any]]:
    """Every connection of the workspace (GET .../connections, following nextLink), without credentials."""
    correlation_id = str(uuid.uuid4())
    path: str | None = f"{workspace_id(workspace)}/connections"
    found: list[dict[str, Any]] = []
    while path is not None:
        page = await arm.get(path, api_version, correlation_id=correlation_id) or {}
        found += [c for c in page.get("value") or [] if isinstance(c, dict)]
        next_link = page.get("nextLink")
        path = _relative(next_link) if isinstance(next_link, str) and next_link else None
    return found


def _relative(link: str) -> str:
    """A nextLink as a path and query on the same endpoint (the client adds its base URL)."""
    from urllib.parse import urlsplit

    parts = urlsplit(link)
    return parts.path + (f"?{parts.query}" if parts.query else "")
