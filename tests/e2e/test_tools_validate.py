"""`wsconn validate` agrees with the real API server: every manifest the bad-input suite feeds it, the
examples, and a fixed-seed draw of the fuzz suite's manifests are written to files, checked by the installed
`wsconn validate --output json`, and created on the API server with `kubectl apply`'s semantics (strict field
validation; a server-side dry run, so nothing is stored). Both must give the same verdict, refuse the same
fields and, where the API server states it, with the same message.

What offline validation cannot see, and so is not compared: a transition rule (the immutable connectionName
and workspace need the stored object; the bad-input suite's rename test is an update)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
from hypothesis import given
from kubernetes import client
from kubernetes.client import ApiException

from tests.e2e.amlconn import GROUP, PLURAL, VERSION, Workspace, custom, load_examples, retarget
from tests.e2e.test_bad_input import REFUSED, _objects, stalled_inputs
from tests.e2e.test_fuzz import fixed_seed, specs
from wsconn.tools.admission import as_sent
from wsconn.tools.manifests import dump, read_documents

FUZZ_EXAMPLES = int(os.environ.get("WSCONN_PARITY_EXAMPLES", "150"))
UNKNOWN_FIELD = re.compile(r'unknown field "([^"]+)"')


@dataclass(frozen=True)
class Verdict:
    """Accepted (no refusals) or refused, with (field, message) pairs; field None for the whole object."""

    refusals: frozenset[tuple[str | None, str]]

    @property
    def fields(self) -> frozenset[str | None]:
        return frozenset(f for f, _ in self.refusals)


def _server_verdict(api: client.CustomObjectsApi, namespace: str, body: dict[str, Any]) -> Verdict:
    try:
        api.create_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, body, dry_run="All", field_validation="Strict"
        )
    except ApiException as exc:
        status = json.loads(exc.body or "{}")
        causes = (status.get("details") or {}).get("causes") or []
        if causes:
            # The API server names the object as a whole "<nil>" (Go's nil field path).
            return Verdict(
                frozenset(
                    (c.get("field") if c.get("field") != "<nil>" else None, c["message"]) for c in causes
                )
            )
        message = status.get("message", "")
        fields = UNKNOWN_FIELD.findall(message)
        if not fields:
            raise AssertionError(f"unexpected refusal {exc.status}: {message}") from None
        return Verdict(frozenset((f, f'strict decoding error: unknown field "{f}"') for f in fields))
    return Verdict(frozenset())


def _inputs(workspace: Workspace, namespace: str) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """(file stem, objects) for every manifest the bad-input suite applies, then every example."""
    for case in sorted(REFUSED):
        spec, _ = REFUSED[case]
        yield f"refused-{case}", _objects(workspace, namespace, f"bad-{case}", **spec)
    yield "renamed-first", _objects(workspace, namespace, "renamed", connectionName="first-name")
    for name, objects in stalled_inputs(workspace, namespace).items():
        yield f"stalled-{name}", objects
    for example in load_examples():
        objects = retarget(example, workspace, name=example.connection["metadata"]["name"], api_version=None)
        for obj in objects:
            obj["metadata"]["namespace"] = namespace
        yield f"example-{example.file.removesuffix('.yaml')}", objects


def _fuzz_manifests(workspace: Workspace, namespace: str) -> list[dict[str, Any]]:
    """The fuzz suite's strategy, drawn with a fixed seed."""
    drawn: list[dict[str, Any]] = []

    @fixed_seed(FUZZ_EXAMPLES)
    @given(specs(workspace))
    def draw(spec: dict[str, Any]) -> None:
        name = f"fuzz-{len(drawn):04d}"
        drawn.append(
            {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "WorkspaceConnection",
                "metadata": {"name": name, "namespace": namespace},
                "spec": spec,
            }
        )

    draw()
    return drawn


def _corpus(directory: Path, workspace: Workspace, namespace: str) -> Path:
    """Every compared manifest, written to files under `directory`."""
    directory.mkdir()
    for stem, objects in _inputs(workspace, namespace):
        (directory / f"{stem}.yaml").write_text(dump(objects))
    (directory / "fuzz.yaml").write_text(dump(_fuzz_manifests(workspace, namespace)))
    return directory


def _wsconn(*args: str) -> subprocess.CompletedProcess[str]:
    """The installed console script."""
    command = [str(Path(sys.executable).with_name("wsconn")), *args]
    return subprocess.run(command, capture_output=True, text=True, check=False)


def test_validate_agrees_with_the_api_server(
    crd: None, kube: client.ApiClient, namespace: str, workspace: Workspace, tmp_path: Path
) -> None:
    manifests = _corpus(tmp_path / "manifests", workspace, namespace)
    run = _wsconn("validate", "--output", "json", str(manifests))
    report = json.loads(run.stdout)
    assert run.returncode == (1 if report["problems"] else 0), run.stderr
    offline: dict[tuple[str, int], set[tuple[str | None, str]]] = {}
    stalls: dict[tuple[str, int], set[str]] = {}
    for problem in report["problems"]:
        key = (Path(problem["source"]).name, problem["document"])
        if problem["stage"] == "apply":
            offline.setdefault(key, set()).add((problem["field"], problem["message"]))
        else:
            assert problem["stage"] == "operator", problem
            stalls.setdefault(key, set()).add(problem["message"].split(":", 1)[0])

    api = custom(kube)
    documents, errors = read_documents([str(manifests)])
    assert not errors
    compared = verdicts = fields = messages = refused = 0
    disagreements, wordings = [], []
    for doc in documents:
        if not doc.is_connection:
            continue
        key = (Path(doc.source).name, doc.index)
        server = _server_verdict(api, namespace, as_sent(doc.body))
        mine = Verdict(frozenset(offline.get(key, set())))
        compared += 1
        refused += bool(server.refusals)
        verdicts += bool(server.refusals) == bool(mine.refusals)
        fields += server.fields == mine.fields
        messages += server.refusals == mine.refusals
        if server.fields != mine.fields:
            disagreements.append((key, sorted(server.refusals, key=str), sorted(mine.refusals, key=str)))
        elif server.refusals != mine.refusals:
            wordings.append(
                (
                    key,
                    sorted(server.refusals - mine.refusals, key=str),
                    sorted(mine.refusals - server.refusals, key=str),
                )
            )
    print(
        f"validate parity: {compared} manifests compared ({refused} refused by the API server): "
        f"verdicts agree {verdicts}/{compared}, fields agree {fields}/{compared}, "
        f"messages agree {messages}/{compared}"
    )
    for found in (disagreements, wordings):
        assert not found, "\n".join(f"{k}:\n  server {s}\n  wsconn {m}" for k, s, m in found)
    assert refused >= len(REFUSED), "the bad-input suite's refusals were among the compared manifests"
    # The operator's side for the suite's accepted inputs: the Secret mistakes it stalls on are caught too.
    assert stalls.get(("stalled-missing-key.yaml", 1)) == {"SecretKeyNotFound"}
    assert stalls.get(("stalled-empty-value.yaml", 1)) == {"SecretValueEmpty"}


def test_json_schema_agrees_with_the_api_server(
    crd: None, kube: client.ApiClient, namespace: str, workspace: Workspace, tmp_path: Path
) -> None:
    """kubeconform-style: each WorkspaceConnection checked against `wsconn schema`'s JSON Schema (draft-07,
    strict); the verdict must be the API server's, for everything but the transition rules (not compared)."""
    manifests = _corpus(tmp_path / "manifests", workspace, namespace)
    run = _wsconn("schema")
    assert run.returncode == 0, run.stderr
    schema = json.loads(run.stdout)
    jsonschema.Draft7Validator.check_schema(schema)
    validator = jsonschema.Draft7Validator(schema)
    api = custom(kube)
    documents, _ = read_documents([str(manifests)])
    compared = agreed = refused = 0
    disagreements = []
    for doc in documents:
        if not doc.is_connection:
            continue
        sent = as_sent(doc.body)
        server = _server_verdict(api, namespace, sent)
        errors = sorted(e.message for e in validator.iter_errors(sent))
        compared += 1
        refused += bool(server.refusals)
        agreed += bool(server.refusals) == bool(errors)
        if bool(server.refusals) != bool(errors):
            disagreements.append((doc.source, doc.index, sorted(server.refusals, key=str), errors[:5]))
    print(
        f"JSON Schema parity: {compared} manifests compared ({refused} refused by the API server): "
        f"verdicts agree {agreed}/{compared}"
    )
    assert not disagreements, "\n".join(map(str, disagreements))
