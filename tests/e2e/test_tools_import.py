"""`wsconn import` as a user runs it: the installed console script with the operator's Azure settings,
against the emulator, then `kubectl apply` of what it wrote with the operator running.

The migration: connections created outside the cluster (by PUTs of their own) are imported; without
`--with-secret-values` nothing but reads reaches ARM; the imported specs reproduce what is in Azure (the
operator's own drift comparison finds no difference); `wsconn validate` accepts the output; applying it makes
every resource Ready and leaves every connection in Azure exactly as it was (properties and credentials);
what the operator cannot express is listed, not dropped."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client

from tests.e2e.amlconn import Workspace, all_ready
from tests.e2e.kube import Kubectl, wait_for
from tests.e2e.operator_process import OperatorProcess
from wsconn.api import contract
from wsconn.api.spec import parse_spec
from wsconn.core.bodies import desired_properties
from wsconn.core.drift import differences
from wsconn_testbed.emulator.client import EmulatorClient

API_VERSION = contract.DEFAULT_API_VERSION
EXISTING: dict[str, dict[str, Any]] = {
    "blob_aad": {
        "authType": "AAD",
        "category": "AzureBlob",
        "target": "https://contosodata.blob.core.windows.net/",
        "metadata": {"AccountName": "contosodata", "ContainerName": "training"},
    },
    "team-openai": {
        "authType": "ApiKey",
        "category": "AzureOpenAI",
        "target": "https://contoso.openai.azure.com/",
        "metadata": {"ApiType": "Azure", "ApiVersion": "2024-10-21"},
        "isSharedToAll": True,
        "credentials": {"key": "sk-imported-0001"},
    },
    "git-pat": {
        "authType": "PAT",
        "category": "Git",
        "target": "https://github.com/contoso",
        "expiryTime": "2030-01-01T00:00:00Z",
        "credentials": {"pat": "ghp-imported-0002"},
    },
    "sp-lake": {
        "authType": "ServicePrincipal",
        "category": "ADLSGen2",
        "target": "https://contosolake.dfs.core.windows.net/",
        "credentials": {
            "clientId": "33333333-4444-5555-6666-777777777777",
            "clientSecret": "sp-imported-0003",
            "tenantId": "44444444-5555-6666-7777-888888888888",
        },
    },
    "custom-keys": {
        "authType": "CustomKeys",
        "category": "CustomKeys",
        "target": "https://search.contoso.com",
        "credentials": {"keys": {"x-api-key": "ck-imported-0004", "tenant": "contoso"}},
    },
}
SECRET_VALUES = ("sk-imported-0001", "ghp-imported-0002", "sp-imported-0003", "ck-imported-0004")


def _wsconn(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    command = [str(Path(sys.executable).with_name("wsconn")), *args]
    return subprocess.run(command, capture_output=True, text=True, check=False, env={**os.environ, **env})


def _seed(emulator: EmulatorClient, workspace: Workspace) -> None:
    for name, properties in EXISTING.items():
        response = emulator.arm(
            "PUT", workspace.connection_id(name), API_VERSION, json={"properties": properties}
        )
        assert response.status_code in (200, 201), response.text


def _stored(emulator: EmulatorClient, workspace: Workspace) -> dict[str, Any]:
    """What Azure holds of each connection: its properties and a digest of its credentials."""
    return {
        c["name"]: (c["properties"], c["credentialFields"], c["credentialDigest"])
        for c in emulator.connections(prefix=workspace.id)
    }


def test_import_then_apply_changes_nothing_in_azure(
    operator: OperatorProcess,
    operator_env: dict[str, str],
    kubectl: Kubectl,
    kube: client.ApiClient,
    namespace: str,
    workspace: Workspace,
    emulator: EmulatorClient,
    tmp_path: Path,
) -> None:
    _seed(emulator, workspace)
    ws = f"{workspace.subscription}/{workspace.resource_group}/{workspace.name}"

    start = emulator.last_seq()
    stubs = _wsconn(operator_env, "import", "-w", ws, "-n", namespace)
    assert stubs.returncode == 0, stubs.stderr
    calls = [(e["method"], e["path"]) for e in emulator.requests(since=start)]
    assert {m for m, _ in calls} == {"GET"}, calls
    docs = [d for d in yaml.safe_load_all(stubs.stdout) if d]
    stub_secrets = [d for d in docs if d["kind"] == "Secret"]
    assert {tuple(sorted(s["stringData"])) for s in stub_secrets} == {
        ("key",),
        ("pat",),
        ("clientId", "clientSecret", "tenantId"),
        (),
    }
    assert all(v == "" for s in stub_secrets for v in s["stringData"].values())
    assert "feeds spec.credentials.key" in stubs.stdout

    out = tmp_path / "manifests"
    start = emulator.last_seq()
    run = _wsconn(operator_env, "import", "-w", ws, "-n", namespace, "-d", str(out), "--with-secret-values")
    assert run.returncode == 0, run.stderr
    assert "holds credential values" in run.stderr
    assert not any(v in run.stdout + run.stderr for v in SECRET_VALUES)
    listed = [e for e in emulator.requests(since=start) if e["method"] == "POST"]
    assert len(listed) == len(EXISTING), "one listsecrets per connection, asked for"
    secret_files = sorted((out / "secrets").glob("*.yaml"))
    assert secret_files
    for path in secret_files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path

    for path in sorted(out.glob("*.yaml")):
        (conn,) = [d for d in yaml.safe_load_all(path.read_text()) if d]
        spec = parse_spec(
            conn["spec"], metadata_name=conn["metadata"]["name"], default_api_version=API_VERSION
        )
        observed = emulator.arm("GET", workspace.connection_id(spec.connection_name), API_VERSION).json()
        assert differences(desired_properties(spec), observed["properties"]) == [], path.name

    validate = _wsconn(operator_env, "validate", str(out))
    assert validate.returncode == 0, validate.stdout

    before = _stored(emulator, workspace)
    start = emulator.last_seq()
    kubectl.run("apply", "-R", "-f", str(out))
    ready = wait_for(
        lambda: all_ready(kube, namespace, len(EXISTING)), timeout=60, what="every imported resource Ready"
    )
    assert len(ready) == len(EXISTING)
    after = _stored(emulator, workspace)
    assert after == before, "applying the imported manifests changed nothing in Azure"
    methods = [e["method"] for e in emulator.requests(since=start)]
    print(
        f"import -> apply: {len(EXISTING)} connections adopted with {methods.count('PUT')} PUTs, "
        f"{methods.count('GET')} GETs and {methods.count('POST')} listsecrets, Azure unchanged"
    )
    # Adopted as they are: each looked at once (GET) and, where it has credentials, those compared in memory
    # with listsecrets' (POST); Azure already holds what the manifests say, so nothing is written.
    assert all(r["status"].get("adopted") is True for r in ready)
    assert {m for m in methods if m not in ("GET", "POST")} == set(), methods
    assert methods.count("PUT") == 0
    assert methods.count("GET") >= len(EXISTING)
    with_credentials = [p for p in EXISTING.values() if p["authType"] not in ("None", "AAD")]
    assert methods.count("POST") == len(with_credentials)


def test_import_lists_what_it_cannot_express(
    operator_env: dict[str, str], workspace: Workspace, emulator: EmulatorClient, tmp_path: Path
) -> None:
    newer = next(
        c for c in contract.all_categories() if c not in contract.categories(contract.API_VERSIONS[0])
    )
    response = emulator.arm(
        "PUT",
        workspace.connection_id("newer-category"),
        API_VERSION,
        json={"properties": {"authType": "AAD", "category": newer, "target": "https://x.example"}},
    )
    assert response.status_code in (200, 201), response.text
    emulator.arm(
        "PUT",
        workspace.connection_id("plain-git"),
        API_VERSION,
        json={"properties": {"authType": "None", "category": "Git", "target": "https://github.com/x"}},
    )
    ws = f"{workspace.subscription}/{workspace.resource_group}/{workspace.name}"
    out = tmp_path / "manifests"
    run = _wsconn(operator_env, "import", "-w", ws, "-d", str(out), "--api-version", contract.API_VERSIONS[0])
    assert run.returncode == 2, run.stderr
    assert "not imported: newer-category" in run.stderr
    assert newer in (out / "NOT-IMPORTED.txt").read_text()
    assert (out / "plain-git.yaml").exists()
