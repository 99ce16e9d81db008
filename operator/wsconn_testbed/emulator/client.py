"""Starting the emulator as a process and talking to it from tests: its admin API, and ARM itself with a
token obtained from its Entra endpoint exactly as a client would."""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx


def venv_bin(name: str) -> str:
    """A console script of this virtualenv (beside the interpreter), else the bare name for PATH."""
    found = Path(sys.executable).with_name(name)
    return str(found) if found.exists() else name


@dataclass
class EmulatorClient:
    """Admin and ARM access to a running emulator, from its ready-file info."""

    info: dict[str, Any]
    _http: httpx.Client = field(init=False)
    _token: str = field(init=False, default="")

    def __post_init__(self) -> None:
        self._http = httpx.Client(
            base_url=self.info["arm_endpoint"],
            verify=ssl.create_default_context(cafile=self.info["ca_file"]),
            timeout=30,
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def operator_env(self) -> dict[str, str]:
        """The ordinary Azure settings that point an operator at this emulator (the first client)."""
        client_id, client_secret = next(iter(self.info["clients"].items()))
        return {
            "AZURE_RESOURCE_MANAGER_ENDPOINT": self.info["arm_endpoint"],
            "AZURE_RESOURCE_MANAGER_AUDIENCE": self.info["audience"],
            "AZURE_AUTHORITY_HOST": self.info["authority_host"],
            "AZURE_TENANT_ID": self.info["tenant_id"],
            "AZURE_CLIENT_ID": client_id,
            "AZURE_CLIENT_SECRET": client_secret,
            "SSL_CERT_FILE": self.info["trust_bundle"],
        }

    def admin(self, method: str, route: str, body: Any = None, **params: Any) -> Any:
        """Call the admin API; raises on a non-200 answer."""
        response = self._http.request(
            method,
            f"/_emulator/{route}",
            json=body,
            params=params,
            headers={"Authorization": f"Bearer {self.info['admin_token']}"},
        )
        response.raise_for_status()
        return response.json()

    def scope(self) -> str:
        """The scope an ARM token is requested for."""
        return str(self.info["audience"]).rstrip("/") + "/.default"

    def _issue(self, form: dict[str, str], tenant: str | None = None) -> str:
        response = self._http.post(f"/{tenant or self.info['tenant_id']}/oauth2/v2.0/token", data=form)
        response.raise_for_status()
        return str(response.json()["access_token"])

    def token(self) -> str:
        """An ARM token for the first client, from the emulator's Entra endpoint (cached)."""
        if not self._token:
            client_id, secret = next(iter(self.info["clients"].items()))
            self._token = self.client_token(client_id, secret)
        return self._token

    def client_token(self, client_id: str, secret: str, tenant: str | None = None) -> str:
        """A fresh ARM token for an app registration, with its client secret."""
        form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
        return self._issue({**form, "scope": self.scope()}, tenant)

    def user_token(self, username: str, password: str, tenant: str | None = None) -> str:
        """A fresh ARM token for a user (resource-owner password grant through the first client)."""
        form = {"grant_type": "password", "client_id": next(iter(self.info["clients"])), "username": username}
        return self._issue({**form, "password": password, "scope": self.scope()}, tenant)

    def arm(
        self,
        method: str,
        path: str,
        api_version: str | None = "2025-06-01",
        *,
        bearer: str | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """An authenticated ARM call (`path` absolute, e.g. an ARM id), as the first client unless `bearer`
        names another token."""
        params = dict(kwargs.pop("params", {}))
        if api_version is not None:
            params["api-version"] = api_version
        headers = {"Authorization": f"Bearer {bearer or self.token()}", **kwargs.pop("headers", {})}
        return self._http.request(method, path, params=params, headers=headers, **kwargs)

    def requests(self, since: int = 0, kind: str = "arm") -> list[dict[str, Any]]:
        """Request-log entries after `since`."""
        entries: list[dict[str, Any]] = self.admin("GET", "requests", since=since, kind=kind)["entries"]
        return entries

    def last_seq(self) -> int:
        """The sequence number of the newest log entry."""
        return int(self.admin("GET", "requests", since=10**12)["last"])

    def connections(self, prefix: str = "") -> list[dict[str, Any]]:
        """Stored connections (no credential values: field names and a digest)."""
        value: list[dict[str, Any]] = self.admin("GET", "connections", prefix=prefix)["value"]
        return value

    def add_workspace(self, subscription: str, resource_group: str, workspace: str, **extra: str) -> str:
        """Make a workspace exist (`tenant_id` and `location` optional); returns its ARM id."""
        body = {
            "subscription": subscription,
            "resource_group": resource_group,
            "workspace": workspace,
            **extra,
        }
        return str(self.admin("PUT", "workspaces", body)["id"])

    def remove_workspace(self, subscription: str, resource_group: str, workspace: str) -> int:
        """Delete a workspace and its connections."""
        body = {"subscription": subscription, "resource_group": resource_group, "workspace": workspace}
        return int(self.admin("DELETE", "workspaces", body)["connections_deleted"])

    def faults(self, rules: list[dict[str, Any]], seed: int = 0) -> None:
        """Replace the injected fault rules."""
        self.admin("PUT", "faults", {"seed": seed, "rules": rules})


@contextmanager
def running_emulator(
    work_dir: Path, *extra_args: str, timeout: float = 30.0
) -> Iterator[tuple[subprocess.Popen[bytes], EmulatorClient]]:
    """Start `wsconn-emulator` as a process, wait for its ready file, stop it afterwards."""
    state = work_dir / "emulator"
    state.mkdir(parents=True, exist_ok=True)
    ready = state / "ready.json"
    ready.unlink(missing_ok=True)
    log = (work_dir / "emulator.log").open("ab")
    process = subprocess.Popen(
        [
            venv_bin("wsconn-emulator"),
            "--port",
            "0",
            "--state-dir",
            str(state),
            "--ready-file",
            str(ready),
            *extra_args,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    client: EmulatorClient | None = None
    try:
        deadline = time.monotonic() + timeout
        while not ready.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"emulator did not start; see {work_dir / 'emulator.log'}")
            time.sleep(0.05)
        client = EmulatorClient(json.loads(ready.read_text()))
        yield process, client
    finally:
        if client is not None:
            client.close()
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
