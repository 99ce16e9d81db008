"""Assembling the process at start-up: clients, credential, throttle, reconciler, metrics server.

Everything is created inside the running event loop (Kopf's startup handler) and closed at cleanup.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import kopf
from prometheus_client import start_http_server

from wsconn.arm.auth import BearerTokenAuth
from wsconn.arm.client import ArmClient
from wsconn.arm.principals import Principals
from wsconn.arm.throttle import Throttle
from wsconn.handlers import Trigger, connection_info, endpoint
from wsconn.kube.client import Endpoint, KubeClient
from wsconn.kube.events import EventPoster
from wsconn.kube.secrets import SecretReader, SeenSecrets
from wsconn.kube.status import StatusPatcher
from wsconn.metrics import observe_arm
from wsconn.reconciler import ReconcileConfig, Reconciler
from wsconn.settings import Settings

CLOSE_GRACE_SECONDS = 2.0
log = logging.getLogger("wsconn.runtime")


def credential() -> Any:
    """azure-identity's async DefaultAzureCredential without interactive or developer-tool caches.

    Order: environment service principal (AZURE_CLIENT_ID/SECRET/TENANT_ID), Workload Identity
    (AZURE_FEDERATED_TOKEN_FILE), managed identity, then `az login` / azd / PowerShell for local runs.
    AZURE_AUTHORITY_HOST selects the cloud's login endpoint.
    """
    from azure.identity.aio import DefaultAzureCredential

    return DefaultAzureCredential(
        exclude_interactive_browser_credential=True,
        exclude_visual_studio_code_credential=True,
        exclude_shared_token_cache_credential=True,
    )


def _endpoint(settings: kopf.OperatorSettings) -> Endpoint:
    info = connection_info(settings=settings, logger=log)
    if info is None:
        raise kopf.LoginError("no ServiceAccount token and no kubeconfig to reach the API server with")
    return endpoint(info)


async def build(cfg: Settings, settings: kopf.OperatorSettings, memo: kopf.Memo) -> None:
    """Create the reconciler and its clients and store them in Kopf's memo."""
    token_credential = credential()
    operator_auth = BearerTokenAuth(token_credential, cfg.scope)
    arm = ArmClient(
        endpoint=cfg.arm_endpoint,
        auth=operator_auth,
        throttle=Throttle(cfg.limits),
        concurrency=cfg.arm_concurrency,
        timeout=cfg.arm_timeout,
        observer=observe_arm,
    )
    kube = KubeClient(lambda: _endpoint(settings))
    status_writer = StatusPatcher(kube)
    principals = Principals(arm, operator_auth, cfg.scope)
    memo.seen_secrets = SeenSecrets(kube)
    # Narrowed by --secret-selector, the watch does not see every Secret: then every Secret is read.
    watch = None if cfg.secret_selector else memo.seen_secrets
    reconciler = Reconciler(
        principals=principals,
        secrets=SecretReader(kube, watch=watch),
        status_writer=status_writer,
        config=ReconcileConfig(
            default_api_version=cfg.default_api_version,
            drift_interval=cfg.drift_interval,
            checked_time_interval=cfg.checked_time_interval,
            deep_drift_check=cfg.deep_drift_check,
            pass_timeout=cfg.pass_timeout,
            missing_secret_grace=cfg.missing_secret_grace,
            operator_identity=cfg.allowlist,
            # What the environment says of the operator's own identity, for status.azureIdentity.
            operator_principal=(os.environ.get("AZURE_TENANT_ID", ""), os.environ.get("AZURE_CLIENT_ID", "")),
            secret_selector=cfg.selector,
        ),
        workers=cfg.workers,
    )
    memo.reconciler = reconciler
    memo.trigger = Trigger(kube)
    # What a timed pass (timers.py) writes with, since no Kopf handler writes for it.
    memo.status_writer = status_writer
    memo.events = EventPoster(
        kube,
        component=settings.posting.reporting_component,
        instance=settings.posting.reporting_instance,
    )
    if cfg.metrics_port:
        start_http_server(cfg.metrics_port, addr=cfg.bind_address)

    async def shutdown() -> None:
        # Kopf has stopped the handlers and the cleanup handler the timed passes by now; whatever still runs ends
        # before the clients close.
        await reconciler.close(CLOSE_GRACE_SECONDS)
        await memo.seen_secrets.close()
        await principals.aclose()
        await arm.aclose()
        await token_credential.close()
        await kube.close()

    memo.shutdown = shutdown
