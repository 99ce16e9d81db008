"""Every example payload of the contract is accepted on its api-version and read back as the example shows.

The examples are embedded (spec_examples.json, with the source of each). The payloads found in the pinned
contract (the published pages' sample requests in `seeds/`, the request bodies CONNECTIONS.md quotes) are
also checked to be among the embedded ones and are sent as they are, so the copy cannot go stale unnoticed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from tests.emulator.support import API_VERSIONS, CONNECTIONS
from wsconn_testbed.emulator.client import EmulatorClient

EXAMPLES: list[dict[str, Any]] = json.loads(Path(__file__).with_name("spec_examples.json").read_text())[
    "examples"
]
CONTRACT = resources.files("wsconn.arm.contract")
READ_ONLY = ("group", "createdByWorkspaceArmId")


def _cases() -> Iterator[Any]:
    for example in EXAMPLES:
        versions = API_VERSIONS if example["api_version"] == "*" else (example["api_version"],)
        for version in versions:
            yield pytest.param(example, version, id=f"{example['id']}@{version}")


def _ensure_workspace(emu: EmulatorClient, path: str) -> None:
    parts = path.strip("/").split("/")
    emu.add_workspace(parts[1], parts[3], parts[7])


def _assert_shows(answer: dict[str, Any], expected: dict[str, Any]) -> None:
    for key in ("id", "name", "type"):
        if key in expected:
            assert answer[key] == expected[key]
    assert answer["properties"].get("credentials") is None
    for key, value in expected["properties"].items():
        if key != "credentials":
            assert answer["properties"][key] == value, key


@pytest.mark.parametrize(("example", "api_version"), list(_cases()))
def test_spec_example_is_accepted(emu: EmulatorClient, example: dict[str, Any], api_version: str) -> None:
    path = example["path"]
    _ensure_workspace(emu, path)
    if example["kind"] == "put":
        sent = example["request"]
        answer = emu.arm("PUT", path, api_version, json=sent)
    elif example["kind"] == "patch":
        assert emu.arm("PUT", path, api_version, json=example["base"]).status_code == 200
        sent = example["request"]
        answer = emu.arm("PATCH", path, api_version, json=sent)
    else:
        properties = {k: v for k, v in example["response"]["properties"].items() if k not in READ_ONLY}
        sent = {"properties": properties}
        answer = emu.arm("PUT", path, api_version, json=sent)
    assert answer.status_code == 200, answer.text
    _assert_shows(answer.json(), example["response"])

    read = emu.arm("GET", path, api_version)
    assert read.status_code == 200
    _assert_shows(read.json(), example["response"])

    secrets = emu.arm("POST", f"{path}/listsecrets", api_version)
    assert secrets.status_code == 200
    expected = example.get("secrets", sent["properties"].get("credentials"))
    assert secrets.json()["properties"].get("credentials") == expected


def _pinned_payloads() -> list[tuple[str, str, dict[str, Any]]]:
    """(source, api-version, request body) of every PUT payload in the pinned contract: the seeds' sample
    requests and the JSON request bodies quoted in CONNECTIONS.md."""
    found: list[tuple[str, str, dict[str, Any]]] = []
    decoder = json.JSONDecoder()
    for seed in sorted((s for s in CONTRACT.joinpath("seeds").iterdir() if s.name.endswith(".txt")), key=str):
        text = seed.read_text()
        for match in re.finditer(r"PUT https://\S+?/connections/[^\s?{}]+\?api-version=([\w-]+)", text):
            payload, _ = decoder.raw_decode(text[match.end() :].lstrip())
            found.append((seed.name, match[1], payload))
    digest = CONTRACT.joinpath("CONNECTIONS.md").read_text()
    for match in re.finditer(r"`(\{\"properties\":.*?\})`", digest):
        for version in API_VERSIONS:
            found.append(("CONNECTIONS.md", version, json.loads(match[1])))
    return found


def test_pinned_payloads_are_embedded_and_accepted(emu: EmulatorClient) -> None:
    payloads = _pinned_payloads()
    assert len(payloads) >= 4  # two seeds, and CONNECTIONS.md's body on both api-versions
    embedded = {
        (version, json.dumps(example.get("request"), sort_keys=True))
        for example in EXAMPLES
        for version in (API_VERSIONS if example["api_version"] == "*" else (example["api_version"],))
    }
    for i, (source, version, payload) in enumerate(payloads):
        assert (version, json.dumps(payload, sort_keys=True)) in embedded, (
            f"{source} is not in spec_examples.json"
        )
        answer = emu.arm("PUT", f"{CONNECTIONS}/pinned-{i}", version, json=payload)
        assert answer.status_code == 200, (source, answer.text)
