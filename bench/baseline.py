"""The baseline policy: re-PUT every connection on every sync, as Azure Service Operator v2 does.

What it models, exactly: ASO's generic ARM reconciler (`azure_generic_arm_reconciler_instance.go`) issues a
PUT of the whole resource each time a resource is reconciled (`BeginCreateOrUpdateResource`, "unilaterally",
in ASO's own ADR 2022-12 words), and once the PUT has finished it GETs the resource to refresh its status
(`handleCreatePollerSuccess` -> `updateStatus`). A Ready resource is reconciled again every sync period
(`AZURE_SYNC_PERIOD`, one hour by default). So per resource and sync: one PUT, then one GET.

Here that is a loop in this process, not a switch in the operator: every resource gets a PUT of its full
body (credentials included, from the Secret values the workload generated) followed by a GET, once per
`period`, resource i first at i/N of the period so syncs are spread as ASO's requeues spread them. 429s are
retried after Retry-After, as the Azure SDK's retry policy does. It talks to the emulator with a token of
its own app registration, so its requests are told apart in the request log by client id. It models the ARM
side only: ASO's Kubernetes traffic (Secret reads, status updates) is not reproduced.
"""

from __future__ import annotations

import asyncio
import ssl
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench.workload import Item
from wsconn_testbed.emulator.client import EmulatorClient

MAX_ATTEMPTS = 5


@dataclass
class BaselineReport:
    """What the loop itself saw (the counts that matter are read from the emulator's log)."""

    client_id: str
    syncs_started: int = 0
    syncs_failed: int = 0
    max_lag_seconds: float = 0.0  # how late the latest sync started relative to its schedule
    statuses: dict[str, int] = field(default_factory=dict)


def register_client(emulator: EmulatorClient) -> tuple[str, str]:
    """A second app registration in the emulator's Entra, so the baseline has an identity of its own."""
    client_id = str(uuid.uuid4())
    answer = emulator.admin("POST", "clients", {"client_id": client_id})
    return str(answer["client_id"]), str(answer["secret"])


async def _token(http: httpx.AsyncClient, info: dict[str, Any], client_id: str, secret: str) -> str:
    response = await http.post(
        f"/{info['tenant_id']}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": secret,
            "scope": info["audience"].rstrip("/") + "/.default",
        },
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


async def run_baseline(
    emulator: EmulatorClient, items: list[Item], *, period: float, duration: float, concurrency: int = 16
) -> BaselineReport:
    """Run the re-PUT policy for `duration` seconds with one sync per resource every `period` seconds.

    `concurrency` bounds requests in flight (like the operator's --arm-concurrency); it changes how fast a
    sync completes, never how many requests it makes.
    """
    client_id, secret = register_client(emulator)
    report = BaselineReport(client_id)
    info = emulator.info
    verify = ssl.create_default_context(cafile=info["ca_file"])
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=info["arm_endpoint"], verify=verify, timeout=30, limits=limits
    ) as http:
        token = await _token(http, info, client_id, secret)
        headers = {"Authorization": f"Bearer {token}"}
        gate = asyncio.Semaphore(concurrency)
        start = time.monotonic()
        end = start + duration

        async def call(method: str, item: Item, body: dict[str, Any] | None) -> int:
            for _ in range(MAX_ATTEMPTS):
                async with gate:
                    response = await http.request(
                        method,
                        item.arm_id,
                        params={"api-version": item.api_version},
                        json=body,
                        headers=headers,
                    )
                key = f"{method} {response.status_code}"
                report.statuses[key] = report.statuses.get(key, 0) + 1
                if response.status_code != 429:
                    return response.status_code
                await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
            return 429

        async def resource_loop(index: int, item: Item) -> None:
            body = item.arm_body()
            due = start + period * index / len(items)
            while due < end:
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                report.max_lag_seconds = max(report.max_lag_seconds, time.monotonic() - due)
                report.syncs_started += 1
                status = await call("PUT", item, body)
                if status == 200:
                    await call("GET", item, None)  # ASO's status refresh after a finished PUT
                else:
                    report.syncs_failed += 1
                due += period

        await asyncio.gather(*(resource_loop(i, item) for i, item in enumerate(items)))
    return report
