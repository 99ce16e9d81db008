"""The Azure identities the operator signs ARM requests with: its own, and one per credential Secret.

A credential Secret (core/identity.py) becomes an azure-identity async credential: ClientSecretCredential,
CertificateCredential, or WorkloadIdentityCredential, which exchanges the operator's own projected
ServiceAccount token (AZURE_FEDERATED_TOKEN_FILE, as AKS Workload Identity mounts it) for a token of the
client the Secret names, as Azure Service Operator's namespaced credentials do. All of them honour
AZURE_AUTHORITY_HOST and need no instance discovery.

Credentials, and the tokens they hold, are cached per Secret version (uid, resourceVersion): a pass with an
unchanged Secret reuses them; a rotated Secret builds a new credential on its next ARM call, without a restart,
and the old one is closed a little later (a pass may still be using it).
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from typing import Any, Final

from wsconn.arm.auth import BearerTokenAuth
from wsconn.arm.client import ArmClient, SignedArm, Signer
from wsconn.arm.errors import ArmCredentialError
from wsconn.core.identity import OPERATOR_PRINCIPAL, Identity

log = logging.getLogger("wsconn.arm")

TOKEN_FILE_ENV: Final = "AZURE_FEDERATED_TOKEN_FILE"  # noqa: S105 - a variable name
# A pass that picked up a credential just before its Secret rotated may still be using it this long.
RETIRE_AFTER_SECONDS: Final = 180.0


@dataclass
class _Cached:
    version: str
    credential: Any
    arm: SignedArm


class Principals:
    """ARM as the identity a pass resolved (reconciler/model.Principals)."""

    def __init__(self, client: ArmClient, operator_auth: BearerTokenAuth, scope: str) -> None:
        self._client = client
        self._operator = client.acting_as(Signer(OPERATOR_PRINCIPAL, operator_auth))
        self._scope = scope
        self._cache: dict[str, _Cached] = {}
        self._retiring: set[asyncio.Task[None]] = set()

    def arm(self, identity: Identity) -> SignedArm:
        """ARM as `identity`; raises ArmCredentialError when its credential cannot be built."""
        if identity.credential is None or identity.version is None:
            return self._operator
        uid, version = identity.version
        cached = self._cache.get(uid)
        if cached is not None and cached.version == version:
            return cached.arm
        credential = _credential(identity)
        signer = Signer(identity.principal, BearerTokenAuth(credential, self._scope))
        self._cache[uid] = _Cached(version, credential, self._client.acting_as(signer))
        log.info(
            "Azure identity from Secret %r (version %s): client %s of tenant %s, %s",
            identity.secret_name,
            version,
            identity.client_id,
            identity.tenant_id,
            identity.credential.kind,
        )
        if cached is not None:
            self._retire(cached.credential)
        return self._cache[uid].arm

    async def aclose(self) -> None:
        """Close every credential built here (their HTTP sessions)."""
        for task in self._retiring:
            task.cancel()
        credentials = [c.credential for c in self._cache.values()]
        self._cache.clear()
        for credential in credentials:
            await credential.close()

    def _retire(self, credential: Any) -> None:
        async def close_later() -> None:
            await asyncio.sleep(RETIRE_AFTER_SECONDS)
            await credential.close()

        task = asyncio.get_running_loop().create_task(close_later())
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)


def _credential(identity: Identity) -> Any:
    """The azure-identity async credential a credential Secret describes."""
    from azure.identity.aio import CertificateCredential, ClientSecretCredential, WorkloadIdentityCredential

    given = identity.credential
    assert given is not None
    tenant, client = identity.tenant_id, identity.client_id
    if given.kind == "secret":
        return ClientSecretCredential(tenant, client, given.material)
    if given.kind == "certificate":
        try:
            return CertificateCredential(
                tenant,
                client,
                certificate_data=given.material.encode(),
                password=given.password.encode() if given.password else None,
            )
        except ValueError:
            raise ArmCredentialError(
                f"AZURE_CLIENT_CERTIFICATE of Secret {identity.secret_name!r} is not a PEM certificate with "
                "its private key (or AZURE_CLIENT_CERTIFICATE_PASSWORD does not open it)"
            ) from None
    token_file = os.environ.get(TOKEN_FILE_ENV, "")
    if not token_file:
        raise ArmCredentialError(
            f"Secret {identity.secret_name!r} asks for workload identity, but the operator has no projected "
            f"ServiceAccount token ({TOKEN_FILE_ENV} is not set): enable Azure Workload Identity for the "
            "operator's ServiceAccount"
        )
    return WorkloadIdentityCredential(tenant_id=tenant, client_id=client, token_file_path=token_file)
