"""`wsconn-testbed app`: the demo's stand-in for `az ad sp create-for-rbac`, used by the team-A/team-B
walkthrough in docs/configuration.md. It registers an app that may act only at its scopes and prints its
credentials as an env file."""

from __future__ import annotations

import subprocess
import sys

from tests.emulator.support import Emulator
from wsconn_testbed.emulator.client import EmulatorClient

SUB = "00000000-1111-2222-3333-444444444444"
WORKSPACE = f"/subscriptions/{SUB}/resourceGroups/rg-ml/providers/Microsoft.MachineLearningServices/workspaces/ws-prod"


def test_the_registered_app_acts_only_at_its_scope(emulator: Emulator, emu: EmulatorClient) -> None:
    ready = emulator.log_file.parent / "emulator" / "ready.json"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "wsconn_testbed.cli",
            "app",
            "--emulator",
            str(ready),
            "--scope",
            f"{WORKSPACE}/connections/team-a",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    env = dict(line.split("=", 1) for line in run.stdout.splitlines())
    assert set(env) == {"AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET"}
    assert env["AZURE_TENANT_ID"] == emu.info["tenant_id"]
    token = emu.client_token(env["AZURE_CLIENT_ID"], env["AZURE_CLIENT_SECRET"])
    mine = emu.arm("GET", f"{WORKSPACE}/connections/team-a", bearer=token)
    other = emu.arm("GET", f"{WORKSPACE}/connections/team-b", bearer=token)
    assert (mine.status_code, other.status_code) == (404, 403)
    assert other.json()["error"]["code"] == "AuthorizationFailed"


def test_without_an_emulator_it_says_how_to_name_one() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "wsconn_testbed.cli", "app", "--emulator", "", "--scope", "/"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 2
    assert "WSCONN_EMULATOR" in run.stderr
