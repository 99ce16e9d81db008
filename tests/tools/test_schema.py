"""`wsconn schema`: a valid draft-07 JSON Schema that accepts the examples and catches the rule-only mistakes
a schema converted from the CRD misses (the issue's 0 of 3), per api-version on request."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.tools.conftest import REPO, Run
from tests.tools.test_validate import connection
from wsconn.api import contract
from wsconn.tools.schema import NOT_EXPRESSED


def _schema(wsconn: Run, *args: str) -> jsonschema.Draft7Validator:
    run = wsconn("schema", *args)
    assert run.returncode == 0, run.stderr
    schema = json.loads(run.stdout)
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def _connections(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d and d["kind"] == "WorkspaceConnection"]


def test_examples_are_valid(wsconn: Run) -> None:
    validator = _schema(wsconn)
    for path in sorted((REPO / "examples").glob("*.yaml")):
        for doc in _connections(path):
            assert not list(validator.iter_errors(doc)), path.name


RULE_ONLY = {
    "literal secret": connection(credentials={"pat": {"value": "ghp_plaintext"}}),
    "credential of another authType": connection(
        credentials={"pat": {"secretKeyRef": {"name": "g", "key": "p"}}, "clientId": {"value": "x"}}
    ),
    "category the api-version lacks": connection(category="Pinecone", azureApiVersion="2024-04-01"),
    "required credential missing": connection(
        authType="ServicePrincipal", credentials={"clientId": {"value": "x"}}
    ),
    "both secretKeyRef and value": connection(
        credentials={"pat": {"value": "a", "secretKeyRef": {"name": "g", "key": "p"}}}
    ),
    "metadata.name that is no connection name": connection("ab"),
    "a field the default api-version lacks": connection(value="{}", valueFormat="JSON"),
    "a field the pinned api-version lacks": connection(
        peRequirement="Required", azureApiVersion="2025-09-01"
    ),
    "unknown field": {**connection(), "extra": True},
}


@pytest.mark.parametrize("case", sorted(RULE_ONLY))
def test_rule_only_mistakes_are_caught(wsconn: Run, case: str) -> None:
    assert list(_schema(wsconn).iter_errors(RULE_ONLY[case])), case


def test_per_api_version_schema_narrows_categories(wsconn: Run) -> None:
    oldest = contract.API_VERSIONS[0]
    narrowed = _schema(wsconn, "--api-version", oldest)
    newer_only = next(c for c in contract.all_categories() if c not in contract.categories(oldest))
    assert list(narrowed.iter_errors(connection(category=newer_only)))
    assert not list(narrowed.iter_errors(connection(category="Git", azureApiVersion=oldest)))
    assert list(narrowed.iter_errors(connection(azureApiVersion=contract.API_VERSIONS[-1])))
    assert not list(_schema(wsconn).iter_errors(connection(category=newer_only)))


def test_what_it_cannot_express_is_said(wsconn: Run) -> None:
    run = wsconn("schema")
    comment = json.loads(run.stdout)["$comment"]
    assert all(rule in comment for rule in NOT_EXPRESSED)
    assert "immutable" in comment


def test_unknown_api_version_is_a_usage_error(wsconn: Run) -> None:
    run = wsconn("schema", "--api-version", "2023-01-01")
    assert run.returncode == 2
    assert "2023-01-01" in run.stderr
