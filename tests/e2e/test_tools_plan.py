"""`wsconn plan` as a user runs it: the installed console script with the operator's Azure settings against
the emulator. Each verdict (create, update with the differing field names, no change, conflict, cannot tell)
and exit status (0, 2, 1) is checked, and the emulator's request log proves that plan only reads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from tests.e2e.amlconn import Workspace
from wsconn.api import contract
from wsconn.tools.manifests import dump
from wsconn_testbed.emulator.client import EmulatorClient

API_VERSION = contract.DEFAULT_API_VERSION
PROPERTIES = {
    "authType": "PAT",
    "category": "Git",
    "target": "https://github.com/contoso",
    "metadata": {"team": "ml"},
}


def _manifest(workspace: Workspace, name: str, **spec: Any) -> list[dict[str, Any]]:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": f"{name}-pat"},
        "stringData": {"pat": "ghp-plan-value"},
    }
    connection = {
        "apiVersion": "azureml.dev/v1alpha1",
        "kind": "WorkspaceConnection",
        "metadata": {"name": name},
        "spec": {
            "workspace": workspace.spec(),
            **PROPERTIES,
            "credentials": {"pat": {"secretKeyRef": {"name": f"{name}-pat", "key": "pat"}}},
            **spec,
        },
    }
    return [secret, connection]


def _plan(env: dict[str, str], *paths: Path) -> tuple[int, dict[str, Any]]:
    command = [str(Path(sys.executable).with_name("wsconn")), "plan", "--output", "json", *map(str, paths)]
    run = subprocess.run(command, capture_output=True, text=True, check=False, env={**os.environ, **env})
    assert run.stdout, run.stderr
    return run.returncode, json.loads(run.stdout)


def test_plan_reads_and_reports(emulator: EmulatorClient, workspace: Workspace, tmp_path: Path) -> None:
    env = emulator.operator_env()
    for name, props in (("same", PROPERTIES), ("drifted", {**PROPERTIES, "target": "https://old.example"})):
        body = {"properties": {**props, "credentials": {"pat": "ghp-existing"}}}
        assert emulator.arm("PUT", workspace.connection_id(name), API_VERSION, json=body).status_code == 200
    same = tmp_path / "same.yaml"
    same.write_text(dump(_manifest(workspace, "same")))
    changes = tmp_path / "changes.yaml"
    changes.write_text(
        dump([*_manifest(workspace, "drifted", metadata={"team": "ai"}), *_manifest(workspace, "brand-new")])
    )
    conflict = tmp_path / "conflict.yaml"
    conflict.write_text(dump(_manifest(workspace, "also-same", connectionName="same")))
    nowhere = tmp_path / "nowhere.yaml"
    elsewhere = Workspace(workspace.subscription, workspace.resource_group, "ws-missing")
    nowhere.write_text(dump(_manifest(elsewhere, "orphan")))

    start = emulator.last_seq()
    code, report = _plan(env, same)
    assert code == 0
    assert [r["verdict"] for r in report["resources"]] == ["no change"]
    assert report["resources"][0]["identity"].startswith("Operator (client ")

    code, report = _plan(env, same, changes)
    assert code == 2
    verdicts = {r["resource"]: (r["verdict"], r["fields"]) for r in report["resources"]}
    assert verdicts == {
        "same": ("no change", []),
        "drifted": ("update", ["metadata", "target"]),
        "brand-new": ("create", []),
    }

    code, report = _plan(env, same, conflict)
    assert code == 1
    (clash,) = [r for r in report["resources"] if r["verdict"] == "conflict"]
    assert clash["resource"] == "also-same"
    assert "same names the same connection" in clash["detail"]

    code, report = _plan(env, nowhere)
    assert code == 1
    (lost,) = report["resources"]
    assert lost["verdict"] == "cannot tell"
    assert lost["detail"].startswith("WorkspaceNotFound"), lost

    methods = {e["method"] for e in emulator.requests(since=start)}
    assert methods == {"GET"}, f"plan only reads: {methods}"
    assert "ghp" not in json.dumps(report)


def test_plan_reads_as_the_identity_the_operator_would_use(
    emulator: EmulatorClient, workspace: Workspace, tmp_path: Path
) -> None:
    """A team's credential Secret in the input: plan's GET is made by that team's principal (the emulator's log
    says which), and a connection outside the principal's scope is `cannot tell` with ARM's 403."""
    own = workspace.connection_id("team-own")
    client_id = str(uuid.uuid4())
    registered = emulator.admin("POST", "clients", {"client_id": client_id, "scopes": [own]})
    credentials = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "team-a-azure", "namespace": "team-a"},
        "stringData": {
            "AZURE_TENANT_ID": emulator.info["tenant_id"],
            "AZURE_CLIENT_ID": client_id,
            "AZURE_CLIENT_SECRET": str(registered["secret"]),
        },
    }
    docs = []
    for name in ("team-own", "not-theirs"):
        for doc in _manifest(workspace, name, azureCredentials={"secretRef": {"name": "team-a-azure"}}):
            docs.append({**doc, "metadata": {**doc["metadata"], "namespace": "team-a"}})
    manifests = tmp_path / "team-a.yaml"
    manifests.write_text(dump([credentials, *docs]))

    start = emulator.last_seq()
    code, report = _plan(emulator.operator_env(), manifests)
    verdicts = {r["resource"]: (r["verdict"], r["detail"].split(":")[0]) for r in report["resources"]}
    assert verdicts == {
        "team-a/team-own": ("create", "team-own does not exist in workspace " + workspace.name),
        "team-a/not-theirs": ("cannot tell", "AzureAuthorizationFailed"),
    }
    assert code == 1
    assert all(
        r["identity"] == f"Resource (client {client_id}, Secret team-a-azure)" for r in report["resources"]
    )
    calls = [e for e in emulator.requests(start) if e["path"].startswith(workspace.id)]
    assert {(e["method"], e["client_id"]) for e in calls} == {("GET", client_id)}
    assert str(registered["secret"]) not in json.dumps(report)
