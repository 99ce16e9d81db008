"""`wsconn validate` on real files, directories and stdin: the report format, the exit status, JSON output,
Secrets in the same input, and the API server's own semantics where they are subtle (unit tests of
`admission`; the e2e parity test compares with the real API server)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.tools.conftest import REPO, Run
from wsconn.tools import admission

WORKSPACE = {
    "subscriptionId": "00000000-1111-2222-3333-444444444444",
    "resourceGroup": "rg-ml",
    "name": "ws-prod",
}


def connection(name: str = "team-git", **spec: Any) -> dict[str, Any]:
    body = {
        "workspace": WORKSPACE,
        "authType": "PAT",
        "category": "Git",
        "target": "https://github.com/contoso",
        "credentials": {"pat": {"secretKeyRef": {"name": "git", "key": "pat"}}},
    }
    body.update(spec)
    return {
        "apiVersion": "azureml.dev/v1alpha1",
        "kind": "WorkspaceConnection",
        "metadata": {"name": name},
        "spec": {k: v for k, v in body.items() if v is not None},
    }


def secret(name: str = "git", **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "stringData": data}


def write(path: Path, *docs: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return path


def test_examples_are_valid(wsconn: Run) -> None:
    run = wsconn("validate", str(REPO / "examples"))
    assert run.returncode == 0, run.stdout
    assert run.stdout.strip().endswith("all valid")


def test_one_line_per_problem_with_file_and_document_index(wsconn: Run, tmp_path: Path) -> None:
    path = write(
        tmp_path / "team.yaml",
        secret(pat="ghp_value"),
        None,
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ignored"}, "data": {"x": "1"}},
        connection(authType="AAD"),
        connection("literal", credentials={"pat": {"value": "ghp_plaintext"}}),
        connection("good"),
    )
    run = wsconn("validate", str(path))
    assert run.returncode == 1
    lines = run.stdout.splitlines()
    assert lines[:-1] == [
        f"{path}:3: spec.credentials.pat: Forbidden: credentials.pat is only valid with authType PAT",
        f"{path}:4: spec.credentials.pat.value: Forbidden: pat is a secret: reference a Secret with "
        "secretKeyRef instead of a literal value",
    ]
    assert lines[-1] == "3 WorkspaceConnection(s) in 6 document(s): 2 problem(s) in 2 document(s)"
    assert "ghp_plaintext" not in run.stdout
    assert "ghp_value" not in run.stdout


def test_directories_recursively_and_stdin(wsconn: Run, tmp_path: Path) -> None:
    write(tmp_path / "a" / "one.yaml", connection("one"))
    write(tmp_path / "a" / "b" / "two.yml", connection("two", authType="Kerberos"))
    (tmp_path / "a" / "notes.txt").write_text("not: a manifest")
    piped = yaml.safe_dump(connection("three", expiryTime="next tuesday"))
    run = wsconn("validate", str(tmp_path / "a"), "-", stdin=piped)
    assert run.returncode == 1
    assert run.stdout.splitlines()[:-1] == [
        f'{tmp_path}/a/b/two.yml:0: spec.authType: Unsupported value: "Kerberos": supported values: '
        + ", ".join(f'"{a}"' for a in _crd_enum("authType")),
        f"{tmp_path}/a/b/two.yml:0: <nil>: " + admission.RULES_NOT_CHECKED,
        '-:0: spec.expiryTime: Invalid value: "next tuesday": spec.expiryTime in body must be of type date-time: '
        '"next tuesday"',
        "-:0: <nil>: " + admission.RULES_NOT_CHECKED,
    ]


def _crd_enum(field: str) -> list[str]:
    enum: list[str] = admission.openapi_schema()["properties"]["spec"]["properties"][field]["enum"]
    return enum


def test_json_output_for_bots(wsconn: Run, tmp_path: Path) -> None:
    path = write(
        tmp_path / "x.yaml",
        connection(
            category="Pinecone",
            azureApiVersion="2024-04-01",
            authType="ApiKey",
            credentials={"key": {"secretKeyRef": {"name": "k", "key": "k"}}},
        ),
    )
    run = wsconn("validate", "--output", "json", str(path))
    assert run.returncode == 1
    report = json.loads(run.stdout)
    assert report["valid"] is False
    assert report["workspaceConnections"] == 1
    (problem,) = report["problems"]
    assert problem["source"] == str(path)
    assert problem["document"] == 0
    assert problem["resource"] == "team-git"
    assert problem["field"] == "spec.category"
    assert problem["stage"] == "apply"
    assert "is not available in azureApiVersion 2024-04-01" in problem["message"]


def test_valid_input_exits_zero_with_json(wsconn: Run, tmp_path: Path) -> None:
    path = write(tmp_path / "x.yaml", connection(), secret(pat="ghp_x"))
    run = wsconn("validate", "-o", "json", str(path))
    assert run.returncode == 0
    assert json.loads(run.stdout) == {
        "documents": 2,
        "workspaceConnections": 1,
        "valid": True,
        "problems": [],
    }


def test_secret_keys_in_the_same_input_are_checked(wsconn: Run, tmp_path: Path) -> None:
    path = write(
        tmp_path / "x.yaml",
        secret(other="v"),
        connection(),
        secret("empty", pat="  "),
        connection("empty-value", credentials={"pat": {"secretKeyRef": {"name": "empty", "key": "pat"}}}),
        connection(
            "elsewhere", credentials={"pat": {"secretKeyRef": {"name": "not-in-input", "key": "pat"}}}
        ),
    )
    run = wsconn("validate", str(path))
    assert run.returncode == 1
    assert run.stdout.splitlines()[:-1] == [
        f"{path}:1: spec.credentials.pat.secretKeyRef: SecretKeyNotFound: Secret 'git' has no key 'pat'",
        f"{path}:3: spec.credentials.pat.secretKeyRef: SecretValueEmpty: key 'pat' of Secret 'empty' is empty",
    ]


def test_what_only_the_operator_refuses(wsconn: Run, tmp_path: Path) -> None:
    """The CRD has no bound on metadata keys; the operator's parser does (InvalidSpec)."""
    path = write(tmp_path / "x.yaml", connection(metadata={"k" * 300: "v"}))
    run = wsconn("validate", "-o", "json", str(path))
    (problem,) = json.loads(run.stdout)["problems"]
    assert problem["stage"] == "operator"
    assert problem["field"] == "spec.metadata"
    assert problem["message"] == "InvalidSpec: keys must be at most 256 characters"


def test_unreadable_input_is_a_problem(wsconn: Run, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(connection()) + "---\nkey: [unclosed\n")
    run = wsconn("validate", str(bad), str(tmp_path / "missing.yaml"))
    assert run.returncode == 1
    lines = run.stdout.splitlines()
    assert lines[0].startswith(f"{bad}:1: <nil>: not valid YAML (line ")
    assert lines[1].startswith(f"{tmp_path}/missing.yaml:0: <nil>: cannot read:")


def test_strict_unknown_fields(wsconn: Run, tmp_path: Path) -> None:
    path = write(tmp_path / "x.yaml", {**connection(), "extra": 1})
    run = wsconn("validate", str(path))
    assert run.stdout.splitlines()[0] == f'{path}:0: extra: strict decoding error: unknown field "extra"'


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("2030-01-01T00:00:00Z", True),
        ("2030-01-01T00:00:00.123456789+02:00", True),
        ("2030-01-01t00:00:00z", False),
        ("2030-13-01T00:00:00Z", False),
        ("2030-02-30T00:00:00Z", False),
        ("2030-01-01T24:00:00Z", False),
        ("2030-01-01T00:00:00", False),
        ("2030-01-01 00:00:00Z", False),
        ("2030-01-01T00:00:00+24:00", False),
    ],
)
def test_date_time_as_the_api_server_reads_it(value: str, valid: bool) -> None:
    assert admission.is_rfc3339(value) is valid


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        ("plain", '"plain"'),
        ('a"b\\c', '"a\\"b\\\\c"'),
        ("é\x03\n\x9a", '"é\\x03\\n\\u009a"'),
        ("\U000e0001", '"\\U000e0001"'),
    ],
)
def test_values_are_quoted_as_go_quotes_them(text: str, quoted: str) -> None:
    assert admission.go_quote(text) == quoted


def test_whole_floats_are_sent_as_integers_by_kubectl() -> None:
    assert admission.as_sent({"a": [5.0, 1.5, 1e30], 3: True}) == {"a": [5, 1.5, 1e30], "3": True}


def test_nulls_are_pruned_from_objects_only() -> None:
    schema = admission.openapi_schema()["properties"]["spec"]
    pruned = admission.drop_nulls(
        {"target": None, "sharedUserList": ["a", None], "metadata": {"k": None}}, schema
    )
    assert pruned == {"sharedUserList": ["a", None], "metadata": {}}


def test_message_expressions_are_used_as_the_api_server_uses_them(wsconn: Run, tmp_path: Path) -> None:
    """The CRD's messageExpression names the one category, not the whole group of missing ones (cel-python
    answers a concatenation as a plain str, which was once taken for a failed expression)."""
    path = write(tmp_path / "c.yaml", connection(category="Pinecone", azureApiVersion="2024-04-01"))
    run = wsconn("validate", str(path))
    assert run.returncode == 1
    assert (
        f"{path}:0: spec.category: Invalid value: category Pinecone is not available in azureApiVersion "
        "2024-04-01\n" in run.stdout
    ), run.stdout
