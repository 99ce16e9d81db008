"""httpx authentication over an azure-identity async credential.

Tokens are cached here and refreshed a few minutes before expiry under a lock, so a burst of a thousand
reconciles costs one token request, not a thousand. The credential is azure-identity's async
DefaultAzureCredential without interactive sources: Workload Identity on AKS, managed identity, an
environment service principal and `az login` all work, with AZURE_AUTHORITY_HOST for other clouds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Callable
from typing import Any

import httpx

from wsconn.arm.errors import ArmCredentialError

REFRESH_MARGIN = 300.0


class BearerTokenAuth(httpx.Auth):
    """Adds `Authorization: Bearer <token>` for `scope`, from an async TokenCredential."""

    def __init__(self, credential: Any, scope: str, *, clock: Callable[[], float] = time.time) -> None:
        self._credential = credential
        self._scope = scope
        self._clock = clock
        self._token: str | None = None
        self._expires_on = 0.0
        self._lock = asyncio.Lock()

    async def token(self, *, force: bool = False) -> str:
        """A valid access token, fetched or refreshed when needed."""
        if not force and self._token and self._clock() < self._expires_on - REFRESH_MARGIN:
            return self._token
        async with self._lock:
            if not force and self._token and self._clock() < self._expires_on - REFRESH_MARGIN:
                return self._token
            from azure.core.exceptions import ClientAuthenticationError

            try:
                access = await self._credential.get_token(self._scope)
            except ClientAuthenticationError as exc:
                raise ArmCredentialError(_compact(str(exc))) from None
            self._token, self._expires_on = str(access.token), float(access.expires_on)
            return self._token

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """Authorise the request; on a 401 that says the token expired, refresh once and resend."""
        request.headers["Authorization"] = f"Bearer {await self.token()}"
        response = yield request
        if response.status_code == 401 and "expired" in response.headers.get("www-authenticate", "").lower():
            request.headers["Authorization"] = f"Bearer {await self.token(force=True)}"
            yield request


def _compact(text: str, limit: int = 500) -> str:
    """azure-identity's message on one line (DefaultAzureCredential lists every source it tried)."""
    flat = " ".join(text.split()) or "authentication failed"
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."
