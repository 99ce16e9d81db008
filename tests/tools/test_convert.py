"""`wsconn convert` on azure-ai-ml's own example files (tests/fixtures/azure-ai-ml, see PROVENANCE.md): every
type of the schema that maps to a category and authType is converted, the rest refused naming the type (or
the key); the output passes `wsconn validate`; secret values reach files of mode 0600 only."""

from __future__ import annotations

import re
import stat
from pathlib import Path
from typing import Any

import yaml

from tests.tools.conftest import REPO, Run
from wsconn.api.authtypes import AUTH_TYPES
from wsconn.api.spec import CONNECTION_NAME_PATTERN
from wsconn.tools.convert import TYPES, markdown_table

FIXTURES = REPO / "tests" / "fixtures" / "azure-ai-ml"
WORKSPACE = "00000000-1111-2222-3333-444444444444/rg-ml/ws-prod"
# file -> (category, authType), or the refusal's words
EXPECTED: dict[str, tuple[str, str] | str] = {
    "connection/ai_services_with_entra.yaml": ("AIServices", "AAD"),
    "connection/alds_gen2_entra.yaml": ("ADLSGen2", "AAD"),
    "connection/alds_gen2_sp.yaml": ("ADLSGen2", "ServicePrincipal"),
    "connection/api_key_conn.yaml": ("ApiKey", "ApiKey"),
    "connection/azure_open_ai_entra.yaml": ("AzureOpenAI", "AAD"),
    "connection/blob_store_acc_key.yaml": ("AzureBlob", "AccountKey"),
    "connection/blob_store_bad_cred.yaml": "type azure_blob does not take credentials of type 'api_key'",
    "connection/blob_store_entra.yaml": ("AzureBlob", "AAD"),
    "connection/blob_store_sas.yaml": ("AzureBlob", "SAS"),
    "connection/container_registry_user_pass.yaml": ("ContainerRegistry", "UsernamePassword"),
    "connection/content_safety_with_entra.yaml": ("CognitiveService", "AAD"),
    "connection/content_safety_with_key.yaml": ("CognitiveService", "ApiKey"),
    "connection/custom.yaml": ("CustomKeys", "ApiKey"),
    "connection/git_no_cred.yaml": ("Git", "None"),
    "connection/git_pat.yaml": ("Git", "PAT"),
    "connection/not_azure_open_ai.yaml": ("OpenAI", "ApiKey"),
    "connection/one_lake_with_id.yaml": ("AzureOneLake", "AAD"),
    "connection/one_lake_with_name.yaml": ("AzureOneLake", "ServicePrincipal"),
    "connection/python_feed_no_cred.yaml": ("PythonFeed", "None"),
    "connection/python_feed_pat.yaml": ("PythonFeed", "PAT"),
    "connection/python_feed_user_pass.yaml": ("PythonFeed", "UsernamePassword"),
    "connection/search_with_entra.yaml": ("CognitiveSearch", "AAD"),
    "connection/search_with_key.yaml": ("CognitiveSearch", "ApiKey"),
    "connection/serp.yaml": ("Serp", "ApiKey"),
    "connection/serverless_api.yaml": ("Serverless", "ApiKey"),
    "connection/speech_with_entra.yaml": ("CognitiveService", "AAD"),
    "connection/speech_with_key.yaml": ("CognitiveService", "ApiKey"),
    "workspace_connection/ai_services_with_key.yaml": ("AIServices", "ApiKey"),
    "workspace_connection/azure_my_sql_db_user_pwd.yaml": ("AzureMySqlDb", "UsernamePassword"),
    "workspace_connection/azure_open_ai_api.yaml": ("AzureOpenAI", "ApiKey"),
    "workspace_connection/azure_postgres_db_user_pwd.yaml": ("AzurePostgresDb", "UsernamePassword"),
    "workspace_connection/azure_sql_db_user_pwd.yaml": ("AzureSqlDb", "UsernamePassword"),
    "workspace_connection/azure_synapse_analytics_user_pwd.yaml": "type azure_synapse_analytics does not take expiryTime",
    "workspace_connection/cog_search.yaml": "type 'cognitive_search' is not supported",
    "workspace_connection/cog_service.yaml": "type 'cognitive_service' is not supported",
    "workspace_connection/container_registry_managed_identity.yaml": ("ContainerRegistry", "ManagedIdentity"),
    "workspace_connection/fs_service_principal.yaml": "type 'feature_store' is not supported",
    "workspace_connection/git_user_pwd.yaml": "type git does not take expiryTime",
    "workspace_connection/open_ai.yaml": "type azure_open_ai does not take api_type",
    "workspace_connection/s3_access_key.yaml": ("S3", "AccessKey"),
    "workspace_connection/snowflake_user_pwd.yaml": ("Snowflake", "UsernamePassword"),
}
# The one type whose only upstream example uses a key the current schema refuses (expiryTime).
SYNAPSE = """\
name: synapse_sql
type: azure_synapse_analytics
target: contoso.sql.azuresynapse.net
credentials:
  type: username_password
  username: analyst
  password: s3cret-synapse
"""
PLACEHOLDER = """\
name: github_placeholder
type: git
target: https://github.com/contoso
credentials:
  type: pat
  pat: <your-personal-access-token>
"""


def _load(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def test_every_example_file(wsconn: Run, tmp_path: Path) -> None:
    (tmp_path / "synapse.yaml").write_text(SYNAPSE)
    files = [*(str(FIXTURES / f) for f in sorted(EXPECTED)), str(tmp_path / "synapse.yaml")]
    assert sorted(str(p.relative_to(FIXTURES)) for p in FIXTURES.rglob("*.yaml")) == sorted(EXPECTED)
    out = tmp_path / "out"
    run = wsconn("convert", "-w", WORKSPACE, "-n", "ml-team", "-d", str(out), *files)
    assert run.returncode == 1, "some examples are refused"
    refusals = {
        line.removeprefix("wsconn convert: ").split(":", 1)[0]: line
        for line in run.stderr.splitlines()
        if ": refused: " in line
    }
    converted: dict[str, tuple[str, str]] = {}
    for relative, expected in EXPECTED.items():
        source = str(FIXTURES / relative)
        name = yaml.safe_load((FIXTURES / relative).read_text())["name"]
        if isinstance(expected, str):
            assert expected in refusals.get(source, ""), (relative, refusals.get(source))
            continue
        assert source not in refusals, refusals[source]
        if not re.fullmatch(CONNECTION_NAME_PATTERN, name):
            continue
        (conn,) = [d for d in _load(out / f"{name.lower().replace('_', '-')}.yaml")]
        spec = conn["spec"]
        assert (spec["category"], spec["authType"]) == expected, relative
        assert spec.get("connectionName", conn["metadata"]["name"]) == name
        assert conn["metadata"]["namespace"] == "ml-team"
        converted[relative] = expected
    (synapse,) = _load(out / "synapse-sql.yaml")
    assert (synapse["spec"]["category"], synapse["spec"]["authType"]) == (
        "AzureSynapseAnalytics",
        "UsernamePassword",
    )

    categories = {c for c, _ in converted.values()} | {"AzureSynapseAnalytics"}
    assert {t.category for t in TYPES.values()} <= categories, "every type of the schema was converted"
    assert {a for _, a in converted.values()} <= set(AUTH_TYPES)

    validate = wsconn("validate", str(out))
    assert validate.returncode == 0, validate.stdout
    for path in (out / "secrets").glob("*.yaml"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "s3cret-synapse" in (out / "secrets" / "synapse-sql-credentials.yaml").read_text()
    assert all("holds credential values" in line for line in run.stderr.splitlines() if "/secrets/" in line)


def test_stdout_never_shows_secret_values(wsconn: Run, tmp_path: Path) -> None:
    (tmp_path / "synapse.yaml").write_text(SYNAPSE)
    run = wsconn("convert", "-w", WORKSPACE, str(tmp_path / "synapse.yaml"))
    assert run.returncode == 0, run.stderr
    assert "s3cret-synapse" not in run.stdout + run.stderr
    secret, conn = _load_text(run.stdout)
    assert secret["stringData"] == {"password": ""}
    assert conn["spec"]["credentials"] == {
        "username": {"value": "analyst"},
        "password": {"secretKeyRef": {"name": "synapse-sql-credentials", "key": "password"}},
    }
    assert "--output-dir writes them to a file" in run.stderr


def _load_text(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if d]


def test_placeholder_becomes_a_stub(wsconn: Run, tmp_path: Path) -> None:
    (tmp_path / "git.yaml").write_text(PLACEHOLDER)
    out = tmp_path / "out"
    run = wsconn("convert", "-w", WORKSPACE, "-d", str(out), str(tmp_path / "git.yaml"))
    assert run.returncode == 0, run.stderr
    assert "placeholder values for pat" in run.stderr
    (secret,) = _load(out / "secrets" / "github-placeholder-credentials.yaml")
    assert secret["stringData"] == {"pat": ""}
    validate = wsconn("validate", str(out))
    assert "SecretValueEmpty" in validate.stdout, "the stub is reported until it is filled in"


def test_workspace_must_be_given_and_well_formed(wsconn: Run, tmp_path: Path) -> None:
    (tmp_path / "git.yaml").write_text(PLACEHOLDER)
    assert wsconn("convert", str(tmp_path / "git.yaml")).returncode == 2
    bad = wsconn("convert", "-w", "only/two", str(tmp_path / "git.yaml"))
    assert bad.returncode == 2
    assert "SUBSCRIPTION/RESOURCE_GROUP/WORKSPACE" in bad.stderr


def test_docs_list_every_type_and_the_figures() -> None:
    text = (REPO / "docs" / "tools.md").read_text()
    assert markdown_table() in text
    refused = sum(isinstance(e, str) for e in EXPECTED.values())
    assert (
        f"{len(EXPECTED)} files, with\nprovenance): {len(EXPECTED) - refused} converted, {refused} refused"
        in text
    )
